// Admitting a /Services message (decisions.md D32): its Idempotency-Key and the provider's send
// quotas, decided together by the provider's send shard in one transaction, so that of N parallel
// requests with R messages left exactly min(N, R) are accepted and a key's retries count once.
import { canonicalPhone, E164 } from '../utils/e164.ts'
import {
  findQuotaRefusal,
  SPAN_SECONDS,
  type QuotaRefusal,
  type SendCounts,
  type SendQuotas,
  type SendSpan,
} from './quotas.ts'

/** The most send shards one provider may have (docs/sending.md "A provider that sends a lot"). */
export const MAX_SEND_SHARDS = 64

/** What the Worker asks a provider's send shard when a request has passed every other check. */
export type Admission = {
  providerId: string
  /** How many shards admit this provider's messages; this one is `shardIndexFor` of the key. */
  shards: number
  idempotencyKey: string | null
  /** The request as its idempotency check sees it (domain/dispatch.ts hashRequest). */
  requestHash: string
  /** The per-destination counter's subject (quotas.ts destinationKey). */
  destinationKey: string
  quotas: SendQuotas
  /**
   * A sandbox message (docs/sending.md "Sandbox"): counted apart from real messages, against the
   * same quotas, by the shard that admits it alone.
   */
  sandbox?: boolean
}

export type AdmissionResult =
  /** Counted: store the message. */
  | { outcome: 'admitted' }
  /**
   * The key was admitted before with this body, and counted then: store the message unless D1's
   * unique index finds it stored already (its first request is being written, or failed to be).
   */
  | { outcome: 'seen' }
  /** The key was admitted before with another body. */
  | { outcome: 'conflict' }
  | { outcome: 'over_quota'; refusal: QuotaRefusal }

/**
 * Which of a provider's `shards` admits messages to a destination (its destinationRoute): always
 * the same one, so that a retry with an Idempotency-Key finds the key where it was admitted and
 * that shard alone counts the destination's hourly quota (decisions.md D48 says what a phone
 * reached by two routes, a user id and the number itself, counts). FNV-1a, for an even spread of
 * phone numbers and user ids.
 */
export function shardIndexFor(route: string, shards: number): number {
  return shards <= 1 ? 0 : fnv1a(route) % shards
}

/**
 * Which of `queues` dispatch queues carries the jobs of a delivery, by its id (decisions.md D49):
 * FNV-1a modulo the count spreads every shard's deliveries, so even a provider with one shard has
 * all the queues' consumers.
 */
export function dispatchQueueIndex(deliveryId: string, queues: number): number {
  return fnv1a(deliveryId) % queues
}

/** FNV-1a, 32 bits, of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/**
 * What routes a destination to one of its provider's shards (decisions.md D48): the destination
 * as given, a phone number in its canonical form. The recipients directory is copied to the shards
 * by the same rule, so the shard a user id is routed to holds that recipient.
 */
export function destinationRoute(destination: string): string {
  return E164.test(destination) ? canonicalPhone(destination) : destination
}

/** A shard's provider and index from its name (sendShardName's inverse). */
export function shardOfName(name: string): { providerId: string; index: number | null } {
  const [, providerId = '', index] = name.split(':')
  return { providerId, index: index === undefined ? null : Number(index) }
}

/**
 * The name a provider's send shard is addressed by: its first (`index` null), which alone admits
 * a provider with one shard and grants blocks of the shared quotas to the others, or one of
 * several (`index` from 0, shardIndexFor).
 */
export function sendShardName(providerId: string, index: number | null): string {
  // What storage/shard-database.ts SEND_SHARD_NAME accepts.
  return index === null ? `provider:${providerId}` : `provider:${providerId}:${index}`
}

/** The provider-wide spans: with several shards, their quotas are shared in blocks. */
export const SHARED_SPANS = ['minute', 'day'] as const satisfies readonly SendSpan[]
export type SharedSpan = (typeof SHARED_SPANS)[number]

/** Messages of a shared span's window a shard may still admit without asking for more. */
export type Allowance = { startsAt: number; granted: number; used: number }

/** A block of a shared span's quota, granted to one of a provider's shards for one window. */
export type Grant = { span: SharedSpan; startsAt: number; count: number }

/**
 * How much of a shared quota to grant a shard that ran out: a share of what is left, so blocks
 * shrink as the window fills, and the allowance other shards hold unused when it is full is a few
 * messages at most.
 */
export function blockSize(limit: number, counted: number, shards: number): number {
  const left = limit - counted
  return left <= 0 ? 0 : Math.ceil(left / (2 * shards))
}

/**
 * What the provider's first shard answers a shard asking for blocks of `spans`: a grant of each,
 * or, when any of them is used up, the refusal (and nothing granted, so no block sits idle).
 * `counted` is what it has granted (or admitted itself) in each span's current window.
 */
export function decideGrant(
  quotas: SendQuotas,
  spans: readonly SharedSpan[],
  counted: Record<SharedSpan, number>,
  shards: number,
  seconds: number,
): { grants: Grant[] } | { refusal: QuotaRefusal } {
  // Only the spans asked for can refuse: the others count as empty here.
  const counts: SendCounts = { minute: 0, day: 0, destination_hour: 0 }
  for (const span of spans) counts[span] = counted[span]
  const refusal = findQuotaRefusal(
    { ...quotas, perDestinationHour: Number.MAX_SAFE_INTEGER },
    counts,
    seconds,
  )
  if (refusal) return { refusal }
  const limitOf: Record<SharedSpan, number> = { minute: quotas.perMinute, day: quotas.perDay }
  return {
    grants: spans.map((span) => ({
      span,
      startsAt: seconds - (seconds % SPAN_SECONDS[span]),
      count: blockSize(limitOf[span], counted[span], shards),
    })),
  }
}

/** An Idempotency-Key the shard admitted, as it kept it. */
export type AdmittedKey = { requestHash: string }

/**
 * The shard's decision, from what it holds for the key and the current windows' counts. A replay
 * is answered whatever the quotas say: it sends nothing new.
 */
export function decideAdmission(
  admission: Admission,
  earlier: AdmittedKey | null,
  counts: SendCounts,
  seconds: number,
): AdmissionResult {
  if (earlier) {
    return earlier.requestHash === admission.requestHash
      ? { outcome: 'seen' }
      : { outcome: 'conflict' }
  }
  const refusal = findQuotaRefusal(admission.quotas, counts, seconds)
  return refusal ? { outcome: 'over_quota', refusal } : { outcome: 'admitted' }
}
