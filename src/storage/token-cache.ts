// KV "token:" entries: the canonical state of a token Portero verified (SPEC 8), keyed by the
// token's SHA-256, never the token itself. The per-caller introspection view is computed on read.
//
// KV is eventually consistent across locations: a revocation deletes the entry here at once, but a
// copy read elsewhere may live on for up to 60 s (KV's edge cache). README "Revocation" says so.
import { sha256Hex } from '../encoding.ts'
import type { AccessTokenClaims } from '../domain/tokens.ts'
import { clientTokenMarkerKey, type ClientTokenMarker } from './client-token-markers.ts'

export const KV_PREFIX = 'token:'
/** KV refuses a shorter expirationTtl: tokens with less life left are not cached. */
export const MIN_TTL_SECONDS = 60

/** `kid` is the key that signed the token: a hit is refused once that key leaves the set. */
export type CachedTokenState = { kid: string; claims: AccessTokenClaims } & (
  | { active: true; username: string }
  | { active: false; reason: 'revoked' | 'client_disabled' | 'client_deleted' }
)

export function tokenCacheKey(token: string): Promise<string> {
  return sha256Hex(token).then((hash) => KV_PREFIX + hash)
}

export function readCachedTokenState(kv: KVNamespace, key: string): Promise<CachedTokenState | null> {
  return kv.get<CachedTokenState>(key, 'json')
}

/**
 * A token's entry and its client's marker, in one KV bulk read: every check needs both, and one
 * read is one round trip instead of two.
 */
export async function readCachedTokenStateAndMarker(
  kv: KVNamespace,
  key: string,
  clientId: string,
): Promise<{ cached: CachedTokenState | null; marker: ClientTokenMarker | null }> {
  const markerKey = clientTokenMarkerKey(clientId)
  const entries = await kv.get<CachedTokenState | ClientTokenMarker>([key, markerKey], 'json')
  return {
    cached: (entries.get(key) ?? null) as CachedTokenState | null,
    marker: (entries.get(markerKey) ?? null) as ClientTokenMarker | null,
  }
}

/** Caches until the token expires; skipped when less than KV's minimum TTL is left. */
export async function writeCachedTokenState(
  kv: KVNamespace,
  key: string,
  state: CachedTokenState,
  now: Date,
): Promise<void> {
  const ttl = state.claims.exp - Math.floor(now.getTime() / 1000)
  if (ttl < MIN_TTL_SECONDS) return
  await kv.put(key, JSON.stringify(state), { expirationTtl: ttl })
}

export function deleteCachedTokenState(kv: KVNamespace, key: string): Promise<void> {
  return kv.delete(key)
}
