// The audit_events table: token issuance, failed logins and (later) admin actions.

export type AuditEvent = {
  action: 'token.issued' | 'token.revoked' | 'login.failed'
  outcome: 'success' | 'failure'
  actor: string | null
  target: string | null
  requestId: string | null
  ip: string | null
  /** Free-form context. Callers never put secrets, tokens or digests here. */
  detail?: Record<string, unknown>
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
