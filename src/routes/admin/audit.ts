// /admin/audit: the audit log, newest first by when events happened, filtered and paged.
import * as z from 'zod'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { storedInstant, TimeRange, toPage } from '../../http/paging.ts'
import { AuditPageQuery } from '../../http/path-params.ts'
import { json, MANAGEMENT, problems } from '../../openapi/operations.ts'
import { AuditPage } from '../../openapi/responses.ts'
import { listAuditEvents, type StoredAuditEvent } from '../../storage/audit-events.ts'

export const audit = new OpenApiApp()

export const AuditQuery = AuditPageQuery.extend({
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
  target: z.string().max(200).optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  ...TimeRange.shape,
})

function view(e: StoredAuditEvent) {
  return {
    id: e.id,
    occurred_at: e.occurredAt,
    last_occurred_at: e.lastOccurredAt,
    count: e.count,
    action: e.action,
    outcome: e.outcome,
    actor: e.actor,
    target: e.target,
    request_id: e.requestId,
    ip: e.ip,
    detail: e.detail,
  }
}

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/',
  operationId: 'listAuditEvents',
  summary: 'The audit log, newest first',
  description:
    'Every issued token, revocation, failed login and admin change, newest first by ' +
    '`occurred_at`. Per-request events (`token.issued`, `token.revoked`, `login.failed`, ' +
    '`admin.refused`) are written in batches and appear a few seconds after the request. ' +
    'Failures alike in all but time and request id within one batch share one item: `count` ' +
    "says how many, `occurred_at` and `request_id` are the first one's, `last_occurred_at` the " +
    "last one's. `since` and `until` compare with `occurred_at`. Events older than the " +
    "deployment's retention (`AUDIT_RETENTION_DAYS`, 30 days by default) are deleted.",
  request: { query: AuditQuery },
  responses: { 200: json('A page.', AuditPage), ...problems(400, 401, 403) },
})

audit.openapi(list, async (c) => {
  // A cursor is the id the previous page ended at (AuditPageQuery). Any other value is refused:
  // read as "no cursor", it would send a client following links back to the first page.
  const { limit, cursor: before, ...filter } = c.req.valid('query')
  const rows = await listAuditEvents(
    c.env.DB,
    { ...filter, since: storedInstant(filter.since), until: storedInstant(filter.until) },
    { before, limit: limit + 1 },
  )
  return c.json(toPage(rows, limit, (e) => String(e.id), view, new URL(c.req.url)))
})
