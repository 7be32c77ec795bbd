// npm start's cron triggers (scripts/local-cron.ts): wrangler dev fires none, so the scheduled
// handler is called on wrangler.toml's schedule through wrangler dev's /__scheduled.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { unstable_readConfig } from 'wrangler'
import { CLEAN_UP_CRON } from '../../src/queue/schedule.ts'
import { cronFires, startLocalCron } from '../../scripts/local-cron.ts'

/** A trigger every minute, beside wrangler.toml's own, to follow the schedule minute by minute. */
const EVERY_MINUTE = '* * * * *'

afterEach(() => {
  vi.useRealTimers()
})

const at = (iso: string) => new Date(`2026-12-07T${iso}Z`)

describe('cronFires', () => {
  it('reads every minute, a step, a number and a list of minutes', () => {
    expect(cronFires('* * * * *', at('10:03:00'))).toBe(true)
    expect(cronFires('*/5 * * * *', at('10:05:00'))).toBe(true)
    expect(cronFires('*/5 * * * *', at('10:03:00'))).toBe(false)
    expect(cronFires('7 * * * *', at('10:07:00'))).toBe(true)
    expect(cronFires('0,30 * * * *', at('10:30:00'))).toBe(true)
    expect(cronFires('0,30 * * * *', at('10:31:00'))).toBe(false)
  })

  it('refuses a trigger it cannot follow, rather than never running it', () => {
    expect(() => cronFires('0 3 * * *', at('03:00:00'))).toThrow(/"M \* \* \* \*" only/)
    expect(() => cronFires('*/x * * * *', at('03:00:00'))).toThrow(/cannot read the minute/)
    expect(() => cronFires('* * * *', at('03:00:00'))).toThrow()
  })

  it('follows every trigger of wrangler.toml, the clean-up among them', () => {
    const crons = unstable_readConfig({ config: 'wrangler.toml' }, { hideWarnings: true }).triggers
      .crons!
    expect(crons).toEqual(expect.arrayContaining([CLEAN_UP_CRON]))
    for (const cron of crons) expect(() => cronFires(cron, new Date())).not.toThrow()
  })
})

describe('startLocalCron', () => {
  function started(start: string, prepare: (fetch: ReturnType<typeof vi.fn>) => void = () => {}) {
    vi.useFakeTimers({ now: at(start) })
    const calls: [string, string][] = []
    const fetch = vi.fn(async (url: string | URL | Request) => {
      const cron = new URL(String(url)).searchParams.get('cron')!
      calls.push([new Date().toISOString().slice(11, 19), cron])
      return new Response('Ran scheduled event')
    })
    prepare(fetch)
    const log = vi.fn()
    const stop = startLocalCron({
      base: 'http://localhost:8787',
      crons: [EVERY_MINUTE, CLEAN_UP_CRON],
      fetch: fetch as typeof globalThis.fetch,
      log,
    })
    return { calls, fetch, log, stop }
  }

  it('runs every trigger at start, then on schedule', async () => {
    const { calls, fetch, stop } = started('12:03:20')
    await vi.advanceTimersByTimeAsync(0)
    expect(calls).toEqual([
      ['12:03:20', EVERY_MINUTE],
      ['12:03:20', CLEAN_UP_CRON],
    ])
    expect(String(fetch.mock.calls[0]![0])).toBe(
      'http://localhost:8787/__scheduled?cron=' + encodeURIComponent(EVERY_MINUTE),
    )
    calls.length = 0
    await vi.advanceTimersByTimeAsync(6 * 60_000)
    expect(calls).toEqual([
      ['12:04:00', EVERY_MINUTE],
      ['12:05:00', EVERY_MINUTE],
      ['12:05:00', CLEAN_UP_CRON],
      ['12:06:00', EVERY_MINUTE],
      ['12:07:00', EVERY_MINUTE],
      ['12:08:00', EVERY_MINUTE],
      ['12:09:00', EVERY_MINUTE],
    ])
    stop()
    calls.length = 0
    await vi.advanceTimersByTimeAsync(5 * 60_000)
    expect(calls).toEqual([])
  })

  it('says so when a run fails, and keeps to the schedule', async () => {
    const { log, stop, calls } = started('12:00:30', (fetch) => {
      fetch.mockRejectedValueOnce(new Error('connection refused'))
      fetch.mockResolvedValueOnce(new Response('boom', { status: 500 }))
    })
    await vi.advanceTimersByTimeAsync(0)
    await vi.waitFor(() => expect(log).toHaveBeenCalledTimes(2))
    expect(log.mock.calls.map(([line]) => line)).toEqual([
      `cron "${EVERY_MINUTE}" could not run: Error: connection refused`,
      `cron "${CLEAN_UP_CRON}" answered 500`,
    ])
    await vi.advanceTimersByTimeAsync(60_000)
    expect(calls).toContainEqual(['12:01:00', EVERY_MINUTE])
    stop()
  })
})
