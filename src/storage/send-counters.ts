// The send_counters table: accepted /Services messages per provider in fixed windows (a minute, a
// UTC day) and per provider and destination in an hour (README "Send quotas", decisions.md D28).
// Read in the request's batch of reads and counted in its batch of writes: no round trip of its
// own.
import type { BatchRead } from './batch.ts'
import { epochSeconds } from '../utils/time.ts'

export type SendSpan = 'minute' | 'day' | 'destination_hour'

export const SPAN_SECONDS: Record<SendSpan, number> = {
  minute: 60,
  day: 24 * 60 * 60,
  destination_hour: 60 * 60,
}

export const SPANS = Object.keys(SPAN_SECONDS) as SendSpan[]

/** The start (epoch seconds) of the window of each span that holds `now`. */
export function windowStarts(now: Date): Record<SendSpan, number> {
  const seconds = epochSeconds(now)
  const start = (span: SendSpan) => seconds - (seconds % SPAN_SECONDS[span])
  return { minute: start('minute'), day: start('day'), destination_hour: start('destination_hour') }
}

export type SendCounts = Record<SendSpan, number>

// The destination a per-destination counter is kept for: the recipient's phone when the
// directory has one for this user id, else the destination as sent (a number or a user id), so a
// phone is counted once whether it is addressed by number or by user id. destinationKey is the
// same rule in JS.
const DESTINATION_KEY = `COALESCE((SELECT phone FROM recipients
    WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2), ?2)`

/** The per-destination counter's subject for a destination, as DESTINATION_KEY computes it. */
export function destinationKey(destination: string, directoryPhone: string | null): string {
  return directoryPhone ?? destination
}

/** What the provider has sent in the current windows, for readBatch. */
export function selectSendCounts(
  db: D1Database,
  providerId: string,
  destination: string,
  now: Date,
): BatchRead<SendCounts> {
  const starts = windowStarts(now)
  return {
    statements: [
      db
        .prepare(
          `SELECT span, count FROM send_counters
           WHERE provider_id = CAST(?1 AS INTEGER) AND (
             (span = 'minute' AND subject = '' AND starts_at = ?3)
             OR (span = 'day' AND subject = '' AND starts_at = ?4)
             OR (span = 'destination_hour' AND subject = ${DESTINATION_KEY} AND starts_at = ?5))`,
        )
        .bind(providerId, destination, starts.minute, starts.day, starts.destination_hour),
    ],
    read: ([result]) => {
      const counts: SendCounts = { minute: 0, day: 0, destination_hour: 0 }
      for (const row of result!.results as { span: SendSpan; count: number }[]) {
        counts[row.span] = row.count
      }
      return counts
    },
  }
}

/**
 * The statement that counts one accepted message in each window, for the batch that writes the
 * message: it counts only if that message was inserted (not an Idempotency-Key replay). A counter
 * of an older window restarts at 1; a request of an older window than the counter's (clocks of two
 * locations) counts in the newer one rather than turning it back.
 */
export function countSend(
  db: D1Database,
  providerId: string,
  subject: string,
  now: Date,
  messageId: string,
): D1PreparedStatement {
  const starts = windowStarts(now)
  return db
    .prepare(
      `INSERT INTO send_counters (provider_id, span, subject, starts_at, count)
       SELECT CAST(?1 AS INTEGER), column1, column2, column3, 1
       FROM (VALUES ('minute', '', ?3), ('day', '', ?4), ('destination_hour', ?2, ?5))
       WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?6)
       ON CONFLICT (provider_id, span, subject) DO UPDATE SET
         count = CASE WHEN excluded.starts_at > starts_at THEN 1 ELSE count + 1 END,
         starts_at = MAX(starts_at, excluded.starts_at)`,
    )
    .bind(providerId, subject, starts.minute, starts.day, starts.destination_hour, messageId)
}

/** Drops counters whose window ended a day or more before `now`; returns how many. */
export async function deleteStaleSendCounters(db: D1Database, now: Date): Promise<number> {
  const cutoff = epochSeconds(now) - 2 * SPAN_SECONDS.day
  const result = await db
    .prepare('DELETE FROM send_counters WHERE starts_at < ?1')
    .bind(cutoff)
    .run()
  return result.meta.changes
}
