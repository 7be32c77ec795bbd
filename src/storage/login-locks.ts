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

/** The KV keys of these subjects' locks: hashes, never the raw client id or address. */
export function lockKeys(subjects: readonly LockSubject[]): Promise<string[]> {
  return Promise.all(subjects.map(async (s) => KV_PREFIX + (await sha256Hex(s))))
}

/** Seconds until the last of the locks read under `keys` ends, or 0 if none is locked. */
export function lockedSeconds(values: ReadonlyMap<string, unknown>, keys: readonly string[], now: Date): number {
  const nowSeconds = Math.floor(now.getTime() / 1000)
  return keys.reduce((longest, key) => {
    const value = values.get(key) as LockValue | null | undefined
    return Math.max(longest, value ? value.until - nowSeconds : 0)
  }, 0)
}

export async function writeLock(kv: KVNamespace, subject: LockSubject, now: Date): Promise<void> {
  const until = Math.floor(now.getTime() / 1000) + LOCK_SECONDS
  await kv.put(KV_PREFIX + (await sha256Hex(subject)), JSON.stringify({ until } satisfies LockValue), {
    expirationTtl: LOCK_SECONDS,
  })
}
