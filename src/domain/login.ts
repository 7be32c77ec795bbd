// Client-credentials login, shared by every dialect: brute-force throttling, secret or assertion
// check, scope and audience selection, token issuance and the audit trail.
import { decodeJwt } from 'jose'
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
import {
  claimInIsolate,
  rememberEverywhere,
  rememberInLocation,
  seenHere,
  usedJtiKey,
} from '../storage/used-jtis.ts'
import { issuerKeysKey, type IssuerKeys } from '../storage/issuer-keys.ts'
import { ASSERTION_CLOCK_SKEW_SECONDS, verifyClientAssertion } from './client-assertions.ts'
import { checkPlatformToken, claimedIssuer, usedTokenId, usedTokenScope } from './federation.ts'
import { liveKeys } from './client-keys.ts'
import { currentGeneration } from './credential-generations.ts'
import { API_SCOPES } from './scopes.ts'
import { secretMatches } from './secrets.ts'
import type { SigningKeySet } from './signing-keys.ts'
import { detectSpike, lockSubjects, recordFailure, type Limiters } from './throttle.ts'
import { issueAccessToken, type IssuedToken } from './tokens.ts'
import type { Confirmation } from '../token-claims.ts'
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
  /**
   * The key to bind the token to, once the client is known (token-binding.ts confirmationFor);
   * absent: a bearer token, refused to a client that requires DPoP.
   */
  bind?: (client: Client) => Promise<Confirmation | undefined>
}

export type Credentials = {
  clientId: string
  ip: string | null
  /** Which endpoint and dialect asked, for the audit trail. */
  via: string
} & (
  | { clientSecret: string; clientAssertion?: undefined }
  /**
   * private_key_jwt (RFC 7523 §2.2): `clientId` is the one the assertion or the form names. Or a
   * platform's token (decisions.md D38), whose `iss` is not the client: as a client assertion or
   * the JWT bearer grant's assertion (RFC 7523 §2.1), with `clientId` from the form.
   */
  | { clientAssertion: string; clientSecret?: undefined }
)

const BAD_CREDENTIALS =
  'Client authentication failed: unknown client, wrong secret or disabled client.'

/**
 * Authenticates a client by id and secret, or by a private_key_jwt assertion, with brute-force
 * locks on the address and the (client, address) pair: never on the client id alone, which anyone
 * could lock (SECURITY.md "Lockouts"). Throws AppError 401 `invalid_client` (one answer for every
 * reason, decisions.md D6) or 429 `rate_limited`.
 */
export async function authenticateClient(deps: LoginDeps, input: Credentials): Promise<Client> {
  const subjects = lockSubjects(input.clientId, input.ip)
  const assertion = input.clientAssertion
  // A platform's token names its own issuer; a private_key_jwt assertion names the client.
  const platformIssuer = assertion === undefined ? null : claimedIssuer(assertion)
  const federated = platformIssuer !== null && platformIssuer !== input.clientId
  const [jtiKey, keysKey] = await Promise.all([
    assertion === undefined
      ? null
      : federated
        ? usedJtiKey(usedTokenScope(platformIssuer), usedTokenId(assertion))
        : claimedJtiKey(input.clientId, assertion),
    federated ? issuerKeysKey(platformIssuer) : null,
  ])
  const alsoRead = [jtiKey, keysKey].filter((key): key is string => key !== null)
  const at = Date.now()
  // The location's memory of used assertions is asked while KV is read: no added wait.
  const [{ client, lockedFor, edge }, seenInLocation] = await Promise.all([
    findClientAndLocks(deps, input.clientId, subjects, alsoRead),
    jtiKey ? seenHere(deps.config.issuer, jtiKey, at) : false,
  ])
  if (lockedFor > 0) {
    deps.audit(failure(input, 'locked'))
    throw tooManyAttempts(lockedFor)
  }

  let reason: string | null
  if (assertion === undefined) {
    // Always hash and compare a secret, even for an unknown client: the same work either way
    // (decisions.md D6).
    const digests = client ? validDigests(client, deps.now) : []
    const matches = await secretMatches(deps.config.pepper, input.clientSecret, digests)
    reason = !client ? 'unknown_client' : !matches ? 'wrong_secret' : refusedStatus(client)
  } else if (!client) {
    reason = 'unknown_client'
  } else {
    const check = federated
      ? await checkPlatformToken(
          { issuer: deps.config.issuer, now: deps.now, cache: deps.cache, defer: deps.defer },
          client.trustedIssuers ?? [],
          assertion,
          { key: keysKey!, value: (edge.get(keysKey!) as IssuerKeys | null) ?? null },
        )
      : await verifyClientAssertion(liveKeys(client.keys, deps.now), assertion, {
          clientId: input.clientId,
          audiences: assertionAudiences(deps.config.issuer),
          now: deps.now,
        })
    reason = !check.ok ? check.reason : refusedStatus(client)
    if (!reason && check.ok) {
      const used = { key: jtiKey, exp: check.exp, edge, seenInLocation, at }
      if (!(await claimAssertion(deps, used))) reason = 'assertion_replayed'
    }
  }
  if (reason) {
    deps.audit(failure(input, reason))
    await countFailure(deps, input, subjects)
    throw new AppError('invalid_client', BAD_CREDENTIALS)
  }
  return client!
}

/**
 * The audiences an assertion may name, as its sole value (decisions.md D29): the issuer
 * (draft-ietf-oauth-rfc7523bis), or the token endpoint, which RFC 7523 §3 item 3 and OpenID Connect
 * Core §9 name and Authlib and requests-oauth2client send by default; at every endpoint that takes
 * client credentials.
 */
export function assertionAudiences(issuer: string): string[] {
  return [issuer, `${issuer}/oauth/token`]
}

/** The replay key of the jti the assertion claims (unverified: only to read it with the rest). */
async function claimedJtiKey(clientId: string, assertion: string): Promise<string | null> {
  try {
    const { jti } = decodeJwt(assertion)
    return typeof jti === 'string' && jti !== '' ? await usedJtiKey(clientId, jti) : null
  } catch {
    return null
  }
}

/**
 * Uses a verified assertion's jti up (RFC 7523 §3 item 7): false when it was used before, as this
 * isolate, its location (Cache API) or KV remembers. The use is remembered in the location before
 * the answer and in KV after it, for the assertion's remaining life plus the clock skew.
 */
async function claimAssertion(
  deps: LoginDeps,
  used: {
    key: string | null
    exp: number
    edge: ReadonlyMap<string, unknown>
    seenInLocation: boolean
    at: number
  },
): Promise<boolean> {
  const { key, exp, edge, seenInLocation, at } = used
  if (!key || seenInLocation || edge.get(key) != null) return false
  const until = (exp + ASSERTION_CLOCK_SKEW_SECONDS) * 1000
  if (!claimInIsolate(key, until, at)) return false
  const ttl = (until - at) / 1000
  await rememberInLocation(deps.config.issuer, key, ttl)
  deps.defer(() => rememberEverywhere(deps.cache, key, ttl))
  return true
}

/** Why an authenticated client may not log in (disabled, or its provider is), or null. */
function refusedStatus(client: Client): string | null {
  if (client.status !== 'active') return 'client_disabled'
  if (client.providerStatus === 'disabled') return 'provider_disabled'
  return null
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
  alsoRead: readonly string[],
): Promise<{ client: Client | null; lockedFor: number; edge: ReadonlyMap<string, unknown> }> {
  const [locks, recordKeys] = await Promise.all([lockKeys(subjects), clientRecordKeys(clientId)])
  const keys = [...(recordKeys ? [recordKeys.published, recordKeys.filled] : []), ...locks]
  keys.push(...alsoRead)
  const edge = await orUnavailable(readEdgeState(deps.cache, keys, deps.config.edgeMemoryMs))
  const lockedFor = secondsLocked(
    locks.map((key) => edge.get(key)),
    deps.now,
  )
  const record = recordKeys ? pickClientRecord(edge, recordKeys) : null
  if (record || !recordKeys || lockedFor > 0) {
    return { client: record?.client ?? null, lockedFor, edge }
  }

  const client = await orUnavailable(findClientById(deps.db, clientId))
  // Only a client that exists is filled: unknown ids from strangers must not fill KV.
  if (client) {
    const fill: ClientRecord = { client, tokensValidAfter: client.tokensValidAfter }
    deps.defer(() => fillClientRecord(deps.cache, clientId, fill))
  }
  return { client, lockedFor, edge }
}

/**
 * Authenticates a client and issues it an access token.
 * Throws what authenticateClient throws, and 400 `invalid_scope` or `invalid_target`.
 */
export async function loginClient(deps: LoginDeps, input: LoginInput): Promise<IssuedToken> {
  const client = await authenticateClient(deps, input)
  const scopes = selectScopes(client, input.scopes)
  const audiences = selectAudiences(client, scopes, input.audiences, deps.config.resource)
  const confirmation = input.bind ? await input.bind(client) : undefined
  if (client.dpopBoundAccessTokens === true && !confirmation?.jkt) {
    const detail = 'This client gets DPoP-bound tokens only: ask /oauth/token with a DPoP proof.'
    throw new AppError('invalid_dpop_proof', detail)
  }
  const issued = await issueAccessToken(
    deps.config.keys,
    {
      issuer: deps.config.issuer,
      clientId: client.id,
      providerId: client.providerId,
      scopes,
      audiences,
      lifetimeSeconds: client.tokenLifetime,
      confirmation,
      generation: currentGeneration(client),
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

/**
 * The current secret's digest, and the previous one while its grace period lasts. None for a
 * client with keys only (an empty digest): then the secret is compared with a decoy.
 */
function validDigests(client: Client, now: Date): string[] {
  const graceLeft = (client.previousSecretExpiresAt ?? 0) > epochSeconds(now)
  const digests = [client.secretDigest]
  if (client.previousSecretDigest && graceLeft) digests.push(client.previousSecretDigest)
  return digests.filter(Boolean)
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
