// KV "revoked:" entries: a tombstone per revoked token (RFC 7009), keyed by a hash of its jti and
// kept until the token expires. Token checks read it in the same bulk read as the token's cached
// claims, so a check that read D1 just before a revocation and fills the cache just after cannot
// bring the token back: the tombstone wins over any cached claims. Keyed by jti, not by the token,
// so that the revoked_tokens rows alone can rebuild them (the scheduled backfill).
import { sha256Hex } from '../encoding.ts'
import { forgetEdgeState } from './edge-state.ts'
import { epochSeconds } from '../utils/time.ts'

export const KV_PREFIX = 'revoked:'

export async function tombstoneKey(jti: string): Promise<string> {
  return KV_PREFIX + (await sha256Hex(jti))
}

/**
 * Writes the tombstone until `exp` (epoch seconds) and a minute more, at least KV's minimum 60 s.
 */
export async function writeTombstone(
  kv: KVNamespace,
  jti: string,
  exp: number,
  now: Date,
): Promise<void> {
  const ttl = Math.max(60, exp - epochSeconds(now) + 60)
  await kv.put(await tombstoneKey(jti), '1', { expirationTtl: ttl })
  forgetEdgeState()
}
