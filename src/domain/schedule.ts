// Scheduled sends and quiet hours (decisions.md D44, docs/sending.md "Scheduled sends and quiet
// hours"): when a message accepted now is due. Pure: the caller gives the clock.
import type { QuietHoursRule } from '../storage/recipients.ts'

/** How far ahead `send_at` may be. */
export const MAX_SCHEDULE_DAYS = 30

/** A daily span, in a time zone, when nothing is sent: `end` may be the next day (22:00–08:00). */
export type QuietHours = { start: string; end: string; timeZone: string }

export type { QuietHoursRule } from '../storage/recipients.ts'

/**
 * The quiet hours a message keeps (decisions.md D44): the request's own, else the recipient's, else
 * its service's default; read in the recipient's time zone, else the rule's, else UTC. A zone the
 * runtime does not know (the API refuses one, but a row may have been written otherwise, or name a
 * zone a later tz database dropped) is passed over like a missing one, rather than failing every
 * message to that recipient.
 */
export function quietHoursFor(
  request: QuietHoursRule | undefined,
  recipient: { timeZone: string | null; quietHours: QuietHoursRule | null } | null,
  service: QuietHoursRule | null,
): QuietHours | undefined {
  const rule = request ?? recipient?.quietHours ?? service
  if (!rule) return undefined
  const known = [recipient?.timeZone, rule.timeZone].filter(
    (zone): zone is string => typeof zone === 'string' && isTimeZone(zone),
  )
  return { start: rule.start, end: rule.end, timeZone: known[0] ?? 'UTC' }
}

const MINUTES_A_DAY = 24 * 60
const MINUTE_MS = 60 * 1000

/** "HH:MM" (00:00 to 23:59) as minutes after midnight. */
export function minutesOf(time: string): number {
  const [h, m] = time.split(':').map(Number)
  return h! * 60 + m!
}

/** True when `zone` is an IANA time zone the runtime knows (Intl decides). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** The wall-clock time at `at` in `timeZone`, in ms since the epoch as if that zone were UTC. */
function wallClock(at: Date, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
      .formatToParts(at)
      .map((p) => [p.type, Number(p.value)]),
  )
  return Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute, parts.second)
}

/**
 * The first instant at or after `due` outside the quiet hours `rule`, in the rule's zone: `due`
 * itself when it is outside them, else the instant their end shows on the wall clock there (the
 * earlier one, when the clock shows it twice). Should the clock skip that time (a daylight-saving
 * jump), as long after the jump as the end is after the time it skipped from.
 */
export function afterQuietHours(due: Date, rule: QuietHours): Date {
  const start = minutesOf(rule.start)
  const end = minutesOf(rule.end)
  if (start === end) return due
  const local = wallClock(due, rule.timeZone)
  const minute = Math.floor(local / MINUTE_MS) % MINUTES_A_DAY
  const quiet = start < end ? minute >= start && minute < end : minute >= start || minute < end
  if (!quiet) return due
  // The wall-clock time the quiet hours end, then the instant that shows it: the offset then may
  // differ from the offset now (a daylight-saving change in between), so try both.
  const endLocal =
    local - (local % MINUTE_MS) + ((end - minute + MINUTES_A_DAY) % MINUTES_A_DAY) * MINUTE_MS
  const first = endLocal - (local - due.getTime())
  const second = endLocal - (wallClock(new Date(first), rule.timeZone) - first)
  const shown = [first, second].filter(
    (t) => t >= due.getTime() && wallClock(new Date(t), rule.timeZone) === endLocal,
  )
  return new Date(shown.length > 0 ? Math.min(...shown) : Math.max(first, second))
}

/**
 * When a message accepted at `now` is due: at `sendAt` (or now), moved past the quiet hours if
 * it falls inside them. Null when that is now: the message is sent at once.
 */
export function dueTime(
  now: Date,
  sendAt: Date | undefined,
  quietHours: QuietHours | undefined,
): Date | null {
  const wanted = sendAt && sendAt > now ? sendAt : now
  const due = quietHours ? afterQuietHours(wanted, quietHours) : wanted
  return due.getTime() > now.getTime() ? due : null
}
