// Whether an access token Portero issued is active (docs/api.md "Edge first"): its signature and
// claims, then its tombstone and its client's edge record, all read from KV in one bulk read. D1 is
// read only when a client's record is not at the edge yet, and that record is written back after
// the response.
import { AppError, orUnavailable } from '../errors.ts'
import type { SigningKeySet } from './signing-keys.ts'
import type { AccessTokenClaims } from '../token-claims.ts'
import { mintedUnderEndedGeneration } from './credential-generations.ts'
import { assertNotExpired, screenAccessToken, verifyAccessToken } from './tokens.ts'
import {
  clientRecordKeys,
  fillClientRecord,
  pickClientRecord,
  type ClientRecord,
  type ClientRecordKeys,
} from '../storage/client-records.ts'
import { findClientsByIds } from '../storage/clients.ts'
import { readEdgeState } from '../storage/edge-state.ts'
import { findRevokedJtis } from '../storage/revoked-tokens.ts'
import {
  tokenCacheKey,
  tokenHash,
  writeCachedToken,
  type CachedToken,
} from '../storage/token-cache.ts'
import { tombstoneKey, writeTombstone } from '../storage/token-tombstones.ts'

export type TokenStateDeps = {
  db: D1Database
  cache: KVNamespace
  keys: SigningKeySet
  issuer: string
  now: Date
  /** How long this isolate may answer from its memory of recent reads (storage/edge-state.ts). */
  memoryMs: number
  /** Runs work after the response is sent (cache fills). */
  defer: (task: () => Promise<unknown>) => void
}

export type ActiveToken = {
  claims: AccessTokenClaims
  username: string
  /** Its client requires DPoP (RFC 9449 §5.2): its proofs must carry a server nonce. */
  dpopRequired: boolean
  /** Its provider's number of send shards (decisions.md D48); 1 without a provider. */
  sendShards: number
}

export type TokenCheck = { ok: true; token: ActiveToken } | { ok: false; error: AppError }

type Inactive =
  | 'revoked'
  | 'client_disabled'
  | 'client_deleted'
  | 'ended_generation'
  | 'scope_withdrawn'
  | 'unbound'

const INACTIVE_DETAIL: Record<Inactive, string> = {
  revoked: 'The access token has been revoked.',
  client_disabled: 'The client this access token was issued to is disabled.',
  client_deleted: 'The client this access token was issued to no longer exists.',
  ended_generation: 'The access token was issued under credentials its client no longer has.',
  scope_withdrawn: 'The access token carries a scope its client no longer holds.',
  unbound: 'The client this access token was issued to gets DPoP-bound tokens only.',
}

/**
 * Checks a token Portero issued: signature, type, issuer, expiry, revocation and client state.
 * Returns its claims and the client's name; throws AppError 401 `invalid_token` or `token_expired`,
 * 503 `temporarily_unavailable` when storage fails.
 */
export async function checkAccessToken(deps: TokenStateDeps, token: string): Promise<ActiveToken> {
  const [result] = await checkAccessTokens(deps, [token])
  if (!result!.ok) throw result!.error
  return result!.token
}

/**
 * Checks several tokens (an introspection's caller and subject) with one KV bulk read and, for
 * clients whose record is not at the edge, one D1 read. A token refused by its shape or key is
 * refused before any storage is read.
 */
export async function checkAccessTokens(
  deps: TokenStateDeps,
  tokens: readonly string[],
): Promise<TokenCheck[]> {
  const screened = await Promise.all(tokens.map((token) => screen(deps, token)))
  const keys = screened.flatMap((s) => (s.ok ? s.keys : []))
  const edge = await orUnavailable(readEdgeState(deps.cache, keys, deps.memoryMs))

  const verified = await Promise.all(screened.map((s) => (s.ok ? verify(deps, s, edge) : s)))
  // Clients whose record is not at the edge: one D1 read for all of them, filled back afterwards.
  const missing = [
    ...new Set(verified.flatMap((v) => (v.ok && !v.record ? [v.cached.claims.client_id] : []))),
  ]
  const cold = missing.length > 0 ? await readColdState(deps, missing, verified) : null

  return verified.map((v): TokenCheck => {
    if (!v.ok) return v
    const { claims } = v.cached
    const record = v.record ?? cold!.records.get(claims.client_id)!
    const revoked = v.tombstone || (cold?.revoked.has(claims.jti) ?? false)
    const reason = inactiveReason(record, claims, revoked)
    if (reason) return { ok: false, error: new AppError('invalid_token', INACTIVE_DETAIL[reason]) }
    const { name, dpopBoundAccessTokens, providerSendShards } = record.client!
    return {
      ok: true,
      token: {
        claims,
        username: name,
        dpopRequired: dpopBoundAccessTokens === true,
        sendShards: providerSendShards ?? 1,
      },
    }
  })
}

type Screened =
  | {
      ok: true
      token: string
      hash: string
      keys: string[]
      /** The tombstone's key, from the jti the payload claims (verification decides it is ours). */
      tombstone: string
      claimedClientId: string | null
      recordKeys: ClientRecordKeys | null
    }
  | { ok: false; error: AppError }

async function screen(deps: TokenStateDeps, token: string): Promise<Screened> {
  try {
    const { claimedClientId, claimedJti } = screenAccessToken(deps.keys, token)
    // The claimed client id becomes a key only if it could be a client's id, and only hashed.
    const [hash, tombstone, recordKeys] = await Promise.all([
      tokenHash(token),
      tombstoneKey(claimedJti),
      claimedClientId === null ? null : clientRecordKeys(claimedClientId),
    ])
    const keys = [tokenCacheKey(hash), tombstone]
    if (recordKeys) keys.push(recordKeys.published, recordKeys.filled)
    return { ok: true, token, hash, keys, tombstone, claimedClientId, recordKeys }
  } catch (error) {
    return { ok: false, error: asAppError(error) }
  }
}

type Verified =
  | { ok: true; cached: CachedToken; tombstone: boolean; record: ClientRecord | null }
  | { ok: false; error: AppError }

async function verify(
  deps: TokenStateDeps,
  s: Extract<Screened, { ok: true }>,
  edge: Map<string, unknown>,
): Promise<Verified> {
  try {
    let cached = (edge.get(tokenCacheKey(s.hash)) ?? null) as CachedToken | null
    if (cached) {
      // A key dropped from the set (say, after a compromise) takes its tokens with it at once.
      if (!deps.keys.verifying.has(cached.kid)) {
        const detail = 'The access token was not signed by a key of this issuer.'
        throw new AppError('invalid_token', detail)
      }
      // The entry's own exp is checked on every read: KV may keep it up to a minute longer.
      assertNotExpired(cached.claims, deps.now)
    } else {
      const { claims, kid } = await verifyAccessToken(deps.keys, s.token, {
        issuer: deps.issuer,
        now: deps.now,
      })
      const entry: CachedToken = { kid, claims }
      cached = entry
      // Claims are a function of the token and our keys alone: this fill can never be stale.
      deps.defer(() => writeCachedToken(deps.cache, s.hash, entry, deps.now))
    }
    // The claims are the token's own payload, so the record read is the one its client_id names.
    const named = s.recordKeys !== null && s.claimedClientId === cached.claims.client_id
    const record = named ? pickClientRecord(edge, s.recordKeys!) : null
    return { ok: true, cached, tombstone: edge.get(s.tombstone) != null, record }
  } catch (error) {
    return { ok: false, error: asAppError(error) }
  }
}

async function readColdState(deps: TokenStateDeps, clientIds: string[], verified: Verified[]) {
  const active = verified.flatMap((v) => (v.ok && !v.record ? [v] : []))
  const jtis = active.map((v) => v.cached.claims.jti)
  const [clients, revoked] = await orUnavailable(
    Promise.all([findClientsByIds(deps.db, clientIds), findRevokedJtis(deps.db, jtis)]),
  )
  const records = new Map<string, ClientRecord>()
  for (const id of clientIds) {
    const client = clients.find((c) => c.id === id) ?? null
    // A missing client has no D1 row to say since when: none of its tokens is active anyway.
    const record: ClientRecord = { client, tokensValidAfter: client?.tokensValidAfter ?? 0 }
    records.set(id, record)
    deps.defer(() => fillClientRecord(deps.cache, id, record))
  }
  // A revocation in D1 is final: writing its tombstone back can never be stale.
  for (const v of active) {
    const { jti, exp } = v.cached.claims
    if (revoked.has(jti)) deps.defer(() => writeTombstone(deps.cache, jti, exp, deps.now))
  }
  return { records, revoked }
}

/**
 * Why a token is inactive by its client's record as it is now, or null. Beyond `tokensValidAfter`,
 * the token is held to what the record allows now (decisions.md D34): a token minted from a stale
 * record at another location dies when this one's record catches up. Audiences are held to it by
 * the generation (narrowing them begins one); whether `aud` names Portero is decisions.md D17's.
 */
function inactiveReason(
  record: ClientRecord,
  claims: AccessTokenClaims,
  revoked: boolean,
): Inactive | null {
  const { client } = record
  if (!client) return 'client_deleted'
  if (client.status !== 'active' || client.providerStatus === 'disabled') return 'client_disabled'
  if (revoked || claims.iat < record.tokensValidAfter) return 'revoked'
  if (mintedUnderEndedGeneration(client, claims)) return 'ended_generation'
  const scopes = claims.scope.split(' ').filter(Boolean)
  if (scopes.some((scope) => !client.allowedScopes.includes(scope))) return 'scope_withdrawn'
  // RFC 9449 §5.2: such a client is never issued a bearer token.
  if (client.dpopBoundAccessTokens === true && !claims.cnf?.jkt) return 'unbound'
  return null
}

function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error
  throw error
}
