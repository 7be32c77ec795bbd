import { describe, expect, it } from 'vitest'
import {
  judgeWebhookAnswer,
  WEBHOOK_SLOW_MS,
  WEBHOOK_TIMEOUT_MS,
} from '../../src/domain/webhooks.ts'
import { WEBHOOK_LEASE_SECONDS } from '../../src/queue/webhook-consumer.ts'

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
