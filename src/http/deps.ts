// Builds the dependencies domain functions take from a request's env and context.
import type { Context } from 'hono'
import { loadConfig, type AppEnv } from '../config.ts'
import type { LoginDeps } from '../domain/login.ts'
import type { Limiters, ThrottleDeps } from '../domain/throttle.ts'
import type { TokenStateDeps } from '../domain/token-state.ts'
import { insertAuditEvent, type AuditEvent } from '../storage/audit-events.ts'
import { clientIp } from './client-auth.ts'
import { log } from './log.ts'

/** An audit sink that writes after the response is sent; a failed write is logged, not thrown. */
export function auditSink(c: Context<AppEnv>) {
  const requestId = c.get('requestId')
  const ip = clientIp(c)
  return (event: Omit<AuditEvent, 'requestId' | 'ip'>) => {
    const write = insertAuditEvent(c.env.DB, { ...event, requestId, ip })
    c.executionCtx.waitUntil(write.catch((cause: unknown) => logDeferredFailure(c, cause)))
  }
}

export async function loginDeps(c: Context<AppEnv>): Promise<LoginDeps> {
  return {
    db: c.env.DB,
    cache: c.env.CACHE,
    limiters: limiters(c.env),
    config: await loadConfig(c.env),
    now: new Date(),
    audit: auditSink(c),
    warn: (message, fields) => log('warn', message, { requestId: c.get('requestId'), ...fields }),
  }
}

export function throttleDeps(c: Context<AppEnv>): ThrottleDeps {
  return { cache: c.env.CACHE, limiters: limiters(c.env), now: new Date() }
}

function limiters(env: Env): Limiters {
  return {
    pair: env.LOGIN_PAIR_LIMITER,
    address: env.LOGIN_IP_LIMITER,
    clientSignal: env.LOGIN_CLIENT_SIGNAL_LIMITER,
    spikeReport: env.LOGIN_SPIKE_REPORT_LIMITER,
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
    defer: (work) => c.executionCtx.waitUntil(work.catch((cause: unknown) => logDeferredFailure(c, cause))),
  }
}

function logDeferredFailure(c: Context<AppEnv>, cause: unknown) {
  log('error', 'deferred work failed', { requestId: c.get('requestId'), cause: String(cause) })
}
