// When a message is due (decisions.md D44): send_at, moved past the recipient's quiet hours in
// their zone, with the clock given.
import { describe, expect, it } from 'vitest'
import { afterQuietHours, dueTime, isTimeZone, quietHoursFor } from '../../src/domain/schedule.ts'

const NIGHT = { start: '22:00', end: '08:00', timeZone: 'Europe/Madrid' }
const at = (iso: string) => new Date(iso)

describe('afterQuietHours', () => {
  it.each([
    ['before they start', '2026-12-07T20:59:00Z', '2026-12-07T20:59:00.000Z'],
    ['as they start', '2026-12-07T21:00:00Z', '2026-12-08T07:00:00.000Z'],
    ['before midnight', '2026-12-07T22:30:15Z', '2026-12-08T07:00:00.000Z'],
    ['after midnight', '2026-12-08T03:00:00Z', '2026-12-08T07:00:00.000Z'],
    ['as they end', '2026-12-08T07:00:00Z', '2026-12-08T07:00:00.000Z'],
  ])('in Madrid in winter (UTC+1), %s', (_, due, expected) => {
    expect(afterQuietHours(at(due), NIGHT).toISOString()).toBe(expected)
  })

  it('reads the wall clock of the zone in summer (UTC+2)', () => {
    expect(afterQuietHours(at('2026-07-01T23:00:00Z'), NIGHT).toISOString()).toBe(
      '2026-07-02T06:00:00.000Z',
    )
  })

  it('keeps quiet hours within one day', () => {
    const lunch = { start: '13:00', end: '15:30', timeZone: 'UTC' }
    expect(afterQuietHours(at('2026-12-07T14:00:00Z'), lunch).toISOString()).toBe(
      '2026-12-07T15:30:00.000Z',
    )
    expect(afterQuietHours(at('2026-12-07T16:00:00Z'), lunch).toISOString()).toBe(
      '2026-12-07T16:00:00.000Z',
    )
  })

  it('ends at the wall-clock end across a daylight-saving change', () => {
    // New York leaves EDT (UTC−4) for EST (UTC−5) at 02:00 on 1 November 2026.
    const rule = { start: '22:00', end: '08:00', timeZone: 'America/New_York' }
    expect(afterQuietHours(at('2026-11-01T03:00:00Z'), rule).toISOString()).toBe(
      '2026-11-01T13:00:00.000Z',
    )
  })

  it('goes after the jump when the clock skips the end', () => {
    // New York jumps from 02:00 EST to 03:00 EDT on 8 March 2026: 02:30 does not exist.
    const rule = { start: '22:00', end: '02:30', timeZone: 'America/New_York' }
    expect(afterQuietHours(at('2026-03-08T04:00:00Z'), rule).toISOString()).toBe(
      '2026-03-08T07:30:00.000Z',
    )
  })

  it('takes equal start and end as no quiet hours', () => {
    const none = { start: '08:00', end: '08:00', timeZone: 'UTC' }
    expect(afterQuietHours(at('2026-12-07T03:00:00Z'), none).toISOString()).toBe(
      '2026-12-07T03:00:00.000Z',
    )
  })
})

describe('dueTime', () => {
  const now = at('2026-12-07T12:00:00Z')

  it('is null for a message to send now, or at a time past', () => {
    expect(dueTime(now, undefined, undefined)).toBeNull()
    expect(dueTime(now, at('2026-12-07T11:00:00Z'), undefined)).toBeNull()
    expect(dueTime(now, undefined, { ...NIGHT, start: '06:00', end: '12:00' })).toBeNull()
  })

  it('is send_at, or the end of the quiet hours it falls in', () => {
    expect(dueTime(now, at('2026-12-07T12:00:05Z'), undefined)?.toISOString()).toBe(
      '2026-12-07T12:00:05.000Z',
    )
    expect(dueTime(now, at('2026-12-07T23:00:00Z'), NIGHT)?.toISOString()).toBe(
      '2026-12-08T07:00:00.000Z',
    )
    // Now, in Madrid at 13:00, inside quiet hours from 12:30 to 14:00.
    const lunch = { start: '12:30', end: '14:00', timeZone: 'Europe/Madrid' }
    expect(dueTime(now, undefined, lunch)?.toISOString()).toBe('2026-12-07T13:00:00.000Z')
  })
})

describe('isTimeZone', () => {
  it.each(['Europe/Madrid', 'America/Argentina/Buenos_Aires', 'UTC'])('knows %s', (zone) => {
    expect(isTimeZone(zone)).toBe(true)
  })
  it.each(['Mars/Olympus', '../../etc/passwd', '', 'Europe/Madrid\n'])('refuses %j', (zone) => {
    expect(isTimeZone(zone)).toBe(false)
  })
})

describe('quietHoursFor', () => {
  const rule = { start: '22:00', end: '08:00' }

  it("reads the recipient's zone, else the rule's, else UTC", () => {
    const ruled = { ...rule, timeZone: 'Europe/Madrid' }
    const lima = { timeZone: 'America/Lima', quietHours: null }
    expect(quietHoursFor(ruled, lima, null)?.timeZone).toBe('America/Lima')
    expect(quietHoursFor(ruled, { timeZone: null, quietHours: null }, null)?.timeZone).toBe(
      'Europe/Madrid',
    )
    expect(quietHoursFor(undefined, null, rule)?.timeZone).toBe('UTC')
    expect(quietHoursFor(undefined, lima, null)).toBeUndefined()
  })

  it('passes over a stored zone the runtime does not know, as if it were missing', () => {
    const stored = { timeZone: 'Mars/Olympus_Mons', quietHours: rule }
    expect(quietHoursFor(undefined, stored, null)).toEqual({ ...rule, timeZone: 'UTC' })
    const ruled = { ...rule, timeZone: 'Europe/Madrid' }
    expect(quietHoursFor(ruled, stored, null)?.timeZone).toBe('Europe/Madrid')
    // And the time it gives is one afterQuietHours can read.
    const hours = quietHoursFor(undefined, stored, null)!
    expect(afterQuietHours(at('2026-12-07T23:00:00Z'), hours).toISOString()).toBe(
      '2026-12-08T08:00:00.000Z',
    )
  })
})
