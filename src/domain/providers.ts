// Managing service providers (document 001's provider_id): their ids, and what disabling,
// enabling or deleting one does to the tokens of its clients, as clients.ts does for one client.
import * as z from 'zod'
import { AppError, conflict, notFound } from '../errors.ts'
import { listClientIdsOfProvider } from '../storage/clients.ts'
import {
  deleteProviderCascade,
  findProviderById,
  insertProvider,
  setProviderQuotas,
  setProviderSendShards,
  updateProvider,
  type NewProvider,
  type Provider,
  type QuotaOverrides,
} from '../storage/providers.ts'
import { findServiceById } from '../storage/services.ts'
import { insertSubscription, type Subscription } from '../storage/subscriptions.ts'
import {
  endClientTokens,
  markClientRecordsChanging,
  publishClientRecords,
  type ClientRecordDeps,
} from './client-records.ts'
import { waitOutRevocationSecond } from './revocation.ts'
import { isPositiveInt64 } from '../utils/int64.ts'

/** Provider ids are int64 (document 001), carried as decimal strings so none is ever rounded. */
export const ProviderIdText = z
  .union([z.string(), z.number()])
  // decisions.md D11: JSON.parse has already rounded a number past 2^53 − 1; refuse it, never
  // store another id.
  .refine(
    (v) => typeof v === 'string' || Number.isSafeInteger(v),
    'a JSON number id must be at most 2^53 − 1; send larger ids as strings',
  )
  .transform((v) => String(v))
  .refine(isPositiveInt64, 'must be a positive int64')

export async function requireProvider(db: D1Database, id: string): Promise<Provider> {
  const provider = ProviderIdText.safeParse(id).success ? await findProviderById(db, id) : null
  if (!provider) throw notFound(`No provider ${id}.`)
  return provider
}

/** Creates a provider; 409 `conflict` when its id is taken. */
export async function createProvider(db: D1Database, input: NewProvider): Promise<Provider> {
  const id = await insertProvider(db, input)
  if (!id) throw conflict(`Provider ${input.id} already exists.`)
  return (await findProviderById(db, id))!
}

export type ProviderChanges = Partial<
  Pick<Provider, 'name' | 'status' | 'sendShards' | 'sandbox'>
> & {
  /** The quotas to set (null: back to the default); those left out stay as they are. */
  quotas?: Partial<QuotaOverrides>
}

/**
 * Renames, disables or enables a provider, sets its send quotas or shards, or puts it in or out of
 * the sandbox (docs/sending.md "Sandbox": its messages accepted from then on). Disabling it ends the tokens
 * its clients hold (and its queued deliveries are withheld by the consumer); enabling it lets
 * their new tokens through.
 */
export async function changeProvider(
  deps: ClientRecordDeps,
  provider: Provider,
  changes: ProviderChanges,
): Promise<void> {
  const { quotas, sendShards, ...fields } = changes
  const statusChanges = changes.status !== undefined && changes.status !== provider.status
  const shardsChange = sendShards !== undefined && sendShards !== provider.sendShards
  // Its clients' records carry the provider's status and its number of send shards, which
  // /Services routes by (decisions.md D48): they lag from before it is written.
  const clientIds =
    statusChanges || shardsChange ? await listClientIdsOfProvider(deps.db, provider.id) : []
  await markClientRecordsChanging(deps, clientIds)
  if (quotas) await setProviderQuotas(deps.db, provider.id, { ...provider.quotas, ...quotas })
  if (sendShards) await setProviderSendShards(deps.db, provider.id, sendShards)
  if (fields.name || fields.status || fields.sandbox !== undefined) {
    await updateProvider(deps.db, provider.id, fields)
  }
  if (clientIds.length === 0) return
  if (changes.status === 'disabled' && statusChanges) {
    await endClientTokens(deps, clientIds)
    return
  }
  const clients = await publishClientRecords(deps, clientIds)
  if (statusChanges) {
    const latest = Math.max(0, ...clients.map((client) => client.tokensValidAfter))
    await waitOutRevocationSecond(deps.now, latest)
  }
}

/**
 * Deletes a provider with everything it owns and ends its clients' tokens. Document 001's table:
 * deleting a root object is a 409 `conflict` while it has children, unless `cascade` is asked for.
 */
export async function removeProvider(
  deps: ClientRecordDeps,
  provider: Provider,
  cascade: boolean,
): Promise<void> {
  const clientIds = await listClientIdsOfProvider(deps.db, provider.id)
  if (clientIds.length > 0 && !cascade) {
    throw conflict(
      `Provider ${provider.id} still has ${clientIds.length} client(s); ` +
        'delete them first or add ?cascade=true.',
    )
  }
  await markClientRecordsChanging(deps, clientIds)
  await deleteProviderCascade(deps.db, provider.id)
  await endClientTokens(deps, clientIds)
}

/**
 * Subscribes a provider to a service, which issues the service_token /Services checks: 400
 * `unknown_service` for a service that does not exist, 409 `conflict` when already subscribed.
 */
export async function subscribeProvider(
  db: D1Database,
  provider: Provider,
  serviceId: number,
): Promise<Subscription> {
  if (!(await findServiceById(db, serviceId))) {
    throw new AppError('unknown_service', `There is no service ${serviceId}.`, {
      errors: [{ path: 'service_id', message: 'no such service' }],
    })
  }
  const subscription = await insertSubscription(db, provider.id, serviceId)
  if (!subscription) {
    throw conflict(
      `Provider ${provider.id} already subscribes to service ${serviceId}; ` +
        'rotate its token instead.',
    )
  }
  return subscription
}
