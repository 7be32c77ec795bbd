// inOneLimiterMinute: a burst that straddles a minute of the clock runs once more.
import { describe, expect, it, vi } from 'vitest'
import { inOneLimiterMinute } from './http.ts'

/** Date.now() reads `times` one after the other, then stays at the last. */
function clockReading(...times: number[]) {
  let i = 0
  vi.spyOn(Date, 'now').mockImplementation(() => times[Math.min(i++, times.length - 1)]!)
}

describe('inOneLimiterMinute', () => {
  it('runs a burst once when the minute does not change', async () => {
    clockReading(60_000, 119_999)
    const burst = vi.fn(async () => 'done')
    expect(await inOneLimiterMinute(burst)()).toBe('done')
    expect(burst).toHaveBeenCalledTimes(1)
  })

  it('runs it again when the minute changed, even if the first run passed', async () => {
    clockReading(119_000, 120_001)
    const burst = vi.fn(async () => burst.mock.calls.length)
    expect(await inOneLimiterMinute(burst)()).toBe(2)
  })

  it('runs it again when the minute changed and the first run failed', async () => {
    clockReading(119_000, 120_001)
    const burst = vi.fn(async () => {
      if (burst.mock.calls.length === 1) throw new Error('counted in halves')
      return 'second'
    })
    expect(await inOneLimiterMinute(burst)()).toBe('second')
  })

  it('fails with the burst when the minute did not change', async () => {
    clockReading(60_000, 60_500)
    const burst = vi.fn(async () => {
      throw new Error('refused')
    })
    await expect(inOneLimiterMinute(burst)()).rejects.toThrow('refused')
    expect(burst).toHaveBeenCalledTimes(1)
  })
})
