// Retry delays for deliveries: exponential with jitter, never sooner than the provider's
// Retry-After.

export const BASE_DELAY_SECONDS = 10
/** Our own backoff stops growing here. */
export const MAX_BACKOFF_SECONDS = 15 * 60
/** Cloudflare Queues refuse longer delays; a longer Retry-After is cut to this. */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60

/**
 * Seconds to wait before the next attempt, given the `attempts` made so far (≥ 1).
 * Equal jitter: half the exponential step, plus a random share of the other half, so a failed
 * batch does not retry in lockstep and the delay still grows.
 */
export function backoff(
  attempts: number,
  retryAfterSeconds?: number,
  random = Math.random,
): number {
  const step = Math.min(MAX_BACKOFF_SECONDS, BASE_DELAY_SECONDS * 2 ** Math.max(0, attempts - 1))
  const jittered = Math.ceil(step / 2 + (random() * step) / 2)
  const retryAfter = Math.min(
    MAX_QUEUE_DELAY_SECONDS,
    Math.max(0, Math.ceil(retryAfterSeconds ?? 0)),
  )
  return Math.max(jittered, retryAfter)
}
