// KV "login-lock:" entries: a client id or IP that failed too many logins is refused until the
// entry expires. Keys are hashes, never the raw client id or address.
//
// KV is eventually consistent: another location may keep accepting attempts for up to a minute
// after a lock is written. The rate-limit binding bounds attempts per location meanwhile.
import { sha256Hex } from '../encoding.ts'

export const KV_PREFIX = 'login-lock:'
/** KV's minimum expirationTtl; also the rate limiter's period. */
export const LOCK_SECONDS = 60

export type LockSubject = `client:${string}` | `ip:${string}`

type LockValue = { until: number }

/** Seconds until the first of `subjects` is unlocked, or 0 if none is locked. */
export async function findLock(kv: KVNamespace, subjects: LockSubject[], now: Date): Promise<number> {
  if (subjects.length === 0) return 0
  const keys = await Promise.all(subjects.map(async (s) => KV_PREFIX + (await sha256Hex(s))))
  // One bulk read for all subjects: one round trip on every login, whatever the count.
  const values = await kv.get<LockValue>(keys, 'json')
  const nowSeconds = Math.floor(now.getTime() / 1000)
  return [...values.values()].reduce<number>((longest, value) => {
    const left = value ? value.until - nowSeconds : 0
    return Math.max(longest, left)
  }, 0)
}

export async function writeLock(kv: KVNamespace, subject: LockSubject, now: Date): Promise<void> {
  const until = Math.floor(now.getTime() / 1000) + LOCK_SECONDS
  await kv.put(KV_PREFIX + (await sha256Hex(subject)), JSON.stringify({ until } satisfies LockValue), {
    expirationTtl: LOCK_SECONDS,
  })
}
