// Federated clients (decisions.md D38): a client authenticates with a token another platform
// issued to its workload (a CI job's OIDC token, a Kubernetes service-account token), as a client
// assertion (RFC 7523 §2.2) or as the JWT bearer grant (RFC 7523 §2.1). This module says which
// issuers a client may trust, whether a token is one of the client's, and where the issuer's keys
// come from; the login (login.ts) adds the client's status, single use and the brute-force limits.
import { decodeProtectedHeader, type JWK } from 'jose'
import { storeIssuerKeys, type IssuerKeys } from '../storage/issuer-keys.ts'
import type { TrustedIssuer } from '../storage/trusted-issuers.ts'
import { log } from '../log.ts'
import { fetchJsonSafely } from '../utils/safe-fetch.ts'
import { epochSeconds } from '../utils/time.ts'
import {
  checkLifetime,
  namesOnly,
  unverifiedClaims,
  verifyAssertionJwt,
  type AssertionCheck,
} from './client-assertions.ts'
import { isLocalIssuer } from './secrets.ts'

/** RFC 7523 §2.1: the grant type whose `assertion` is the token. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/** A client trusts at most this many issuers (and subjects). */
export const MAX_TRUSTED_ISSUERS = 10
/** Keys a fixed or fetched key set may hold. */
export const MAX_ISSUER_KEYS = 20
/** A discovery document or key set: GitHub's is about 2 KB. */
export const ISSUER_DOCUMENT_MAX_BYTES = 64 * 1024
/** Each of the two fetches (discovery, keys). */
export const ISSUER_FETCH_TIMEOUT_MS = 3000
/** Keys are fetched again for an unknown kid at most this often per issuer. */
export const ISSUER_REFRESH_INTERVAL_SECONDS = 60

const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e'] as const

/** The `iss` a token names, unverified: only to read its issuer's keys with the rest. */
export function claimedIssuer(token: string): string | null {
  const iss = unverifiedClaims(token)?.iss
  return typeof iss === 'string' && iss !== '' && iss.length <= 512 ? iss : null
}

/**
 * Whether `subject` matches `pattern`: `*` stands for one or more characters other than `:`, every
 * other character for itself (docs/tokens.md "Federated clients"). No wildcard crosses a colon, so
 * both split at colons into as many segments; each segment is matched in time proportional to the
 * product of the lengths, whatever the pattern (no regular expression to backtrack).
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const wanted = pattern.split(':')
  const given = subject.split(':')
  return (
    wanted.length === given.length && wanted.every((part, i) => segmentMatches(part, given[i]!))
  )
}

function segmentMatches(pattern: string, segment: string): boolean {
  const text = [...segment]
  // matched[j]: the pattern so far matches the first j characters of text.
  let matched = Array.from({ length: text.length + 1 }, (_, j) => j === 0)
  for (const char of pattern) {
    const next = new Array<boolean>(text.length + 1).fill(false)
    for (let j = 1; j <= text.length; j++) {
      next[j] =
        char === '*' ? matched[j - 1]! || next[j - 1]! : matched[j - 1]! && text[j - 1] === char
    }
    matched = next
  }
  return matched[text.length]!
}

export type IssuerKeysDeps = {
  /** Portero's issuer: a localhost issuer may be trusted only while it is localhost too. */
  issuer: string
  now: Date
  fetch?: typeof globalThis.fetch
}

/** The keys of a trusted issuer found through discovery: fetched, or why not. */
export type FetchedKeys = { ok: true; keys: JWK[] } | { ok: false; reason: string }

/**
 * OpenID Connect Discovery 1.0 §4: `{issuer}/.well-known/openid-configuration`, whose `issuer`
 * must be the issuer exactly (§4.3), then its `jwks_uri`; both within the limits of
 * fetchJsonSafely, and the keys' public members only.
 */
export async function fetchIssuerKeys(deps: IssuerKeysDeps, issuer: string): Promise<FetchedKeys> {
  const options = {
    allowLocalhost: isLocalIssuer(deps.issuer),
    timeoutMs: ISSUER_FETCH_TIMEOUT_MS,
    maxBytes: ISSUER_DOCUMENT_MAX_BYTES,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  }
  const discovery = await fetchJsonSafely(
    `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
    options,
  )
  if (!discovery.ok) return { ok: false, reason: `discovery ${discovery.reason}` }
  const document = discovery.json as { issuer?: unknown; jwks_uri?: unknown } | null
  if (document?.issuer !== issuer) return { ok: false, reason: 'discovery names another issuer' }
  if (typeof document.jwks_uri !== 'string')
    return { ok: false, reason: 'discovery has no jwks_uri' }
  const jwks = await fetchJsonSafely(document.jwks_uri, options)
  if (!jwks.ok) return { ok: false, reason: `jwks ${jwks.reason}` }
  const keys = publicKeysOf(jwks.json)
  return keys ? { ok: true, keys } : { ok: false, reason: 'jwks is not a JWK set' }
}

/** A JWK set's keys, public members only, or null when it is not one (or holds too many). */
function publicKeysOf(value: unknown): JWK[] | null {
  const keys = (value as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_ISSUER_KEYS) return null
  const out: JWK[] = []
  for (const key of keys) {
    if (typeof key !== 'object' || key === null || typeof key.kty !== 'string') return null
    // Symmetric keys, and keys meant for encryption, verify nothing here.
    if (key.kty === 'oct' || (key.use !== undefined && key.use !== 'sig')) continue
    const kept: Record<string, unknown> = {}
    for (const member of PUBLIC_MEMBERS)
      if (typeof key[member] === 'string') kept[member] = key[member]
    out.push(kept as JWK)
  }
  return out
}

/**
 * Refreshes allowed per issuer in this isolate: a second request with an unknown kid (or a cold
 * one) within a minute does not fetch again before the first one's keys reach KV.
 */
const lastFetch = new Map<string, { at: number; keys: JWK[] | null }>()
const LAST_FETCH_MAX_ENTRIES = 256

/**
 * The keys that may verify a token of `issuer` with `kid`: those cached at the edge, fetched again
 * when none are or the kid is unknown to them, at most once a minute. `store` is called with keys
 * fetched now (for the caller to write after the response). A reason when none can be had: a key
 * fetch that fails refuses, it never accepts.
 */
export async function keysForToken(
  deps: IssuerKeysDeps,
  issuer: string,
  kid: string | undefined,
  cached: IssuerKeys | null,
  store: (keys: IssuerKeys) => void,
): Promise<{ keys: JWK[] } | { reason: string }> {
  const at = epochSeconds(deps.now)
  const known = (keys: readonly JWK[]) => kid === undefined || keys.some((k) => k.kid === kid)
  if (cached && known(cached.keys)) return { keys: cached.keys }
  const recent = lastFetch.get(issuer)
  const fetchedLately = (fetchedAt: number) => at - fetchedAt < ISSUER_REFRESH_INTERVAL_SECONDS
  if (cached && fetchedLately(cached.fetchedAt)) return { keys: cached.keys }
  if (recent && fetchedLately(recent.at)) {
    return recent.keys ? { keys: recent.keys } : { reason: 'issuer_keys_unavailable' }
  }
  const fetched = await fetchIssuerKeys(deps, issuer)
  if (lastFetch.size >= LAST_FETCH_MAX_ENTRIES) lastFetch.clear()
  lastFetch.set(issuer, { at, keys: fetched.ok ? fetched.keys : (cached?.keys ?? null) })
  if (!fetched.ok) {
    return cached ? { keys: cached.keys } : { reason: 'issuer_keys_unavailable' }
  }
  store({ keys: fetched.keys, fetchedAt: at })
  return { keys: fetched.keys }
}

/** Forgets this isolate's recent fetches (tests of the refresh). */
export function forgetIssuerFetches(): void {
  lastFetch.clear()
}

/**
 * Verifies a platform's `token` against one trust of the client: what every client JWT passes
 * (verifyAssertionJwt: the algorithm, the signature with `keys` by kid, or each key when the token
 * names none, `iss` the trusted issuer), `aud` the required audience as its sole value, `exp` at
 * most an hour ahead, `iat` not older than that, the subject and the required claims. Its single
 * use is the login's: by its `jti`, or the whole token when it has none.
 */
export async function verifyPlatformToken(
  trust: TrustedIssuer,
  keys: readonly JWK[],
  token: string,
  { audience, now }: { audience: string; now: Date },
): Promise<AssertionCheck> {
  const verified = await verifyAssertionJwt(
    token,
    (_, kid) => keys.filter((key) => kid === undefined || key.kid === kid),
    { issuer: trust.issuer, requiredClaims: [], now },
  )
  if (!verified.ok) return verified
  const { payload } = verified
  if (!namesOnly(payload.aud, [audience])) return { ok: false, reason: 'assertion_aud_invalid' }
  const sub = payload.sub
  const subjectOk =
    typeof sub === 'string' &&
    (trust.subjectIsPattern ? subjectMatches(trust.subject, sub) : sub === trust.subject)
  if (!subjectOk) return { ok: false, reason: 'assertion_sub_invalid' }
  for (const [name, value] of Object.entries(trust.claims)) {
    if (payload[name] !== value) return { ok: false, reason: 'assertion_claim_invalid' }
  }
  return checkLifetime(payload, now, { jtiRequired: false })
}

/**
 * The single use of a platform token is kept under its issuer and `jti`, or the whole token when
 * it has none (older Kubernetes tokens): `usedJtiKey(usedTokenScope(iss), id)`. A client id has no
 * line break, so this never names a private_key_jwt use (client id and jti).
 */
export function usedTokenScope(iss: string): string {
  return `${iss}\n`
}

/** The id a platform token is used up by: its `jti`, or the token itself. */
export function usedTokenId(token: string): string {
  const jti = unverifiedClaims(token)?.jti
  return typeof jti === 'string' && jti !== '' ? jti : token
}

export type PlatformTokenDeps = IssuerKeysDeps & {
  cache: KVNamespace
  /** Runs work after the response (writing keys just fetched to KV). */
  defer: (task: () => Promise<unknown>) => void
}

/**
 * Whether `token` is one of the client's by one of its `trusts`: its issuer trusted, its keys (the
 * fixed ones, or those `cached` at the edge under `cacheKey`, fetched when missing or stale) verify
 * it, and it is what the trust asks for (verifyPlatformToken). The reason of a failure is for the
 * audit log only.
 */
export async function checkPlatformToken(
  deps: PlatformTokenDeps,
  trusts: readonly TrustedIssuer[],
  token: string,
  cached: { key: string; value: IssuerKeys | null },
): Promise<AssertionCheck> {
  const issuer = claimedIssuer(token)
  const mine = trusts.filter((trust) => trust.issuer === issuer)
  if (!issuer || mine.length === 0) return { ok: false, reason: 'issuer_not_trusted' }
  let kid: string | undefined
  try {
    kid = decodeProtectedHeader(token).kid
  } catch {
    return { ok: false, reason: 'assertion_malformed' }
  }
  let discovered: Promise<{ keys: JWK[] } | { reason: string }> | undefined
  // KV takes one write a second per key: isolates fetching together may be refused. The keys are
  // then fetched again later, which is all a lost write costs.
  const store = (keys: IssuerKeys) =>
    deps.defer(() =>
      storeIssuerKeys(deps.cache, cached.key, keys).catch((cause: unknown) =>
        log('warn', 'issuer keys not kept', { issuer, cause: String(cause) }),
      ),
    )
  let failure: AssertionCheck = { ok: false, reason: 'issuer_not_trusted' }
  for (const trust of mine) {
    const found = trust.jwks
      ? { keys: trust.jwks.keys }
      : await (discovered ??= keysForToken(deps, issuer, kid, cached.value, store))
    if ('reason' in found) return { ok: false, reason: found.reason }
    const audience = trust.audience ?? deps.issuer
    const check = await verifyPlatformToken(trust, found.keys, token, { audience, now: deps.now })
    if (check.ok) return check
    failure = check
  }
  return failure
}
