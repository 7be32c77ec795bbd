// Builds the dependencies domain functions take from a request's env and context.
import type { Context } from 'hono'
import { loadConfig, type AppEnv } from '../config.ts'
import type { LoginDeps } from '../domain/login.ts'
import { insertAuditEvent, type AuditEvent } from '../storage/audit-events.ts'
import { clientIp } from './client-auth.ts'
import { log } from './log.ts'

/** An audit sink that writes after the response is sent; a failed write is logged, not thrown. */
export function auditSink(c: Context<AppEnv>) {
  const requestId = c.get('requestId')
  const ip = clientIp(c)
  return (event: Omit<AuditEvent, 'requestId' | 'ip'>) => {
    const write = insertAuditEvent(c.env.DB, { ...event, requestId, ip }).catch((cause: unknown) =>
      log('error', 'audit write failed', { requestId, action: event.action, cause: String(cause) }),
    )
    c.executionCtx.waitUntil(write)
  }
}

export async function loginDeps(c: Context<AppEnv>): Promise<LoginDeps> {
  return {
    db: c.env.DB,
    cache: c.env.CACHE,
    clientLimiter: c.env.LOGIN_CLIENT_LIMITER,
    ipLimiter: c.env.LOGIN_IP_LIMITER,
    config: await loadConfig(c.env),
    now: new Date(),
    audit: auditSink(c),
  }
}
