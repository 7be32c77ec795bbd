// The audit_events table: token issuance, revocations, failed logins, refused and performed admin
// actions. Every field is bounded here, on the way in, whoever wrote the event.

export type AuditEvent = {
  /**
   * `token.issued`, `token.revoked`, `login.failed`, `admin.refused`, or an admin action such as
   * `client.create`.
   */
  action: string
  outcome: 'success' | 'failure'
  actor: string | null
  target: string | null
  requestId: string | null
  ip: string | null
  /** Free-form context. Callers never put secrets, tokens or digests here. */
  detail?: Record<string, unknown>
}

/** An event with the time it happened (ISO 8601), as the audit queue carries it. */
export type OccurredAuditEvent = AuditEvent & { occurredAt: string }

/**
 * One row: `count` events alike in everything but their time and request id (repeated failures
 * folded together), with the first one's time and request id and the last one's time.
 */
export type AuditRecord = OccurredAuditEvent & { count: number; lastOccurredAt: string }

export type StoredAuditEvent = AuditRecord & { id: number }

/**
 * The longest value each column keeps, in UTF-16 code units; longer values are cut to fit and end
 * in `…`. A detail that is still over DETAIL_JSON once each string is cut is replaced whole.
 */
export const AUDIT_LIMITS = {
  action: 100,
  actor: 200,
  target: 200,
  requestId: 64,
  ip: 64,
  /** Each string inside `detail`, at any depth. */
  detailString: 200,
  /** Each list inside `detail` keeps this many items. */
  detailItems: 20,
  detailJson: 2000,
} as const

type AuditRow = {
  id: number
  occurred_at: string
  last_at: string | null
  count: number
  action: string
  outcome: 'success' | 'failure'
  actor: string | null
  target: string | null
  request_id: string | null
  ip: string | null
  detail: string
}

/** Writes one event as one row (admin actions). */
export async function insertAuditEvent(db: D1Database, event: OccurredAuditEvent): Promise<void> {
  await insertAuditRecords(db, [{ ...event, count: 1, lastOccurredAt: event.occurredAt }])
}

/**
 * Writes rows in one statement, whatever their number: D1 binds at most 100 parameters to a
 * statement, so the rows travel as one JSON text that SQLite's json_each takes apart.
 */
export async function insertAuditRecords(db: D1Database, records: AuditRecord[]): Promise<void> {
  if (records.length === 0) return
  const rows = records.map((record) => {
    const e = boundAuditEvent(record)
    return [
      new Date(record.occurredAt).toISOString(),
      // Only a folded row needs a second time.
      record.count > 1 ? new Date(record.lastOccurredAt).toISOString() : null,
      Math.max(1, Math.trunc(record.count)),
      e.action,
      e.outcome,
      e.actor,
      e.target,
      e.requestId,
      e.ip,
      JSON.stringify(e.detail ?? {}),
    ]
  })
  await db
    .prepare(
      `INSERT INTO audit_events
         (occurred_at, last_at, count, action, outcome, actor, target, request_id, ip, detail)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
              value ->> 6, value ->> 7, value ->> 8, value ->> 9
       FROM json_each(?1) ORDER BY key`,
    )
    .bind(JSON.stringify(rows))
    .run()
}

/** Cuts every field of `event` to AUDIT_LIMITS. */
export function boundAuditEvent<T extends AuditEvent>(event: T): T {
  return {
    ...event,
    action: cut(event.action, AUDIT_LIMITS.action),
    actor: cutOrNull(event.actor, AUDIT_LIMITS.actor),
    target: cutOrNull(event.target, AUDIT_LIMITS.target),
    requestId: cutOrNull(event.requestId, AUDIT_LIMITS.requestId),
    ip: cutOrNull(event.ip, AUDIT_LIMITS.ip),
    detail: boundDetail(event.detail ?? {}),
  }
}

function boundDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const bounded = boundValue(detail) as Record<string, unknown>
  if (JSON.stringify(bounded).length <= AUDIT_LIMITS.detailJson) return bounded
  return { omitted: `detail over ${AUDIT_LIMITS.detailJson} characters` }
}

function boundValue(value: unknown): unknown {
  if (typeof value === 'string') return cut(value, AUDIT_LIMITS.detailString)
  if (Array.isArray(value)) return value.slice(0, AUDIT_LIMITS.detailItems).map(boundValue)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [cut(key, AUDIT_LIMITS.detailString), boundValue(v)]),
    )
  }
  return value
}

function cutOrNull(value: string | null, max: number): string | null {
  return value === null ? null : cut(value, max)
}

function cut(value: string, max: number): string {
  if (value.length <= max) return value
  let end = max - 1
  // Never split a surrogate pair: half of one is not text.
  const last = value.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${value.slice(0, end)}…`
}

/** Deletes the events that happened before `cutoff`; returns how many rows went. */
export async function deleteAuditEventsBefore(db: D1Database, cutoff: Date): Promise<number> {
  const result = await db
    .prepare('DELETE FROM audit_events WHERE occurred_at < ?1')
    .bind(cutoff.toISOString())
    .run()
  return result.meta.changes
}

export type AuditFilter = {
  action?: string
  actor?: string
  target?: string
  outcome?: 'success' | 'failure'
  /** ISO 8601 instants, inclusive, compared with the (first) occurrence. */
  since?: string
  until?: string
}

/**
 * A page of events, newest first by when they happened (rows reach the table a few seconds late,
 * so ids do not follow time), after the event whose id is `before`.
 */
export async function listAuditEvents(
  db: D1Database,
  filter: AuditFilter,
  { before, limit }: { before?: number; limit: number },
): Promise<StoredAuditEvent[]> {
  const { results } = await db
    .prepare(
      `SELECT id, occurred_at, last_at, count, action, outcome, actor, target, request_id, ip,
         detail
       FROM audit_events
       WHERE (?1 IS NULL
           OR (occurred_at, id) < (SELECT occurred_at, id FROM audit_events WHERE id = ?1))
         AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR actor = ?3)
         AND (?4 IS NULL OR target = ?4) AND (?5 IS NULL OR outcome = ?5)
         AND (?6 IS NULL OR occurred_at >= ?6) AND (?7 IS NULL OR occurred_at <= ?7)
       ORDER BY occurred_at DESC, id DESC LIMIT ?8`,
    )
    .bind(
      before ?? null,
      filter.action ?? null,
      filter.actor ?? null,
      filter.target ?? null,
      filter.outcome ?? null,
      filter.since ?? null,
      filter.until ?? null,
      limit,
    )
    .all<AuditRow>()
  return results.map(toStoredAuditEvent)
}

function toStoredAuditEvent(row: AuditRow): StoredAuditEvent {
  return {
    id: row.id,
    occurredAt: row.occurred_at,
    lastOccurredAt: row.last_at ?? row.occurred_at,
    count: row.count,
    action: row.action,
    outcome: row.outcome,
    actor: row.actor,
    target: row.target,
    requestId: row.request_id,
    ip: row.ip,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
  }
}
