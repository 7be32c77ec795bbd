// /admin/audit: the audit log, newest first by when events happened, filtered and paged.
import { createRoute } from '@hono/zod-openapi'
import * as z from 'zod'
import { OpenApiApp } from '../../http/openapi-app.ts'
import { badCursor, PageQuery, toPage } from '../../http/paging.ts'
import { json, MANAGEMENT, problems } from '../../openapi/operations.ts'
import { AuditPage } from '../../openapi/responses.ts'
import { listAuditEvents, type StoredAuditEvent } from '../../storage/audit-events.ts'

export const audit = new OpenApiApp()

// An instant in UTC (Z) or with its offset (+02:00): both name one moment, compared in UTC below.
const instant = (error: string) => z.iso.datetime({ offset: true, error })

export const AuditQuery = PageQuery.extend({
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
  target: z.string().max(200).optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  since: instant('since must be an ISO 8601 instant such as 2026-11-22T00:00:00Z').optional(),
  until: instant('until must be an ISO 8601 instant such as 2026-11-22T23:59:59Z').optional(),
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
  const { limit, cursor, ...filter } = c.req.valid('query')
  // A cursor is the id the previous page ended at. Any other value is refused: read as "no cursor",
  // it would send a client following links back to the first page, over and over.
  if (cursor !== undefined && !/^\d{1,15}$/.test(cursor)) {
    throw badCursor()
  }
  const before = cursor === undefined ? undefined : Number(cursor)
  // Stored instants carry milliseconds and Z; normalise the filter bounds to compare as text.
  const iso = (t?: string) => (t ? new Date(t).toISOString() : undefined)
  const rows = await listAuditEvents(
    c.env.DB,
    { ...filter, since: iso(filter.since), until: iso(filter.until) },
    { before, limit: limit + 1 },
  )
  return c.json(toPage(rows, limit, (e) => String(e.id), view, new URL(c.req.url)))
})
