// The audit_events table: token issuance, revocations, failed logins and every admin action.

export type AuditEvent = {
  /** `token.issued`, `token.revoked`, `login.failed`, or an admin action such as `client.create`. */
  action: string
  outcome: 'success' | 'failure'
  actor: string | null
  target: string | null
  requestId: string | null
  ip: string | null
  /** Free-form context. Callers never put secrets, tokens or digests here. */
  detail?: Record<string, unknown>
}

export type StoredAuditEvent = AuditEvent & { id: number; occurredAt: string }

type AuditRow = {
  id: number
  occurred_at: string
  action: string
  outcome: 'success' | 'failure'
  actor: string | null
  target: string | null
  request_id: string | null
  ip: string | null
  detail: string
}

export async function insertAuditEvent(db: D1Database, event: AuditEvent): Promise<void> {
  await db
    .prepare(
      `INSERT INTO audit_events (action, outcome, actor, target, request_id, ip, detail)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
    )
    .bind(
      event.action,
      event.outcome,
      event.actor,
      event.target,
      event.requestId,
      event.ip,
      JSON.stringify(event.detail ?? {}),
    )
    .run()
}

export type AuditFilter = {
  action?: string
  actor?: string
  target?: string
  outcome?: 'success' | 'failure'
  /** ISO 8601 instants, inclusive. */
  since?: string
  until?: string
}

/** A page of events, newest first, with ids below `before`. */
export async function listAuditEvents(
  db: D1Database,
  filter: AuditFilter,
  { before, limit }: { before?: number; limit: number },
): Promise<StoredAuditEvent[]> {
  const { results } = await db
    .prepare(
      `SELECT id, occurred_at, action, outcome, actor, target, request_id, ip, detail FROM audit_events
       WHERE id < ?1 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR actor = ?3)
         AND (?4 IS NULL OR target = ?4) AND (?5 IS NULL OR outcome = ?5)
         AND (?6 IS NULL OR occurred_at >= ?6) AND (?7 IS NULL OR occurred_at <= ?7)
       ORDER BY id DESC LIMIT ?8`,
    )
    .bind(
      before ?? Number.MAX_SAFE_INTEGER,
      filter.action ?? null,
      filter.actor ?? null,
      filter.target ?? null,
      filter.outcome ?? null,
      filter.since ?? null,
      filter.until ?? null,
      limit,
    )
    .all<AuditRow>()
  return results.map((row) => ({
    id: row.id,
    occurredAt: row.occurred_at,
    action: row.action,
    outcome: row.outcome,
    actor: row.actor,
    target: row.target,
    requestId: row.request_id,
    ip: row.ip,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
  }))
}
