// Managing OAuth clients: creation with a generated or imported secret (shown once), secret
// rotation with an optional grace period, and the token consequences of disabling or deleting.
import { conflict, fieldError, notFound } from '../errors.ts'
import { readClientRecord } from '../storage/client-records.ts'
import { findProviderById } from '../storage/providers.ts'
import {
  deleteClient,
  findClientById,
  insertClient,
  updateClient,
  updateClientSecretDigest,
  type Client,
  type ClientChanges,
} from '../storage/clients.ts'
import { insertClientKeys } from '../storage/client-keys.ts'
import { replaceTrustedIssuers } from '../storage/trusted-issuers.ts'
import { checkPublicKeys, MAX_CLIENT_KEYS } from './client-keys.ts'
import { checkTrustedIssuers, type TrustedIssuerInput } from './trusted-issuers.ts'
import {
  endClientTokens,
  markClientRecordsChanging,
  publishClientRecords,
  renewClientCredentials,
} from './client-records.ts'
import { waitOutRevocationSecond } from './revocation.ts'
import { SCOPES } from './scopes.ts'
import {
  checkImportedSecret,
  digestClientSecret,
  generateClientSecret,
  isLocalIssuer,
} from './secrets.ts'
import { epochSeconds } from '../utils/time.ts'

/** `issuer` is config ISSUER: a local one may import the source documents' example secrets. */
export type ClientDeps = {
  db: D1Database
  cache: KVNamespace
  pepper: CryptoKey
  issuer: string
  now: Date
}

/** Scopes only operator-level clients (no provider) may hold. */
const OPERATOR_SCOPES: string[] = [SCOPES.admin, SCOPES.introspectAny]
export const MAX_GRACE_SECONDS = 7 * 24 * 3600

export type NewClientInput = {
  id?: string
  providerId: string | null
  name: string
  allowedScopes: string[]
  audiences: string[]
  tokenLifetime?: number
  dpopBoundAccessTokens?: boolean
  /** An existing secret, for clients migrated from another system (decisions.md D6). */
  importedSecret?: string
  /** Public keys for private_key_jwt (a JWK set's `keys`). */
  jwks?: unknown[]
  /** Platforms whose tokens authenticate the client (decisions.md D38). */
  trustedIssuers?: TrustedIssuerInput[]
  /**
   * False: no secret at all, the client authenticates with its keys or trusted issuers only. True
   * by default.
   */
  withSecret?: boolean
}

function checkScopes(providerId: string | null, scopes: string[]): void {
  const forbidden = providerId === null ? [] : scopes.filter((s) => OPERATOR_SCOPES.includes(s))
  if (forbidden.length > 0) {
    const names = forbidden.join(', ')
    const detail = `A provider's client may not hold ${names}.`
    throw fieldError('allowed_scopes', `${names} is for operator clients only`, detail)
  }
}

/**
 * Creates a client and returns it with its secret, which is never shown again (null when it has
 * none: keys only).
 */
export async function createClient(
  deps: ClientDeps,
  input: NewClientInput,
): Promise<{ client: Client; secret: string | null }> {
  if (input.providerId !== null && !(await findProviderById(deps.db, input.providerId))) {
    throw fieldError('provider_id', 'no such provider', `There is no provider ${input.providerId}.`)
  }
  checkScopes(input.providerId, input.allowedScopes)
  if (input.importedSecret !== undefined) {
    const weakness = checkImportedSecret(input.importedSecret, {
      local: isLocalIssuer(deps.issuer),
    })
    if (weakness) {
      throw fieldError('client_secret', weakness, `The imported secret ${weakness}.`)
    }
  }
  const withSecret = input.withSecret ?? true
  if (!withSecret && input.importedSecret !== undefined) {
    throw fieldError('client_secret', 'a client without a secret imports none')
  }
  if (!withSecret && !input.jwks?.length && !input.trustedIssuers?.length) {
    const detail = 'A client without a secret needs keys or trusted issuers: send jwks.'
    throw fieldError('jwks', 'required when with_secret is false', detail)
  }
  if ((input.jwks?.length ?? 0) > MAX_CLIENT_KEYS) {
    throw fieldError('jwks.keys', `a client holds at most ${MAX_CLIENT_KEYS} keys`)
  }
  const keys = await checkPublicKeys(input.jwks ?? [], [], deps.now, 'jwks.keys')
  const trusted = await checkTrustedIssuers(input.trustedIssuers ?? [], deps, 'trusted_issuers')
  const secret = withSecret ? (input.importedSecret ?? generateClientSecret()) : null
  const id = input.id ?? `client-${crypto.randomUUID()}`
  // The id may have belonged to a deleted client, whose unexpired tokens name it in client_id: no
  // token issued before this client existed is its.
  const previous = await readClientRecord(deps.cache, id)
  const tokensValidAfter = Math.max(epochSeconds(deps.now), previous?.tokensValidAfter ?? 0)
  await markClientRecordsChanging(deps, [id])
  const inserted = await insertClient(deps.db, {
    id,
    providerId: input.providerId,
    name: input.name,
    // No secret: an empty digest, which no secret's digest equals (migration 0013).
    secretDigest: secret === null ? '' : await digestClientSecret(deps.pepper, secret),
    allowedScopes: input.allowedScopes,
    audiences: input.audiences,
    tokenLifetime: input.tokenLifetime,
    dpopBoundAccessTokens: input.dpopBoundAccessTokens,
    tokensValidAfter,
    // A generation no token of a deleted namesake is in (decisions.md D34).
    credentialGenerations: [deps.now.getTime()],
  })
  if (!inserted) {
    // The database decides: ids are unique regardless of case (migration 0007), names per provider.
    throw conflict(
      `A client with id "${id}" (in any case), or named "${input.name}" in this provider, ` +
        'already exists.',
    )
  }
  await insertClientKeys(deps.db, id, keys)
  if (trusted.length > 0) await replaceTrustedIssuers(deps.db, id, trusted)
  await publishClientRecords(deps, [id])
  await waitOutRevocationSecond(deps.now, tokensValidAfter)
  return { client: (await findClientById(deps.db, id))!, secret }
}

/**
 * Changes a client. Disabling it, narrowing its scopes or audiences, or requiring DPoP ends the
 * tokens it holds (they carry the old rights); enabling it lets its new tokens through.
 */
export async function changeClient(
  deps: ClientDeps,
  id: string,
  changes: ClientChanges,
): Promise<Client> {
  const client = await requireClient(deps.db, id)
  if (changes.allowedScopes) checkScopes(client.providerId, changes.allowedScopes)
  await markClientRecordsChanging(deps, [id])
  if ((await updateClient(deps.db, id, changes)) === 'conflict') {
    throw conflict(`Another client of this provider is named "${changes.name}".`)
  }
  const disabled = changes.status === 'disabled' && client.status !== 'disabled'
  // Its tokens may be bearer tokens: from now on it holds DPoP-bound ones only.
  const bound = changes.dpopBoundAccessTokens === true && client.dpopBoundAccessTokens !== true
  if (
    disabled ||
    bound ||
    narrows(client.allowedScopes, changes.allowedScopes) ||
    narrows(client.audiences, changes.audiences)
  ) {
    const tokensValidAfter = await endClientTokens(deps, [id])
    // A narrowed client logs in on: its new tokens must outlive the end of its old ones.
    if (!disabled) await waitOutRevocationSecond(deps.now, tokensValidAfter)
  } else {
    await publishClientRecords(deps, [id])
    if (changes.status === 'active' && client.status !== 'active') {
      await waitOutRevocationSecond(deps.now, client.tokensValidAfter)
    }
  }
  return requireClient(deps.db, id)
}

/** Whether `next` takes away something `current` has. */
function narrows(current: readonly string[], next: readonly string[] | undefined): boolean {
  return next !== undefined && current.some((value) => !next.includes(value))
}

export type Rotation = {
  /** How long the old secret keeps working, in seconds (0: it stops at once). */
  graceSeconds: number
  /** End every token the client holds now. */
  revokeTokens: boolean
}

/** Gives a client a new secret (returned once). */
export async function rotateClientSecret(
  deps: ClientDeps,
  id: string,
  rotation: Rotation,
): Promise<{ secret: string; previousSecretValidUntil: number | null }> {
  await requireClient(deps.db, id)
  const secret = generateClientSecret()
  const { graceSeconds } = rotation
  const graceUntil = graceSeconds > 0 ? epochSeconds(deps.now) + graceSeconds : null
  await markClientRecordsChanging(deps, [id])
  await updateClientSecretDigest(
    deps.db,
    id,
    await digestClientSecret(deps.pepper, secret),
    graceUntil,
  )
  if (rotation.revokeTokens) {
    // The new secret is handed out only once its tokens can outlive the revocation.
    await waitOutRevocationSecond(deps.now, await endClientTokens(deps, [id]))
  } else {
    await renewClientCredentials(deps, [id])
  }
  return { secret, previousSecretValidUntil: graceUntil }
}

/**
 * Ends every token the client holds now and changes nothing else: the way to end a leaked token of
 * a client that has keys only, which a secret rotation would give a secret. Its next login gets a
 * token that is live.
 */
export async function revokeClientTokens(deps: ClientDeps, id: string): Promise<void> {
  await requireClient(deps.db, id)
  await markClientRecordsChanging(deps, [id])
  await waitOutRevocationSecond(deps.now, await endClientTokens(deps, [id]))
}

/** Deletes a client; its tokens are inactive from the next check on. */
export async function removeClient(deps: ClientDeps, id: string): Promise<void> {
  await requireClient(deps.db, id)
  await markClientRecordsChanging(deps, [id])
  await deleteClient(deps.db, id)
  // The record now says "no such client", and keeps when its tokens ended for a later namesake.
  await endClientTokens(deps, [id])
}

export async function requireClient(db: D1Database, id: string): Promise<Client> {
  const client = await findClientById(db, id)
  if (!client) throw notFound(`No client "${id}".`)
  return client
}
