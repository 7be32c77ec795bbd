// KV "token:" entries: the verified claims of a token Portero issued, keyed by the
// token's SHA-256, never the token itself. A hit saves the signature check; whether the token is
// still active comes from its tombstone and its client's record, read in the same bulk read.
import { sha256Hex } from '../encoding.ts'
import { rememberFill } from './edge-state.ts'
import type { AccessTokenClaims } from '../token-claims.ts'
import { epochSeconds } from '../utils/time.ts'

export const KV_PREFIX = 'token:'
/** KV refuses a shorter expirationTtl: tokens with less life left are not cached. */
export const MIN_TTL_SECONDS = 60

/** `kid` is the key that signed the token: a hit is refused once that key leaves the set. */
export type CachedToken = { kid: string; claims: AccessTokenClaims }

/** The hex SHA-256 every KV entry about one token is keyed by. */
export function tokenHash(token: string): Promise<string> {
  return sha256Hex(token)
}

export function tokenCacheKey(hash: string): string {
  return KV_PREFIX + hash
}

/** Caches until the token expires; skipped when less than KV's minimum TTL is left. */
export async function writeCachedToken(
  kv: KVNamespace,
  hash: string,
  entry: CachedToken,
  now: Date,
): Promise<void> {
  const ttl = entry.claims.exp - epochSeconds(now)
  if (ttl < MIN_TTL_SECONDS) return
  await kv.put(tokenCacheKey(hash), JSON.stringify(entry), { expirationTtl: ttl })
  rememberFill(tokenCacheKey(hash), entry)
}
