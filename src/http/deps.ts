// Builds the dependencies domain functions take from a request's env, config and context: every
// route gets them here, so each binding and setting is wired in one place.
import type { Context } from 'hono'
import { dispatchQueueOf, loadChannelConfig, loadConfig, loadSendQuotas } from '../config.ts'
import type { AppEnv } from './app-env.ts'
import type { ClientRecordDeps } from '../domain/client-records.ts'
import type { ClientDeps } from '../domain/clients.ts'
import { sendShardName } from '../domain/admission.ts'
import type { SendShardApi } from '../domain/acceptance.ts'
import { shardDatabaseIn } from '../storage/shard-database.ts'
import type { DispatchDeps } from '../domain/dispatch.ts'
import type { ProofDeps } from '../domain/dpop.ts'
import type { LoginDeps } from '../domain/login.ts'
import type { RevocationDeps } from '../domain/revocation.ts'
import type { Limiters, ThrottleDeps } from '../domain/throttle.ts'
import type { TokenStateDeps } from '../domain/token-state.ts'
import type { WebhookDeps, RedeliveryDeps } from '../domain/webhooks.ts'
import {
  boundAuditEvent,
  type AuditEvent,
  type OccurredAuditEvent,
} from '../storage/audit-events.ts'
import { clientIp } from './client-auth.ts'
import { claimInLocation } from '../storage/used-jtis.ts'
import { log } from '../log.ts'
import { configuredChannels } from '../channels/channels.ts'

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
    const body: OccurredAuditEvent = {
      ...event,
      requestId,
      ip,
      occurredAt: new Date().toISOString(),
    }
    c.get('defer')(() => c.env.AUDIT_QUEUE.send(boundAuditEvent(body), { contentType: 'json' }))
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
    defer: c.get('defer'),
    warn: (message, fields) => log('warn', message, { requestId: c.get('requestId'), ...fields }),
  }
}

export function throttleDeps(c: Context<AppEnv>): ThrottleDeps {
  return { cache: c.env.CACHE, limiters: limiters(c.env), now: new Date() }
}

/** The rate-limit bindings the throttle counts with (wrangler.toml). */
export function limiters(env: Env): Limiters {
  return {
    pair: env.LOGIN_PAIR_LIMITER,
    address: env.LOGIN_IP_LIMITER,
    clientSignal: env.LOGIN_CLIENT_SIGNAL_LIMITER,
    spikeReport: env.LOGIN_SPIKE_REPORT_LIMITER,
  }
}

export async function tokenStateDeps(c: Context<AppEnv>): Promise<TokenStateDeps> {
  const { keys, issuer, edgeMemoryMs } = await loadConfig(c.env)
  return {
    db: c.env.DB,
    cache: c.env.CACHE,
    keys,
    issuer,
    now: new Date(),
    memoryMs: edgeMemoryMs,
    defer: c.get('defer'),
  }
}

/** DPoP proofs: nonces under the key from SECRET_PEPPER, jtis in this location's Cache API. */
export async function proofDeps(c: Context<AppEnv>): Promise<ProofDeps> {
  const { issuer, dpopNonceKey } = await loadConfig(c.env)
  return {
    now: new Date(),
    nonceKey: dpopNonceKey,
    replay: { claim: (key, ttlSeconds) => claimInLocation(issuer, key, ttlSeconds) },
  }
}

export function clientRecordDeps(c: Context<AppEnv>): ClientRecordDeps {
  return { db: c.env.DB, cache: c.env.CACHE, now: new Date() }
}

export async function clientDeps(c: Context<AppEnv>): Promise<ClientDeps> {
  const { pepper, issuer } = await loadConfig(c.env)
  return { db: c.env.DB, cache: c.env.CACHE, pepper, issuer, now: new Date() }
}

export async function revocationDeps(c: Context<AppEnv>): Promise<RevocationDeps> {
  const { keys, issuer } = await loadConfig(c.env)
  return { db: c.env.DB, cache: c.env.CACHE, keys, issuer, now: new Date() }
}

export async function dispatchDeps(c: Context<AppEnv>): Promise<DispatchDeps> {
  const requestId = c.get('requestId')
  const { issuer, pictureIdKey } = await loadConfig(c.env)
  return {
    queue: dispatchQueueOf(c.env),
    channels: configuredChannels(loadChannelConfig(c.env)),
    quotas: loadSendQuotas(c.env),
    shardOf: (name) => c.env.SEND_SHARDS.getByName(name),
    now: new Date(),
    // Pictures are public under the issuer's origin.
    pictures: { cache: c.env.CACHE, idKey: pictureIdKey, issuer },
    warn: (text, fields) => log('warn', text, { requestId, ...fields }),
    defer: c.get('defer'),
  }
}

/** The database of the send shard `name`, where its messages live (decisions.md D32). */
export function shardDatabaseOf(env: Env, name: string): D1Database {
  return shardDatabaseIn(env.SEND_SHARDS, name)
}

/** A provider's first send shard (`index` null) or one of several (src/shards/send-shard.ts). */
export function sendShardOf(
  c: Context<AppEnv>,
  providerId: string,
  index: number | null,
): SendShardApi {
  return c.env.SEND_SHARDS.getByName(sendShardName(providerId, index))
}

/** What sending webhook events again needs (domain/webhooks.ts redeliverWebhookEvents). */
export function redeliveryDeps(c: Context<AppEnv>): RedeliveryDeps {
  return { db: c.env.DB, queue: c.env.WEBHOOK_QUEUE, now: new Date() }
}

export async function webhookDeps(c: Context<AppEnv>): Promise<WebhookDeps> {
  const { issuer, resource, webhookSecretKey } = await loadConfig(c.env)
  return {
    db: c.env.DB,
    secretKey: webhookSecretKey,
    ownOrigins: [...new Set([issuer, resource])],
    now: new Date(),
  }
}
