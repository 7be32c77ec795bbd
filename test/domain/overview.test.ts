// The overview's latency percentiles, from a histogram of fixed buckets (decisions.md D42).
import { describe, expect, it } from 'vitest'
import { percentile } from '../../src/domain/overview.ts'
import { LATENCY_BOUNDS } from '../../src/storage/overview-hours.ts'

describe('overview percentiles', () => {
  it('are the bound of the bucket that holds the rank, null with nothing delivered', () => {
    const buckets = Array.from({ length: LATENCY_BOUNDS.length + 1 }, () => 0)
    expect(percentile(buckets, 0.5)).toBeNull()
    buckets[0] = 50 // up to 1 s
    buckets[4] = 45 // (5, 10] s
    buckets[LATENCY_BOUNDS.length] = 5 // over the last bound
    expect(percentile(buckets, 0.5)).toBe(1)
    expect(percentile(buckets, 0.95)).toBe(10)
    expect(percentile(buckets, 0.99)).toBe(LATENCY_BOUNDS.at(-1))
  })
})
