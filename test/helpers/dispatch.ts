// A provider ready to dispatch (a sending client, a service it subscribes to, and a recipient),
// and POST /Services as it sends: the request, the message's status until it settles, and what
// the stand-in received.
import { env } from 'cloudflare:workers'
import { dispatchQueueIndex, sendShardName } from '../../src/domain/admission.ts'
import { DISPATCH_QUEUES } from '../../src/config.ts'
import { readOne } from '../../src/storage/batch.ts'
import { insertMessage, type NewDelivery } from '../../src/storage/messages.ts'
import { shardDatabaseIn } from '../../src/storage/shard-database.ts'
import { insertRecipient } from '../../src/storage/recipients.ts'
import { insertService, type ServiceParameter } from '../../src/storage/services.ts'
import { insertSubscription } from '../../src/storage/subscriptions.ts'
import type { StandIn } from '../../stand-in/app.ts'
import type { Channel } from '../../src/channel.ts'
import { createClient, type TestClient } from './clients.ts'
import { call, postJson } from './http.ts'
import { eventually, tokenFor } from './tokens.ts'
import { testDelivery, testMessage } from './messages.ts'

export type Sender = TestClient & {
  token: string
  serviceId: number
  serviceToken: string
  userId: string
}

export async function createSender(
  options: {
    providerId?: string
    phone?: string | null
    fcmTokens?: string[]
    requiredParameters?: ServiceParameter[]
    /** Let the service send to E.164 numbers outside the directory (off by default). */
    directNumbers?: boolean
    /** The service's channels (SMS and FCM by default). */
    allowedChannels?: Channel[]
  } = {},
): Promise<Sender> {
  const client = await createClient({
    providerId: options.providerId,
    allowedScopes: ['services:send', 'recipients:manage', 'tokens:introspect'],
  })
  const serviceId = (await insertService(env.DB, {
    name: `service ${crypto.randomUUID()}`,
    kind: 'notification',
    requiredParameters: options.requiredParameters ?? ['destination'],
    allowedChannels: options.allowedChannels ?? ['sms', 'fcm'],
    directNumbers: options.directNumbers ?? false,
  }))!
  const { serviceToken } = (await insertSubscription(env.DB, client.providerId, serviceId))!
  const userId = `user-${crypto.randomUUID()}`
  await insertRecipient(env.DB, client.providerId, userId, {
    phone: options.phone === undefined ? '+5491155550000' : options.phone,
    fcmTokens: options.fcmTokens ?? [`device-${crypto.randomUUID()}`],
    smsOptOut: false,
    fcmOptOut: false,
  })
  return { ...client, token: await tokenFor(client), serviceId, serviceToken, userId }
}

/** Document 001's /Services example, with this sender's ids. */
export function example001(sender: Sender, numericProviderId = true) {
  return {
    provider_id: numericProviderId ? Number(sender.providerId) : sender.providerId,
    service_token: sender.serviceToken,
    service_id: sender.serviceId,
    parameters: {
      destination: sender.userId,
      notification: {
        titulo: 'Clínica Dr. Nano. Turno',
        mensaje: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
        canal: 'SMS',
      },
      advertisement: {
        titulo: 'Autos usados CHECHO',
        mensaje: 'Lleve su auto usado con Financiameiento ...',
        canal: 'FCM',
      },
    },
  }
}

/** A /Services body of `sender` to its own recipient, with `parameters` beside the destination. */
export function servicesRequest<P extends object>(sender: Sender, parameters: P) {
  return {
    provider_id: Number(sender.providerId),
    service_token: sender.serviceToken,
    service_id: sender.serviceId,
    parameters: { destination: sender.userId, ...parameters },
  }
}

/** A valid request of `sender`: one SMS notification whose message carries `marker`. */
export function smsRequest(sender: Sender, marker: string = crypto.randomUUID()) {
  return servicesRequest(sender, {
    notification: { title: 'Turno', message: `Oftalmólogo 9:15 ${marker}`, channel: 'SMS' },
  })
}

/** POST /Services with the caller's token; `body` is sent as JSON unless it is a string. */
export function dispatch(
  caller: { token: string },
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return postJson('/Services', body, { authorization: `Bearer ${caller.token}`, ...headers })
}

export type DeliveryView = {
  id: string
  part: 'notification' | 'advertisement'
  channel: Channel
  to: string
  status: string
  attempts: number
  last_error: string | null
  provider_message_id: string | null
  picture_url: string | null
  updated_at: string
  sent_at: string | null
}

export type MessageView = {
  id: string
  status: string
  provider_id: string
  service_id: number
  destination: string
  created_at: string
  deliveries: DeliveryView[]
}

/** GET /Services/messages/{id} with the caller's token. */
export function readMessage(caller: { token: string }, id: string): Promise<Response> {
  return call(`/Services/messages/${id}`, { headers: { authorization: `Bearer ${caller.token}` } })
}

/**
 * Polls the message's status until the consumer is done with every delivery (sent, failed or
 * dead), and returns it: no send then outlives the test's stand-in.
 */
export function settle(caller: { token: string }, id: string): Promise<MessageView> {
  const read = async () => (await (await readMessage(caller, id)).json()) as MessageView
  const settled = (m: MessageView) => m.status !== 'queued' && m.status !== 'sending'
  return eventually(read, settled, { timeoutMs: 15_000 })
}

/** The SMS texts the stand-in accepted for `phone`. */
export function smsTo(standIn: StandIn, phone: string): string[] {
  return standIn.state.sms
    .filter((r) => (r.body as { To?: string }).To === phone && r.status === 201)
    .map((r) => (r.body as { Body: string }).Body)
}

/** The FCM messages the stand-in accepted for the registration token `token`. */
export function pushesTo(standIn: StandIn, token: string): unknown[] {
  return standIn.state.fcm
    .filter((r) => r.status === 200 && JSON.stringify(r.body).includes(token))
    .map((r) => r.body)
}

/** The dispatch queues' bindings, in wrangler.toml's order (decisions.md D49). */
export const DISPATCH_BINDINGS = DISPATCH_QUEUES.map(([binding]) => binding)

/** The binding of the dispatch queue that carries a delivery's job (decisions.md D49). */
export const dispatchBindingOf = (deliveryId: string) =>
  DISPATCH_BINDINGS[dispatchQueueIndex(deliveryId, DISPATCH_BINDINGS.length)]!

/** The send shard of each delivery writeOutbox wrote. */
const shardOfDeliveries = new Map<string, string>()

/** The send shard that holds a delivery writeOutbox wrote (its dispatch job names it). */
export function shardOfDelivery(deliveryId: string): string {
  const shard = shardOfDeliveries.get(deliveryId)
  if (!shard) throw new Error(`no delivery ${deliveryId} was written by writeOutbox`)
  return shard
}

/** The database of the send shard that holds a delivery writeOutbox wrote. */
export const deliveryDb = (deliveryId: string): D1Database =>
  shardDatabaseIn(env.SEND_SHARDS, shardOfDelivery(deliveryId))

/** The dispatch job of a delivery writeOutbox wrote, as POST /Services enqueues it. */
export const dispatchJob = (deliveryId: string) => ({
  deliveryId,
  shard: shardOfDelivery(deliveryId),
})

/**
 * Writes deliveries to the outbox of the sender's send shard as POST /Services does, without
 * enqueueing them: the test hands them to the consumer (or the sweeper) itself. Returns their ids.
 */
export async function writeOutbox(
  sender: Sender,
  parts: Partial<NewDelivery>[],
  createdAt = new Date(),
): Promise<string[]> {
  const deliveries = parts.map((p) => testDelivery(p))
  const message = testMessage(sender.providerId, {
    serviceId: sender.serviceId,
    destination: sender.userId,
    createdAt: createdAt.toISOString(),
  })
  const shard = sendShardName(sender.providerId, null)
  const db = shardDatabaseIn(env.SEND_SHARDS, shard)
  await readOne(db, insertMessage(db, message, deliveries))
  for (const d of deliveries) shardOfDeliveries.set(d.id, shard)
  return deliveries.map((d) => d.id)
}

/** A fresh mobile number, so a test finds its own SMS among all the stand-in received. */
export function freshPhone(): string {
  const digits = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b % 10).join('')
  return `+54911${digits}`
}

/** A sender with its own phone number and FCM token. */
export function freshSender(options: Parameters<typeof createSender>[0] = {}): Promise<Sender> {
  return createSender({
    phone: freshPhone(),
    fcmTokens: [`device-${crypto.randomUUID()}`],
    ...options,
  })
}

/**
 * How many outbox rows (messages and deliveries) a provider's send shards hold (its first, or
 * each of its `shards`): 0 after a refused request.
 */
export async function outboxRows(providerId: string, shards = 1): Promise<number> {
  const indexes = shards > 1 ? Array.from({ length: shards }, (_, i) => i) : [null]
  const counts = await Promise.all(
    indexes.map((index) =>
      shardDatabaseIn(env.SEND_SHARDS, sendShardName(providerId, index))
        .prepare('SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM deliveries) AS n')
        .first<{ n: number }>(),
    ),
  )
  return counts.reduce((sum, row) => sum + row!.n, 0)
}
