// The shard's send counters and Idempotency-Keys (decisions.md D32): read, decided on
// (domain/admission.ts) and written in the caller's transaction, so no other request of the
// provider runs in between.
import {
  decideAdmission,
  type Admission,
  type AdmissionResult,
  type AdmittedKey,
} from '../domain/admission.ts'
import { SPAN_SECONDS, windowStarts, type SendCounts, type SendSpan } from '../domain/quotas.ts'

/** How long an admitted Idempotency-Key is kept here; D1's messages keep it for good. */
export const KEY_SECONDS = SPAN_SECONDS.day

/**
 * Admits one message or says why not, counting it in each window when admitted. `seconds` is the
 * shard's clock: one clock for every request of the provider, so windows turn over once.
 */
export function admitMessage(
  sql: SqlStorage,
  admission: Admission,
  seconds: number,
): AdmissionResult {
  forgetExpired(sql, seconds)
  const key = admission.idempotencyKey
  const earlier = key === null ? null : findAdmittedKey(sql, key)
  const starts = windowStarts(seconds)
  const counts = readCounts(sql, admission.destinationKey, starts)
  const result = decideAdmission(admission, earlier, counts, seconds)
  if (result.outcome !== 'admitted') return result
  for (const span of Object.keys(starts) as SendSpan[]) {
    const subject = span === 'destination_hour' ? admission.destinationKey : ''
    // A counter of an older window restarts at 1.
    sql.exec(
      `INSERT INTO send_counters (span, subject, starts_at, count) VALUES (?, ?, ?, 1)
       ON CONFLICT (span, subject) DO UPDATE SET
         count = CASE WHEN excluded.starts_at > starts_at THEN 1 ELSE count + 1 END,
         starts_at = MAX(starts_at, excluded.starts_at)`,
      span,
      subject,
      starts[span],
    )
  }
  if (key !== null) {
    sql.exec(
      'INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES (?, ?, ?)',
      key,
      admission.requestHash,
      seconds,
    )
  }
  return result
}

function findAdmittedKey(sql: SqlStorage, key: string): AdmittedKey | null {
  const [row] = sql
    .exec<{ request_hash: string }>('SELECT request_hash FROM idempotency_keys WHERE key = ?', key)
    .toArray()
  return row ? { requestHash: row.request_hash } : null
}

function readCounts(
  sql: SqlStorage,
  destinationKey: string,
  starts: Record<SendSpan, number>,
): SendCounts {
  const counts: SendCounts = { minute: 0, day: 0, destination_hour: 0 }
  const rows = sql.exec<{ span: SendSpan; count: number }>(
    `SELECT span, count FROM send_counters
     WHERE (span = 'minute' AND subject = '' AND starts_at = ?)
        OR (span = 'day' AND subject = '' AND starts_at = ?)
        OR (span = 'destination_hour' AND subject = ? AND starts_at = ?)`,
    starts.minute,
    starts.day,
    destinationKey,
    starts.destination_hour,
  )
  for (const row of rows) counts[row.span] = row.count
  return counts
}

/** Counters of windows long over and keys past their day: a few index range deletes. */
function forgetExpired(sql: SqlStorage, seconds: number): void {
  sql.exec('DELETE FROM send_counters WHERE starts_at < ?', seconds - SPAN_SECONDS.day)
  sql.exec('DELETE FROM idempotency_keys WHERE created_at < ?', seconds - KEY_SECONDS)
}

/** Everything the shard counted and admitted, for a provider that is deleted. */
export function forgetAdmissions(sql: SqlStorage): void {
  sql.exec('DELETE FROM send_counters')
  sql.exec('DELETE FROM idempotency_keys')
}
