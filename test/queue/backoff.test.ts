import { describe, expect, it } from 'vitest'
import { backoff, MAX_BACKOFF_SECONDS, MAX_QUEUE_DELAY_SECONDS } from '../../src/queue/backoff.ts'

describe('backoff', () => {
  it('doubles the step with each attempt, jittered within its upper half', () => {
    expect([1, 2, 3, 4].map((a) => backoff(a, undefined, () => 0))).toEqual([5, 10, 20, 40])
    expect([1, 2, 3, 4].map((a) => backoff(a, undefined, () => 1))).toEqual([10, 20, 40, 80])
  })

  it('stops growing at 15 minutes', () => {
    expect(backoff(30, undefined, () => 1)).toBe(MAX_BACKOFF_SECONDS)
  })

  it('never retries sooner than Retry-After', () => {
    expect(backoff(1, 120, () => 0.5)).toBe(120)
    expect(backoff(4, 3, () => 0)).toBe(40)
  })

  it('cuts a Retry-After longer than Queues accept', () => {
    expect(backoff(1, 10 ** 9)).toBe(MAX_QUEUE_DELAY_SECONDS)
  })
})
