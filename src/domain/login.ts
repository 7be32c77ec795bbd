// Client-credentials login, shared by every dialect: brute-force throttling, secret check, scope
// and audience selection, token issuance and the audit trail.
import { AppError, orUnavailable } from '../errors.ts'
import type { AuditEvent } from '../storage/audit-events.ts'
import {
  clientRecordKeys,
  fillClientRecord,
  pickClientRecord,
  type ClientRecord,
} from '../storage/client-records.ts'
import { findClientById, type Client } from '../storage/clients.ts'
import { readEdgeState } from '../storage/edge-state.ts'
import { lockKeys, secondsLocked, type LockSubject } from '../storage/login-locks.ts'
import { API_SCOPES } from './scopes.ts'
import { secretMatches } from './secrets.ts'
import type { SigningKeySet } from './signing-keys.ts'
import { detectSpike, lockSubjects, recordFailure, type Limiters } from './throttle.ts'
import { issueAccessToken, type IssuedToken } from './tokens.ts'
import { epochSeconds } from '../utils/time.ts'

/** The settings login reads: config.ts's Config has them all. */
export type LoginSettings = {
  issuer: string
  /** The audience Portero's own API requires. */
  resource: string
  keys: SigningKeySet
  pepper: CryptoKey
  edgeMemoryMs: number
}

export type LoginDeps = {
  db: D1Database
  cache: KVNamespace
  limiters: Limiters
  config: LoginSettings
  now: Date
  /** Records an audit event without delaying the response. */
  audit: (event: Omit<AuditEvent, 'requestId' | 'ip'>) => void
  /** Runs work after the response is sent (the client record's fill). */
  defer: (task: () => Promise<unknown>) => void
  /** Logs a warning for operators. */
  warn: (message: string, fields: Record<string, unknown>) => void
}

export type LoginInput = Credentials & {
  /** Requested scopes; absent means every scope the client is allowed. */
  scopes?: string[]
  /** Requested audiences; absent means the client's configured audiences. */
  audiences?: string[]
}

export type Credentials = {
  clientId: string
  clientSecret: string
  ip: string | null
  /** Which endpoint and dialect asked, for the audit trail. */
  via: string
}

const BAD_CREDENTIALS =
  'Client authentication failed: unknown client, wrong secret or disabled client.'

/**
 * Authenticates a client by id and secret, with brute-force locks on the address and the (client,
 * address) pair: never on the client id alone, which anyone could lock (SECURITY.md "Lockouts").
 * Throws AppError 401 `invalid_client` (one answer for every reason, decisions.md D6) or 429
 * `rate_limited`.
 */
export async function authenticateClient(deps: LoginDeps, input: Credentials): Promise<Client> {
  const subjects = lockSubjects(input.clientId, input.ip)

  const { client, lockedFor } = await findClientAndLocks(deps, input.clientId, subjects)
  if (lockedFor > 0) {
    deps.audit(failure(input, 'locked'))
    throw tooManyAttempts(lockedFor)
  }

  // Always hash and compare, even for an unknown client: the same work either way
  // (decisions.md D6).
  const matches = await secretMatches(
    deps.config.pepper,
    input.clientSecret,
    client ? validDigests(client, deps.now) : [],
  )
  const disabled = client && (client.status !== 'active' || client.providerStatus === 'disabled')
  if (!client || !matches || disabled) {
    const reason = !client
      ? 'unknown_client'
      : !matches
        ? 'wrong_secret'
        : client.status !== 'active'
          ? 'client_disabled'
          : 'provider_disabled'
    deps.audit(failure(input, reason))
    await countFailure(deps, input, subjects)
    throw new AppError('invalid_client', BAD_CREDENTIALS)
  }
  return client
}

/**
 * The client and its login locks, in one KV bulk read: the client's edge record and the locks'
 * entries. D1 is read only when the record is not at the edge, and never while a lock holds; what
 * it says is written back after the response. An id no client can have is not looked up at all.
 */
async function findClientAndLocks(
  deps: LoginDeps,
  clientId: string,
  subjects: LockSubject[],
): Promise<{ client: Client | null; lockedFor: number }> {
  const [locks, recordKeys] = await Promise.all([lockKeys(subjects), clientRecordKeys(clientId)])
  const keys = recordKeys ? [recordKeys.published, recordKeys.filled, ...locks] : locks
  const edge = await orUnavailable(readEdgeState(deps.cache, keys, deps.config.edgeMemoryMs))
  const lockedFor = secondsLocked(
    locks.map((key) => edge.get(key)),
    deps.now,
  )
  const record = recordKeys ? pickClientRecord(edge, recordKeys) : null
  if (record || !recordKeys || lockedFor > 0) return { client: record?.client ?? null, lockedFor }

  const client = await orUnavailable(findClientById(deps.db, clientId))
  // Only a client that exists is filled: unknown ids from strangers must not fill KV.
  if (client) {
    const fill: ClientRecord = { client, tokensValidAfter: client.tokensValidAfter }
    deps.defer(() => fillClientRecord(deps.cache, clientId, fill))
  }
  return { client, lockedFor }
}

/**
 * Authenticates a client and issues it an access token.
 * Throws what authenticateClient throws, and 400 `invalid_scope` or `invalid_target`.
 */
export async function loginClient(deps: LoginDeps, input: LoginInput): Promise<IssuedToken> {
  const client = await authenticateClient(deps, input)
  const scopes = selectScopes(client, input.scopes)
  const audiences = selectAudiences(client, scopes, input.audiences, deps.config.resource)
  const issued = await issueAccessToken(
    deps.config.keys,
    {
      issuer: deps.config.issuer,
      clientId: client.id,
      providerId: client.providerId,
      scopes,
      audiences,
      lifetimeSeconds: client.tokenLifetime,
    },
    deps.now,
  )
  deps.audit({
    action: 'token.issued',
    outcome: 'success',
    actor: client.id,
    target: client.id,
    detail: { via: input.via, jti: issued.claims.jti, scope: issued.claims.scope, aud: audiences },
  })
  return issued
}

/** The current secret's digest, and the previous one while its grace period lasts. */
function validDigests(client: Client, now: Date): string[] {
  const graceLeft = (client.previousSecretExpiresAt ?? 0) > epochSeconds(now)
  return client.previousSecretDigest && graceLeft
    ? [client.secretDigest, client.previousSecretDigest]
    : [client.secretDigest]
}

function failure(input: Credentials, reason: string): Omit<AuditEvent, 'requestId' | 'ip'> {
  return {
    action: 'login.failed',
    outcome: 'failure',
    actor: null,
    target: input.clientId,
    detail: { via: input.via, reason },
  }
}

/**
 * Counts a failure against the (client, address) pair and the address, locking whichever went over
 * its limit. Failures of one client id from many addresses are only reported, once a minute.
 */
async function countFailure(
  deps: LoginDeps,
  input: Credentials,
  subjects: LockSubject[],
): Promise<void> {
  const [lockedFor, spike] = await Promise.all([
    recordFailure(deps, subjects),
    detectSpike(deps, input.clientId),
  ])
  if (spike) {
    const { clientId, via } = input
    deps.warn('failed logins for one client id from many addresses', { clientId, via })
    deps.audit({
      action: 'login.spike',
      outcome: 'failure',
      actor: null,
      target: clientId,
      detail: { via },
    })
  }
  if (lockedFor > 0) throw tooManyAttempts(lockedFor)
}

function tooManyAttempts(retryAfter: number): AppError {
  return new AppError(
    'rate_limited',
    `Too many failed logins for this client or from this address. Retry in ${retryAfter} s.`,
    { headers: { 'retry-after': String(retryAfter) } },
  )
}

function selectScopes(client: Client, requested: string[] | undefined): string[] {
  if (!requested) return client.allowedScopes
  const refused = requested.filter((s) => !client.allowedScopes.includes(s))
  if (refused.length > 0) {
    throw new AppError('invalid_scope', `Scope not allowed for this client: ${refused.join(' ')}.`)
  }
  return [...new Set(requested)]
}

/**
 * The token's `aud`: the client's configured audiences, plus Portero's own resource when `scopes`
 * reach Portero's API (RFC 9068 §4: the API refuses tokens not naming it); only the resource when
 * none are configured. A request for some of them (RFC 8707) gets exactly those.
 */
function selectAudiences(
  client: Client,
  scopes: readonly string[],
  requested: string[] | undefined,
  resource: string,
): string[] {
  const forApi = scopes.some((s) => API_SCOPES.includes(s))
  const allowed =
    client.audiences.length === 0
      ? [resource]
      : [...new Set(forApi ? [...client.audiences, resource] : client.audiences)]
  if (!requested) return allowed
  const refused = requested.filter((a) => !allowed.includes(a))
  if (refused.length > 0) {
    const detail = `Audience not allowed for this client: ${refused.join(' ')}.`
    throw new AppError('invalid_target', detail)
  }
  return [...new Set(requested)]
}
