// The SMS routes' circuit breaker (decisions.md D45): the rule that says whether the primary SMS
// route is healthy enough to take new deliveries, from the outcomes of the sends it was given.
// Pure: the state is kept by the RouteHealth Durable Object (src/shards/route-health.ts), the
// clock is the caller's.
import type { RouteOutcome } from '../channel.ts'

export type { RouteOutcome } from '../channel.ts'

/**
 * `closed`: the primary route takes every SMS. `open`: new SMS go by the secondary route until
 * the cool-down has passed. `half_open`: one probe goes by the primary; its outcome closes the
 * breaker or opens it again.
 */
export type BreakerState = {
  state: 'closed' | 'open' | 'half_open'
  /** Transient failures in a row since the last success. */
  failures: number
  /** When the breaker last opened (epoch ms); null while closed. */
  openedAt: number | null
  /** When the probe of `half_open` was handed out (epoch ms); null while none is out. */
  probeAt: number | null
}

export type BreakerRule = {
  /** Transient failures in a row that open the breaker. */
  threshold: number
  /** How long it stays open before one probe may go (ms). */
  coolDownMs: number
  /** A probe with no outcome reported after this long is taken as lost: another may go (ms). */
  probeTimeoutMs: number
}

export const SMS_BREAKER_RULE: BreakerRule = {
  threshold: 5,
  coolDownMs: 60_000,
  probeTimeoutMs: 30_000,
}

export const CLOSED: BreakerState = { state: 'closed', failures: 0, openedAt: null, probeAt: null }

/**
 * What a consumer may do now: `primary` (closed), `probe` (send one SMS by the primary to test
 * it; the breaker is half-open from now), or `secondary` (open). The state to keep comes with it.
 */
export function decideRoute(
  current: BreakerState,
  now: number,
  rule: BreakerRule = SMS_BREAKER_RULE,
): { route: 'primary' | 'probe' | 'secondary'; next: BreakerState } {
  if (current.state === 'closed') return { route: 'primary', next: current }
  const probeLost = current.probeAt !== null && now - current.probeAt >= rule.probeTimeoutMs
  const cooled = current.openedAt !== null && now - current.openedAt >= rule.coolDownMs
  if ((current.state === 'open' && cooled) || (current.state === 'half_open' && probeLost)) {
    return { route: 'probe', next: { ...current, state: 'half_open', probeAt: now } }
  }
  return { route: 'secondary', next: current }
}

/**
 * The state after the outcomes of some sends by the primary, oldest first. An answer (`ok`) closes
 * the breaker; a misconfiguration (credentials or account refused) opens it at once; a transient
 * failure opens it once `threshold` come in a row, or again at once when the breaker was
 * half-open (the probe failed).
 */
export function applyOutcomes(
  current: BreakerState,
  outcomes: readonly RouteOutcome[],
  now: number,
  rule: BreakerRule = SMS_BREAKER_RULE,
): BreakerState {
  let state = current
  for (const outcome of outcomes) {
    if (outcome === 'ok') {
      state = CLOSED
      continue
    }
    const failures = state.failures + 1
    const trips =
      outcome === 'misconfigured' || state.state === 'half_open' || failures >= rule.threshold
    if (state.state === 'open') state = { ...state, failures }
    else if (trips) state = { state: 'open', failures, openedAt: now, probeAt: null }
    else state = { ...state, failures }
  }
  return state
}
