// Records every admin action in the audit log, with its outcome, whichever way the request ends.
import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from '../config.ts'
import { insertAuditEvent } from '../storage/audit-events.ts'
import { clientIp } from './client-auth.ts'
import { logDeferredFailure } from './deps.ts'

export type AdminAction = { action: string; target?: string; detail?: Record<string, unknown> }

/** Names the action a handler performs, for the audit log (never a secret in `detail`). */
export function auditAs(c: Context<AppEnv>, action: string, target?: string, detail?: Record<string, unknown>) {
  c.set('adminAction', { action, target, detail })
}

/**
 * After each changing request (not GET), writes one audit row, after the response: the action the
 * handler named, or the method and path when it failed before naming one; success for 2xx,
 * failure otherwise.
 */
export function auditAdminActions(): MiddlewareHandler<AppEnv> {
  return async function auditAdminActions(c, next) {
    await next()
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return
    const named = c.get('adminAction')
    const status = c.res.status
    const write = insertAuditEvent(c.env.DB, {
      action: named?.action ?? `${c.req.method} ${c.req.path}`,
      outcome: status < 400 ? 'success' : 'failure',
      actor: c.get('auth')?.clientId ?? null,
      target: named?.target ?? null,
      requestId: c.get('requestId'),
      ip: clientIp(c),
      detail: { status, ...named?.detail },
      occurredAt: new Date().toISOString(),
    })
    c.executionCtx.waitUntil(write.catch((cause: unknown) => logDeferredFailure(c, cause)))
  }
}
