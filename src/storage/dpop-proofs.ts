// The DPoP proofs seen lately (RFC 9449 §11.1): each proof's hashed (key, jti) pair, for as long
// as the proof could be accepted, so that a replayed proof is refused.
//
// Two places remember a pair: this isolate's memory, and the Cache API's default cache, which every
// isolate of one Cloudflare location (data center) shares. A replay within that location is
// refused; a replay sent to another location within the proof's window is not (SECURITY.md
// "DPoP"). KV would reach further only after its propagation delay, about the proof's whole
// window, for a write per request. Checking and remembering are two steps: two requests carrying
// one proof that arrive at the same moment at two isolates may both pass. On workers.dev the
// Cache API keeps nothing, and only this isolate's memory holds.

/** Pairs this isolate remembers at most; the oldest go first. */
const MEMORY_LIMIT = 10_000
const memory = new Map<string, number>()

/**
 * The replay store for proofs at `origin` (the issuer's: cache keys are URLs of the Worker's own
 * host, under a path no route serves). `cache` is `caches.default`, or null where there is none.
 */
export function createProofReplayStore(cache: Cache | null, origin: string) {
  return {
    /** True the first time `key` is claimed within `ttlSeconds`; false for a replay. */
    async claim(key: string, ttlSeconds: number): Promise<boolean> {
      const now = Date.now()
      if ((memory.get(key) ?? 0) > now) return false
      const url = `${origin}/.dpop-proofs/${key}`
      if (cache && (await cache.match(url))) return false
      remember(key, now + ttlSeconds * 1000, now)
      await cache?.put(
        url,
        new Response('1', { headers: { 'cache-control': `max-age=${ttlSeconds}` } }),
      )
      return true
    },
  }
}

function remember(key: string, until: number, now: number): void {
  if (memory.size >= MEMORY_LIMIT) {
    for (const [old, expires] of memory) if (expires <= now) memory.delete(old)
    while (memory.size >= MEMORY_LIMIT) memory.delete(memory.keys().next().value!)
  }
  memory.set(key, until)
}
