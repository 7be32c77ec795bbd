// KV "revoked:" entries: a tombstone per revoked token (RFC 7009), keyed by the token's SHA-256 and
// kept until the token expires. Token checks read it in the same bulk read as the token's cached
// claims, so a check that read D1 just before a revocation and fills the cache just after cannot
// bring the token back: the tombstone wins over any cached claims.

export const KV_PREFIX = 'revoked:'

export function tombstoneKey(hash: string): string {
  return KV_PREFIX + hash
}

/** Writes the tombstone until `exp` (epoch seconds), at least KV's minimum TTL of 60 s. */
export async function writeTombstone(kv: KVNamespace, hash: string, exp: number, now: Date): Promise<void> {
  const ttl = Math.max(60, exp - Math.floor(now.getTime() / 1000) + 60)
  await kv.put(tombstoneKey(hash), '1', { expirationTtl: ttl })
}
