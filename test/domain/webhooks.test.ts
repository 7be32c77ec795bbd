import { describe, expect, it } from 'vitest'
import {
  admitWebhookDeliveries,
  judgeWebhookAnswer,
  nextWebhookAttemptDelay,
  WEBHOOK_GONE_REASON,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_SLOW_MS,
  WEBHOOK_TIMEOUT_MS,
  type PendingWebhookDelivery,
} from '../../src/domain/webhooks.ts'
import { WEBHOOK_LEASE_SECONDS } from '../../src/queue/webhook-consumer.ts'

const of = (providerId: string | null, endpointId: string, struggling = false) =>
  ({ providerId, endpointId, struggling }) satisfies PendingWebhookDelivery

describe('admitWebhookDeliveries', () => {
  it('sends three of one provider a batch, across its endpoints, and all of the others', () => {
    const batch = [
      of('1', 'ep_a'),
      of('1', 'ep_b'),
      of('1', 'ep_a'),
      of('1', 'ep_c'),
      of('2', 'ep_x'),
      of('1', 'ep_b'),
      of('2', 'ep_x'),
      of('3', 'ep_y'),
    ]
    expect(admitWebhookDeliveries(batch)).toEqual([
      { send: true },
      { send: true },
      { send: true },
      { send: false, delaySeconds: 5 },
      { send: true },
      { send: false, delaySeconds: 5 },
      { send: true },
      { send: true },
    ])
  })

  it('sends one request to a struggling endpoint, and its provider keeps its other places', () => {
    const batch = [
      of('1', 'ep_slow', true),
      of('1', 'ep_slow', true),
      of('1', 'ep_ok'),
      of('1', 'ep_slow', true),
      of('1', 'ep_ok'),
    ]
    expect(admitWebhookDeliveries(batch).map((a) => (a.send ? 0 : a.delaySeconds))).toEqual([
      0,
      WEBHOOK_TIMEOUT_MS / 1000,
      0,
      (2 * WEBHOOK_TIMEOUT_MS) / 1000,
      0,
    ])
  })

  it("paces a provider's backlog: one more turn of 5 s for every three put back", () => {
    const batch = Array.from({ length: 10 }, () => of('1', 'ep_a'))
    expect(admitWebhookDeliveries(batch).map((a) => (a.send ? 0 : a.delaySeconds))).toEqual([
      0, 0, 0, 5, 5, 5, 10, 10, 10, 15,
    ])
  })

  it('sends every delivery whose endpoint is gone: nothing will reach it', () => {
    const batch = Array.from({ length: 5 }, () => of(null, 'ep_gone'))
    expect(admitWebhookDeliveries(batch).every((a) => a.send)).toBe(true)
  })
})

describe('judgeWebhookAnswer', () => {
  it(`counts a 2xx slower than ${WEBHOOK_SLOW_MS} ms against the endpoint, with a note`, () => {
    expect(judgeWebhookAnswer({ ok: true, status: 204, durationMs: WEBHOOK_SLOW_MS })).toEqual({
      countsAsFailure: false,
      slowNote: null,
      disableNow: null,
    })
    expect(judgeWebhookAnswer({ ok: true, status: 204, durationMs: 4321 })).toEqual({
      countsAsFailure: true,
      slowNote: `answered 204 after 4321 ms, over ${WEBHOOK_SLOW_MS} ms: delivered, but counted as a failure toward disabling`,
      disableNow: null,
    })
  })

  it('counts every failure, fast or not, without a note of its own', () => {
    expect(judgeWebhookAnswer({ ok: false, status: 500, durationMs: 3 })).toEqual({
      countsAsFailure: true,
      slowNote: null,
      disableNow: null,
    })
  })

  it('disables an endpoint at once when it answers 410 Gone', () => {
    expect(judgeWebhookAnswer({ ok: false, status: 410, durationMs: 3 })).toEqual({
      countsAsFailure: true,
      slowNote: null,
      disableNow: WEBHOOK_GONE_REASON,
    })
  })

  it('gives an endpoint the 15 s of the Standard Webhooks guidance', () => {
    expect(WEBHOOK_TIMEOUT_MS).toBe(15_000)
  })

  it('keeps slow below the timeout, and the lease above it', () => {
    expect(WEBHOOK_SLOW_MS).toBeLessThan(WEBHOOK_TIMEOUT_MS)
    expect(WEBHOOK_LEASE_SECONDS * 1000).toBeGreaterThan(WEBHOOK_TIMEOUT_MS)
  })
})

describe('nextWebhookAttemptDelay', () => {
  const none = () => 0
  it('retries after 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h four times: about two days', () => {
    const delays = Array.from({ length: WEBHOOK_MAX_ATTEMPTS }, (_, i) =>
      nextWebhookAttemptDelay(i + 1, undefined, none),
    )
    const h = 3600
    expect(delays).toEqual([5, 300, 1800, 2 * h, 5 * h, 10 * h, 10 * h, 10 * h, 10 * h, null])
    const span = delays.reduce<number>((sum, d) => sum + (d ?? 0), 0)
    expect(span / h).toBeGreaterThan(47)
    expect(span / h).toBeLessThan(48)
  })

  it('adds at most a tenth at random, so one outage does not retry in lockstep', () => {
    expect(nextWebhookAttemptDelay(2, undefined, () => 0.999)).toBe(330)
    expect(nextWebhookAttemptDelay(6, undefined, () => 0.999)).toBeLessThanOrEqual(12 * 3600)
  })

  it("waits at least the endpoint's Retry-After, at most the queue's 12 h", () => {
    expect(nextWebhookAttemptDelay(1, 120, none)).toBe(120)
    expect(nextWebhookAttemptDelay(1, 10 ** 9, none)).toBe(12 * 3600)
  })
})
