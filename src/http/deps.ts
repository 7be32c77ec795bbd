// Builds the dependencies domain functions take from a request's env and context.
import type { Context } from 'hono'
import { loadConfig, type AppEnv } from '../config.ts'
import type { LoginDeps } from '../domain/login.ts'
import type { TokenStateDeps } from '../domain/token-state.ts'
import { boundAuditEvent, type AuditEvent, type OccurredAuditEvent } from '../storage/audit-events.ts'
import { clientIp } from './client-auth.ts'

/**
 * An audit sink for per-request events (issued tokens, failed logins, revocations, refused admin
 * calls): each goes to the audit queue after the response is sent, and its consumer writes them to
 * D1 in batches, so no request waits for D1 or costs it a write. A failed send is logged, not
 * thrown.
 */
export function auditSink(c: Context<AppEnv>) {
  const requestId = c.get('requestId')
  const ip = clientIp(c)
  return (event: Omit<AuditEvent, 'requestId' | 'ip'>) => {
    const body: OccurredAuditEvent = { ...event, requestId, ip, occurredAt: new Date().toISOString() }
    c.get('defer')(() => c.env.AUDIT_QUEUE.send(boundAuditEvent(body), { contentType: 'json' }))
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
    defer: c.get('defer'),
  }
}

export async function tokenStateDeps(c: Context<AppEnv>): Promise<TokenStateDeps> {
  const { keys, issuer } = await loadConfig(c.env)
  return {
    db: c.env.DB,
    cache: c.env.CACHE,
    keys,
    issuer,
    now: new Date(),
    defer: c.get('defer'),
  }
}
