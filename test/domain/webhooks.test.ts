import { describe, expect, it } from 'vitest'
import {
  admitWebhookDeliveries,
  judgeWebhookAnswer,
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
    expect(admitWebhookDeliveries(batch).map((a) => a.send)).toEqual([
      true,
      false,
      true,
      false,
      true,
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
    })
    expect(judgeWebhookAnswer({ ok: true, status: 204, durationMs: 4321 })).toEqual({
      countsAsFailure: true,
      slowNote: `answered 204 after 4321 ms, over ${WEBHOOK_SLOW_MS} ms: delivered, but counted as a failure toward disabling`,
    })
  })

  it('counts every failure, fast or not, without a note of its own', () => {
    expect(judgeWebhookAnswer({ ok: false, status: 500, durationMs: 3 })).toEqual({
      countsAsFailure: true,
      slowNote: null,
    })
  })

  it('keeps slow below the timeout, and the lease above it', () => {
    expect(WEBHOOK_SLOW_MS).toBeLessThan(WEBHOOK_TIMEOUT_MS)
    expect(WEBHOOK_LEASE_SECONDS * 1000).toBeGreaterThan(WEBHOOK_TIMEOUT_MS)
  })
})
