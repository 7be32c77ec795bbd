// KV "login-lock:" entries: an address, or a client id from an address, that failed too often is
// refused until the entry expires. Keys are hashes, never the raw client id or address:
//   login-lock:ip:<sha256(address)>
//   login-lock:pair:<sha256(client id)>:<sha256(address)>
// so that a client's pair locks share a prefix and an unlock can list them.
//
// KV is eventually consistent: another location may keep accepting attempts for up to a minute
// after a lock is written. The rate-limit bindings bound attempts per location meanwhile.
import { sha256Hex } from '../encoding.ts'
import { forgetEdgeState } from './edge-state.ts'
import { epochSeconds } from '../utils/time.ts'

export const KV_PREFIX = 'login-lock:'
/** KV's minimum expirationTtl; also the rate limiters' period. */
export const LOCK_SECONDS = 60

/** What a lock is on: an address (already grouped, see addressGroup), or a client from one. */
export type LockSubject = { address: string; clientId?: string }

type LockValue = { until: number }

/** The KV key of each subject, in order: read them in one bulk `get` with anything else needed. */
export async function lockKeys(subjects: LockSubject[]): Promise<string[]> {
  return Promise.all(subjects.map(lockKey))
}

async function lockKey({ address, clientId }: LockSubject): Promise<string> {
  const addressHash = await sha256Hex(address)
  return clientId === undefined
    ? `${KV_PREFIX}ip:${addressHash}`
    : `${clientPrefix(await sha256Hex(clientId))}${addressHash}`
}

function clientPrefix(clientHash: string): string {
  return `${KV_PREFIX}pair:${clientHash}:`
}

/**
 * Seconds until the last of these lock values (as read from KV, JSON) runs out; 0 if none is set.
 */
export function secondsLocked(values: Iterable<unknown>, now: Date): number {
  const nowSeconds = epochSeconds(now)
  let longest = 0
  for (const value of values) {
    const until = (value as LockValue | null)?.until
    if (typeof until === 'number') longest = Math.max(longest, until - nowSeconds)
  }
  return longest
}

/** Seconds until every one of `subjects` is unlocked, or 0 if none is locked: one bulk read. */
export async function findLock(
  kv: KVNamespace,
  subjects: LockSubject[],
  now: Date,
): Promise<number> {
  if (subjects.length === 0) return 0
  const values = await kv.get<LockValue>(await lockKeys(subjects), 'json')
  return secondsLocked(values.values(), now)
}

export async function writeLock(kv: KVNamespace, subject: LockSubject, now: Date): Promise<void> {
  const until = epochSeconds(now) + LOCK_SECONDS
  await kv.put(await lockKey(subject), JSON.stringify({ until } satisfies LockValue), {
    expirationTtl: LOCK_SECONDS,
  })
  forgetEdgeState()
}

/**
 * Deletes every lock of `clientId` (from any address); returns how many there were. KV's list may
 * miss a lock written in another location in the last minute, as any read may.
 */
export async function deleteClientLocks(kv: KVNamespace, clientId: string): Promise<number> {
  const prefix = clientPrefix(await sha256Hex(clientId))
  let deleted = 0
  let cursor: string | undefined
  do {
    const page = await kv.list({ prefix, cursor })
    await Promise.all(page.keys.map((key) => kv.delete(key.name)))
    deleted += page.keys.length
    cursor = page.list_complete ? undefined : page.cursor
  } while (cursor)
  forgetEdgeState()
  return deleted
}

/** Deletes the lock of an address (grouped as when it was written). */
export async function deleteAddressLock(kv: KVNamespace, address: string): Promise<void> {
  await kv.delete(await lockKey({ address }))
  forgetEdgeState()
}
