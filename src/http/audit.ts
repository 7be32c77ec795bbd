// The audit trail of /admin: each change an operator makes is one row; calls refused before the
// caller was authenticated are counted through the audit queue.
import type { Context, MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { routePattern } from './access-log.ts'
import type { AppEnv } from './app-env.ts'
import { insertAuditEvent } from '../storage/audit-events.ts'
import { clientIp } from './client-auth.ts'
import { auditSink } from './deps.ts'

/** Names the action a handler performs, for the audit log (never a secret in `detail`). */
export function auditAs(
  c: Context<AppEnv>,
  action: string,
  target?: string,
  detail?: Record<string, unknown>,
) {
  c.set('adminAction', { action, target, detail })
}

/**
 * Goes after authentication. After each changing request (not GET), writes one audit row, after
 * the response: the action the handler named, or the method and route pattern when it failed
 * before naming one; success for 2xx, failure otherwise; the authenticated operator as actor.
 */
export function auditAdminActions(): MiddlewareHandler<AppEnv> {
  return async function auditAdminActions(c, next) {
    await next()
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return
    const named = c.get('adminAction')
    const status = c.res.status
    const event = {
      action: named?.action ?? `${c.req.method} ${auditedRoute(c)}`,
      outcome: status < 400 ? 'success' : 'failure',
      actor: c.get('auth')?.clientId ?? null,
      target: named?.target ?? null,
      requestId: c.get('requestId'),
      ip: clientIp(c),
      detail: { status, ...named?.detail },
      occurredAt: new Date().toISOString(),
    } as const
    c.get('defer')(() => insertAuditEvent(c.env.DB, event))
  }
}

/**
 * Goes before authentication. A call that did not get past it (no token, a bad one, or one
 * without the scope: 401 or 403) is nobody's action: it goes to the audit queue as
 * `admin.refused` with its method and route pattern (never the raw path) and its status, and the
 * queue's consumer counts repeats from one address into one row. Anyone can make such calls, so
 * none of them costs a D1 write of its own.
 */
export function auditRefusedAdminCalls(): MiddlewareHandler<AppEnv> {
  return async function auditRefusedAdminCalls(c, next) {
    await next()
    if (c.get('auth')) return
    auditSink(c)({
      action: 'admin.refused',
      outcome: 'failure',
      actor: null,
      target: `${c.req.method} ${auditedRoute(c)}`,
      detail: { status: c.res.status },
    })
  }
}

/**
 * The pattern of the route the request was for (`/admin/clients/:id`): the access log's, else the
 * middleware's own (`/admin/*`) for a path no route serves. Never caller input.
 */
function auditedRoute(c: Context<AppEnv>): string {
  return routePattern(c) ?? routePath(c)
}
