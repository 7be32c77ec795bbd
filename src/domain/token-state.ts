// The canonical state of an access token (SPEC 7, 8): verified signature and claims, then whether
// it was revoked or its client disabled since. Cached in KV so a repeat check costs no D1 query.
import { AppError } from '../errors.ts'
import type { SigningKeySet } from './signing-keys.ts'
import { assertNotExpired, assertTokenLength, verifyAccessToken, type AccessTokenClaims } from './tokens.ts'
import { findTokenStanding } from '../storage/revoked-tokens.ts'
import {
  readCachedTokenStateAndMarker,
  tokenCacheKey,
  writeCachedTokenState,
  type CachedTokenState,
} from '../storage/token-cache.ts'

export type TokenStateDeps = {
  db: D1Database
  cache: KVNamespace
  keys: SigningKeySet
  issuer: string
  now: Date
  /** Runs work after the response is sent (the cache write). */
  defer: (work: Promise<unknown>) => void
}

export type ActiveToken = { claims: AccessTokenClaims; username: string }

const INACTIVE_DETAIL: Record<Exclude<CachedTokenState, { active: true }>['reason'], string> = {
  revoked: 'The access token has been revoked.',
  client_disabled: 'The client this access token was issued to is disabled.',
  client_deleted: 'The client this access token was issued to no longer exists.',
}

const MARKER_REASON = {
  active: 'revoked',
  disabled: 'client_disabled',
  deleted: 'client_deleted',
} as const

/**
 * Checks a token Portero issued: signature, type, issuer, expiry, revocation and client state.
 * Returns its claims and the client's name; throws AppError 401 `invalid_token` or `token_expired`.
 */
export async function checkAccessToken(deps: TokenStateDeps, token: string): Promise<ActiveToken> {
  assertTokenLength(token)
  const key = await tokenCacheKey(token)
  const { cached, marker } = await readCachedTokenStateAndMarker(deps.cache, key, unverifiedClientId(token))
  let state = cached
  if (state) {
    // A key dropped from the set (say, after a compromise) takes its tokens with it at once.
    if (!deps.keys.verifying.has(state.kid)) {
      throw new AppError(401, 'invalid_token', 'The access token was not signed by a key of this issuer.')
    }
    // The client may have changed since this entry was cached; its marker says so without D1.
    const stale = marker && (marker.status !== 'active' || state.claims.iat < marker.tokensValidAfter)
    if (state.active && stale) {
      state = { active: false, reason: MARKER_REASON[marker.status], kid: state.kid, claims: state.claims }
    }
  } else {
    state = await loadTokenState(deps, token)
    deps.defer(writeCachedTokenState(deps.cache, key, state, deps.now))
  }
  // The entry's own exp is checked on every read: KV may keep it up to a minute longer.
  assertNotExpired(state.claims, deps.now)
  if (!state.active) throw new AppError(401, 'invalid_token', INACTIVE_DETAIL[state.reason])
  return { claims: state.claims, username: state.username }
}

async function loadTokenState(deps: TokenStateDeps, token: string): Promise<CachedTokenState> {
  const { claims, kid } = await verifyAccessToken(deps.keys, token, { issuer: deps.issuer, now: deps.now })
  const standing = await findTokenStanding(deps.db, claims.client_id, claims.jti)
  const inactive = (reason: 'revoked' | 'client_disabled' | 'client_deleted') =>
    ({ active: false, reason, kid, claims }) as const
  if (!standing) return inactive('client_deleted')
  if (standing.revoked || claims.iat < standing.tokensValidAfter) return inactive('revoked')
  if (standing.clientStatus !== 'active') return inactive('client_disabled')
  return { active: true, kid, claims, username: standing.clientName }
}

/** The client_id a token claims, read without verification: only to pick which KV entry to read. */
function unverifiedClientId(token: string): string {
  try {
    const payload = token.split('.')[1] ?? ''
    const json = atob(payload.replaceAll('-', '+').replaceAll('_', '/'))
    const clientId = (JSON.parse(json) as { client_id?: unknown }).client_id
    return typeof clientId === 'string' ? clientId : ''
  } catch {
    return ''
  }
}
