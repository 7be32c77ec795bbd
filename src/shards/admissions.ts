// The shard's send counters, allowances and Idempotency-Keys (decisions.md D32): read, decided on
// (domain/admission.ts) and written in the caller's transaction, so no other call of the shard runs
// in between.
import {
  decideAdmission,
  decideGrant,
  SHARED_SPANS,
  type Admission,
  type AdmissionResult,
  type AdmittedKey,
  type Allowance,
  type Grant,
  type SharedSpan,
} from '../domain/admission.ts'
import {
  SPAN_SECONDS,
  windowStarts,
  type QuotaRefusal,
  type SendCounts,
  type SendQuotas,
  type SendSpan,
} from '../domain/quotas.ts'

/** How long an admitted Idempotency-Key is kept here; D1's messages keep it for good. */
export const KEY_SECONDS = SPAN_SECONDS.day

/** An admission, or, for one of several shards, the shared spans it must first get blocks of. */
export type ShardAdmission = AdmissionResult | { outcome: 'needs_allowance'; spans: SharedSpan[] }

const UNLIMITED = Number.MAX_SAFE_INTEGER

/**
 * Admits one message or says why not, counting it when admitted. A provider's only shard counts
 * every quota itself; one of several counts the destination's hour itself (every message to a
 * destination comes to the same shard) and the minute and day from the allowances its provider's
 * first shard granted it. `seconds` is the shard's clock.
 */
export function admitMessage(
  sql: SqlStorage,
  admission: Admission,
  seconds: number,
): ShardAdmission {
  forgetExpired(sql, seconds)
  const key = admission.idempotencyKey
  const earlier = key === null ? null : findAdmittedKey(sql, key)
  const starts = windowStarts(seconds)
  // Sandbox messages have counters of their own (subjects apart from real ones'), kept by the
  // shard that admits them: they never take from a real quota.
  const { sandbox = false } = admission
  const subjectOf = (subject: string) => (sandbox ? `sandbox:${subject}` : subject)
  const destination = subjectOf(admission.destinationKey)
  const counts = readCounts(sql, destination, starts, subjectOf(''))
  const alone = admission.shards <= 1 || sandbox
  const quotas: SendQuotas = alone
    ? admission.quotas
    : {
        perMinute: UNLIMITED,
        perDay: UNLIMITED,
        perDestinationHour: admission.quotas.perDestinationHour,
      }
  const result = decideAdmission(
    { ...admission, quotas },
    earlier,
    alone ? counts : { ...counts, minute: 0, day: 0 },
    seconds,
  )
  if (result.outcome !== 'admitted') return result
  if (alone) {
    count(sql, 'minute', subjectOf(''), starts.minute, 1)
    count(sql, 'day', subjectOf(''), starts.day, 1)
  } else {
    const allowances = readAllowances(sql)
    const lacking = SHARED_SPANS.filter((span) => available(allowances[span], starts[span]) <= 0)
    if (lacking.length > 0) return { outcome: 'needs_allowance', spans: lacking }
    for (const span of SHARED_SPANS) {
      sql.exec('UPDATE allowances SET used = used + 1 WHERE span = ?', span)
    }
  }
  count(sql, 'destination_hour', destination, starts.destination_hour, 1)
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

/**
 * The provider's first shard granting another of its shards blocks of the shared quotas: counted
 * here as if admitted, so the blocks granted in a window never add up past its quota.
 */
export function grantAllowances(
  sql: SqlStorage,
  request: { quotas: SendQuotas; spans: SharedSpan[]; shards: number },
  seconds: number,
): { grants: Grant[] } | { refusal: QuotaRefusal } {
  const starts = windowStarts(seconds)
  const counts = readCounts(sql, '', starts)
  const answer = decideGrant(
    request.quotas,
    request.spans,
    { minute: counts.minute, day: counts.day },
    request.shards,
    seconds,
  )
  if ('grants' in answer) {
    for (const grant of answer.grants) count(sql, grant.span, '', grant.startsAt, grant.count)
  }
  return answer
}

/** Adds granted blocks to this shard's allowances; a block of a new window replaces the old. */
export function addAllowances(sql: SqlStorage, grants: Grant[]): void {
  for (const { span, startsAt, count: granted } of grants) {
    sql.exec(
      `INSERT INTO allowances (span, starts_at, granted, used) VALUES (?, ?, ?, 0)
       ON CONFLICT (span) DO UPDATE SET
         granted = CASE WHEN excluded.starts_at = starts_at THEN granted + excluded.granted
           ELSE excluded.granted END,
         used = CASE WHEN excluded.starts_at = starts_at THEN used ELSE 0 END,
         starts_at = excluded.starts_at
       WHERE excluded.starts_at >= starts_at`,
      span,
      startsAt,
      granted,
    )
  }
}

/**
 * What is left of a block for the window starting at `windowStart`. A block of a later window (the
 * first shard's clock a little ahead) counts in that window, where it was granted.
 */
function available(allowance: Allowance | undefined, windowStart: number): number {
  return allowance && allowance.startsAt >= windowStart ? allowance.granted - allowance.used : 0
}

function readAllowances(sql: SqlStorage): Partial<Record<SharedSpan, Allowance>> {
  const rows = sql.exec<{ span: SharedSpan; starts_at: number; granted: number; used: number }>(
    'SELECT span, starts_at, granted, used FROM allowances',
  )
  const allowances: Partial<Record<SharedSpan, Allowance>> = {}
  for (const row of rows) {
    allowances[row.span] = { startsAt: row.starts_at, granted: row.granted, used: row.used }
  }
  return allowances
}

/** Adds `n` to a counter, restarting it when a later window has begun. */
function count(sql: SqlStorage, span: SendSpan, subject: string, startsAt: number, n: number) {
  sql.exec(
    `INSERT INTO send_counters (span, subject, starts_at, count) VALUES (?, ?, ?, ?)
     ON CONFLICT (span, subject) DO UPDATE SET
       count = CASE WHEN excluded.starts_at > starts_at THEN excluded.count
         ELSE count + excluded.count END,
       starts_at = MAX(starts_at, excluded.starts_at)`,
    span,
    subject,
    startsAt,
    n,
  )
}

function findAdmittedKey(sql: SqlStorage, key: string): AdmittedKey | null {
  const [row] = sql
    .exec<{ request_hash: string }>('SELECT request_hash FROM idempotency_keys WHERE key = ?', key)
    .toArray()
  return row ? { requestHash: row.request_hash } : null
}

/** The current windows' counts: the provider's (subject `provider`, '' unless sandbox) and one destination's. */
function readCounts(
  sql: SqlStorage,
  destinationKey: string,
  starts: Record<SendSpan, number>,
  provider = '',
): SendCounts {
  const counts: SendCounts = { minute: 0, day: 0, destination_hour: 0 }
  const rows = sql.exec<{ span: SendSpan; count: number }>(
    `SELECT span, count FROM send_counters
     WHERE (span = 'minute' AND subject = ? AND starts_at = ?)
        OR (span = 'day' AND subject = ? AND starts_at = ?)
        OR (span = 'destination_hour' AND subject = ? AND starts_at = ?)`,
    provider,
    starts.minute,
    provider,
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

/** Everything the shard counted, granted and admitted, for a provider that is deleted. */
export function forgetAdmissions(sql: SqlStorage): void {
  sql.exec('DELETE FROM send_counters')
  sql.exec('DELETE FROM allowances')
  sql.exec('DELETE FROM idempotency_keys')
}
