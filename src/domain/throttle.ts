// Failed attempts (wrong secrets, tokens that are not Portero's, revocations of nothing) throttle
// the caller's address and the (client, address) pair, never a client id alone: client ids are
// public, so a lock on one would let anyone lock that client out (SECURITY.md "Lockouts").
import { AppError } from '../errors.ts'
import { requireClient } from './clients.ts'
import { sha256Hex } from '../encoding.ts'
import {
  deleteAddressLock,
  deleteClientLocks,
  findLock,
  LOCK_SECONDS,
  lockKeys,
  writeLock,
  type LockSubject,
} from '../storage/login-locks.ts'

/** The rate-limit bindings (wrangler.toml); each counts per Cloudflare location, per minute. */
export type Limiters = {
  /** Failures of one client id from one address. */
  pair: RateLimit
  /** Failures from one address, whichever client. */
  address: RateLimit
  /** Failures of one client id from any address: a signal for the logs, never a lock. */
  clientSignal: RateLimit
  /** Lets one spike report a client through per minute. */
  spikeReport: RateLimit
}

export type ThrottleDeps = { cache: KVNamespace; limiters: Limiters; now: Date }

/** The pair's address when the request has none (only outside Cloudflare, as in local tests). */
const NO_ADDRESS = 'unknown'

/**
 * The locks an attempt of `clientId` from `ip` is checked against: the pair, and the address when
 * there is one. Without an address the pair is all there is, shared by every address-less caller.
 */
export function lockSubjects(clientId: string, ip: string | null): LockSubject[] {
  if (ip === null) return [{ clientId, address: NO_ADDRESS }]
  const address = addressGroup(ip)
  return [{ clientId, address }, { address }]
}

/**
 * What an address is counted as: an IPv4 address as such (also when IPv4-mapped in IPv6), an IPv6
 * address by its /64, since one host usually holds a whole /64 and could rotate through it. Text
 * that is no address is kept as given (it is hashed before it becomes a key).
 */
export function addressGroup(ip: string): string {
  const text = ip.trim().toLowerCase()
  const v4 = parseIpv4(text)
  if (v4) return v4.join('.')
  const v6 = parseIpv6(text)
  if (!v6) return text
  // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is an IPv4 host.
  if (v6.slice(0, 5).every((h) => h === 0) && v6[5] === 0xffff) {
    return [v6[6]! >> 8, v6[6]! & 0xff, v6[7]! >> 8, v6[7]! & 0xff].join('.')
  }
  return `${v6
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(':')}::/64`
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255))
    return null
  return parts.map(Number)
}

/** The eight hextets of an IPv6 address (RFC 4291 §2.2 text forms), or null. */
function parseIpv6(text: string): number[] | null {
  const address = text.replace(/%.*$/, '') // a zone index names an interface, not a host
  const halves = address.split('::')
  if (halves.length > 2) return null
  const groups = (half: string) => (half === '' ? [] : half.split(':'))
  const head = groups(halves[0]!)
  const tail = halves.length === 2 ? groups(halves[1]!) : []
  const last = halves.length === 2 ? tail : head
  // The last 32 bits may be written as an IPv4 address.
  const v4 = last.length > 0 ? parseIpv4(last[last.length - 1]!) : null
  if (v4)
    last.splice(-1, 1, ((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16))
  if (![...head, ...tail].every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null
  const zeros = Array<string>(halves.length === 2 ? missing : 0).fill('0')
  return [...head, ...zeros, ...tail].map((g) => parseInt(g, 16))
}

/**
 * Counts one failure against each subject; each that went over its limit is locked for a minute.
 * Returns the seconds the caller now has to wait, or 0 while under every limit.
 */
export async function recordFailure(deps: ThrottleDeps, subjects: LockSubject[]): Promise<number> {
  // The lock key doubles as the counter's key: hashed, whatever the client id holds.
  const keys = await lockKeys(subjects)
  const limiterOf = (s: LockSubject) =>
    s.clientId === undefined ? deps.limiters.address : deps.limiters.pair
  const outcomes = await Promise.all(subjects.map((s, i) => limiterOf(s).limit({ key: keys[i]! })))
  const exceeded = subjects.filter((_, i) => !outcomes[i]!.success)
  await Promise.all(exceeded.map((s) => writeLock(deps.cache, s, deps.now)))
  return exceeded.length > 0 ? LOCK_SECONDS : 0
}

/**
 * Counts one failure of `clientId` from any address. True once per minute per location, when the
 * failures first go over the signal's limit: the time to report a spike.
 */
export async function detectSpike(deps: ThrottleDeps, clientId: string): Promise<boolean> {
  const key = `client:${await sha256Hex(clientId)}`
  if ((await deps.limiters.clientSignal.limit({ key })).success) return false
  return (await deps.limiters.spikeReport.limit({ key })).success
}

/**
 * A failed attempt whose locks were not read before (an introspection of a token that is not
 * Portero's, a revocation of nothing): throws 429 `rate_limited` while the pair or the address is
 * locked, else counts it and throws 429 once it goes over a limit.
 */
export async function countFailedAttempt(
  deps: ThrottleDeps,
  subjects: LockSubject[],
): Promise<void> {
  const lockedFor = await findLock(deps.cache, subjects, deps.now)
  const wait = lockedFor > 0 ? lockedFor : await recordFailure(deps, subjects)
  if (wait > 0) {
    throw new AppError(
      'rate_limited',
      `Too many failed attempts from this address, by this client or in all. Retry in ${wait} s.`,
      { headers: { 'retry-after': String(wait) } },
    )
  }
}

/**
 * Lifts every lock of a client, from whichever address; returns how many there were.
 * Throws 404 for an unknown client. The limiters' counts of this minute stay: another failure
 * within it may lock again.
 */
export async function unlockClient(
  deps: { db: D1Database; cache: KVNamespace },
  clientId: string,
): Promise<number> {
  await requireClient(deps.db, clientId)
  return deleteClientLocks(deps.cache, clientId)
}

/** Lifts the lock of an address (of its /64 for IPv6). Its pair locks run out within a minute. */
export async function unlockAddress(cache: KVNamespace, ip: string): Promise<void> {
  await deleteAddressLock(cache, addressGroup(ip))
}
