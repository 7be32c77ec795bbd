import { describe, expect, it } from 'vitest'
import {
  applyOutcomes,
  CLOSED,
  decideRoute,
  SMS_BREAKER_RULE,
  type BreakerState,
} from '../../src/domain/route-breaker.ts'

const rule = { threshold: 3, coolDownMs: 60_000, probeTimeoutMs: 30_000 }
const T = 1_800_000_000_000

describe('the SMS routes circuit breaker', () => {
  it('keeps the primary route while closed, whatever the time', () => {
    expect(decideRoute(CLOSED, T, rule)).toEqual({ route: 'primary', next: CLOSED })
  })

  it('opens after `threshold` transient failures in a row, not before', () => {
    const two = applyOutcomes(CLOSED, ['transient', 'transient'], T, rule)
    expect(two).toMatchObject({ state: 'closed', failures: 2 })
    expect(decideRoute(two, T, rule).route).toBe('primary')
    const three = applyOutcomes(two, ['transient'], T + 5, rule)
    expect(three).toEqual({ state: 'open', failures: 3, openedAt: T + 5, probeAt: null })
    expect(decideRoute(three, T + 6, rule).route).toBe('secondary')
  })

  it('counts failures in a row only: an answer between them starts again', () => {
    const state = applyOutcomes(CLOSED, ['transient', 'transient', 'ok', 'transient'], T, rule)
    expect(state).toMatchObject({ state: 'closed', failures: 1 })
  })

  it('opens at once when the route refuses Portero’s own settings', () => {
    expect(applyOutcomes(CLOSED, ['misconfigured'], T, rule)).toMatchObject({
      state: 'open',
      openedAt: T,
    })
  })

  it('hands out one probe after the cool-down, and secondary to everyone else meanwhile', () => {
    const open = applyOutcomes(CLOSED, ['misconfigured'], T, rule)
    expect(decideRoute(open, T + rule.coolDownMs - 1, rule).route).toBe('secondary')
    const probe = decideRoute(open, T + rule.coolDownMs, rule)
    expect(probe.route).toBe('probe')
    expect(probe.next).toMatchObject({ state: 'half_open', probeAt: T + rule.coolDownMs })
    expect(decideRoute(probe.next, T + rule.coolDownMs + 1, rule).route).toBe('secondary')
  })

  it('closes when the probe is answered, opens again when it fails', () => {
    const open = applyOutcomes(CLOSED, ['misconfigured'], T, rule)
    const halfOpen = decideRoute(open, T + rule.coolDownMs, rule).next
    expect(applyOutcomes(halfOpen, ['ok'], T + 61_000, rule)).toEqual(CLOSED)
    const again = applyOutcomes(halfOpen, ['transient'], T + 61_000, rule)
    expect(again).toMatchObject({ state: 'open', openedAt: T + 61_000, probeAt: null })
    expect(decideRoute(again, T + 61_000 + rule.coolDownMs - 1, rule).route).toBe('secondary')
  })

  it('hands out another probe when the first one’s outcome never came', () => {
    const halfOpen: BreakerState = { state: 'half_open', failures: 3, openedAt: T, probeAt: T }
    expect(decideRoute(halfOpen, T + rule.probeTimeoutMs - 1, rule).route).toBe('secondary')
    expect(decideRoute(halfOpen, T + rule.probeTimeoutMs, rule).route).toBe('probe')
  })

  it('stays open on late failures, keeping when it opened', () => {
    const open = applyOutcomes(CLOSED, ['misconfigured'], T, rule)
    expect(applyOutcomes(open, ['transient'], T + 10_000, rule)).toMatchObject({
      state: 'open',
      openedAt: T,
    })
  })

  it('uses 5 failures, a minute of cool-down and 30 s for a probe by default', () => {
    expect(SMS_BREAKER_RULE).toEqual({ threshold: 5, coolDownMs: 60_000, probeTimeoutMs: 30_000 })
  })
})
