// Used JWT ids ("jti"): a client assertion (RFC 7523 §3 item 7) or a DPoP proof (RFC 9449 §11.1)
// is accepted once. Three places remember a use, each for as long as the JWT could be accepted
// (docs/tokens.md "private_key_jwt", "DPoP"):
//
//   the isolate's memory  at once, for every later request this isolate serves;
//   the Cache API         at once for every isolate of the Cloudflare location (caches.default is
//                         one per data center); it has no effect on *.workers.dev hosts;
//   KV "jti:"             read in the login's one bulk read, written after the response: other
//                         locations see it within KV's propagation time (60 s or so).
//
// An assertion may live up to an hour and is remembered in all three for all of it: what a replay
// elsewhere could do is bounded by KV's propagation (and a failed KV write), not by its life. A DPoP proof, which lives two minutes at most and comes with every request,
// is remembered in the first two only: KV would reach further only after about the proof's whole
// life, for a write per request (SECURITY.md "DPoP").
import { sha256Hex } from '../encoding.ts'

export const KV_PREFIX = 'jti:'
/** KV refuses an expirationTtl under 60 s. */
const MIN_KV_TTL_SECONDS = 60
/** Bounds the isolate's memory; the Cache API and KV still remember what it forgets. */
const MEMORY_MAX_ENTRIES = 10_000
/**
 * Cache API keys are URLs of the Worker's own host (the cache is the zone's); no route serves this
 * path and Portero never fetches it.
 */
const cacheUrl = (origin: string, key: string) =>
  `${origin}/_used-jti/${key.slice(KV_PREFIX.length)}`

const memory = new Map<string, number>()

/** The key naming one use: the client and its jti, hashed (both come from strangers). */
export async function usedJtiKey(clientId: string, jti: string): Promise<string> {
  return KV_PREFIX + (await sha256Hex(`${clientId}\n${jti}`))
}

/** True when this isolate has seen the use, or another isolate of the location put it in cache. */
export async function seenHere(origin: string, key: string, now: number): Promise<boolean> {
  const until = memory.get(key)
  if (until !== undefined && until > now) return true
  const cache = locationCache()
  if (!cache) return false
  try {
    return (await cache.match(cacheUrl(origin, key))) !== undefined
  } catch {
    // The cache is an accelerator: KV still answers.
    return false
  }
}

/**
 * Claims the use in this isolate: false when it was claimed already (two requests racing with one
 * assertion). Synchronous, so no other request of this isolate runs in between.
 */
export function claimInIsolate(key: string, untilMs: number, now: number): boolean {
  const until = memory.get(key)
  if (until !== undefined && until > now) return false
  if (memory.size >= MEMORY_MAX_ENTRIES) {
    for (const [k, u] of memory) if (u <= now) memory.delete(k)
    if (memory.size >= MEMORY_MAX_ENTRIES) memory.clear()
  }
  memory.set(key, untilMs)
  return true
}

/** Records the use for the location (Cache API), now. */
export async function rememberInLocation(
  origin: string,
  key: string,
  ttlSeconds: number,
): Promise<void> {
  const cache = locationCache()
  if (!cache) return
  try {
    const headers = { 'cache-control': `max-age=${Math.max(1, Math.ceil(ttlSeconds))}` }
    await cache.put(cacheUrl(origin, key), new Response('1', { headers }))
  } catch {
    // KV remembers it too.
  }
}

/** Records the use everywhere (KV); meant to run after the response. */
export async function rememberEverywhere(
  kv: KVNamespace,
  key: string,
  ttlSeconds: number,
): Promise<void> {
  const expirationTtl = Math.max(MIN_KV_TTL_SECONDS, Math.ceil(ttlSeconds))
  await kv.put(key, '1', { expirationTtl })
}

/**
 * Claims a use for this isolate and the location (memory, then the Cache API): false when either
 * had it already. Checking and remembering are two steps, so two requests with one JWT arriving
 * at the same moment at two isolates may both pass.
 */
export async function claimInLocation(
  origin: string,
  key: string,
  ttlSeconds: number,
  now = Date.now(),
): Promise<boolean> {
  if (await seenHere(origin, key, now)) return false
  if (!claimInIsolate(key, now + ttlSeconds * 1000, now)) return false
  await rememberInLocation(origin, key, ttlSeconds)
  return true
}

/** Forgets what this isolate remembers (tests of the location and KV layers). */
export function forgetUsedJtisInIsolate(): void {
  memory.clear()
}

function locationCache(): Cache | null {
  return typeof caches === 'undefined' ? null : caches.default
}
