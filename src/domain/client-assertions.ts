// private_key_jwt (RFC 7523 §2.2 and §3, OpenID Connect Core §9): a client authenticates with a JWT
// it signed with one of its registered keys. This module says whether an assertion is good; the
// login (login.ts) adds the client's status, the jti's single use and the brute-force limits.
import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  importJWK,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose'
import type { ClientKey, ClientKeyAlgorithm } from '../storage/client-keys.ts'
import { algorithmsOf, ASSERTION_ALGORITHMS } from './client-keys.ts'
import { epochSeconds } from '../utils/time.ts'

/** RFC 7523 §2.2: the client_assertion_type of a JWT assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/**
 * The furthest ahead an assertion's `exp` may be, and the oldest its `iat`: Authlib's default
 * lifetime (decisions.md D29). Its jti is kept for all of it, so a longer life is not a longer
 * replay window: that is KV's propagation time, whatever `exp` says.
 */
export const MAX_ASSERTION_LIFETIME_SECONDS = 3600
/** Tolerated difference between the client's clock and Portero's, on `exp`, `nbf` and `iat`. */
export const ASSERTION_CLOCK_SKEW_SECONDS = 30
/** Longer than any assertion (an RS256 signature of 8192 bits and a few claims). */
export const MAX_ASSERTION_LENGTH = 8192

const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/
const JTI = /^[\x21-\x7E]{1,256}$/
/**
 * `typ` values an assertion may carry: none, JWT (RFC 7519 §5.1), or the explicit type of
 * draft-ietf-oauth-rfc7523bis. Any other names another kind of JWT (an access token, a DPoP proof),
 * which is never taken for a client assertion (RFC 8725 §3.11).
 */
const ASSERTION_TYPES = new Set(['jwt', 'client-authentication+jwt'])

export type AssertionCheck =
  | { ok: true; jti: string; exp: number }
  /** `reason` is for the audit log only, never the caller. */
  | { ok: false; reason: string }

/**
 * The claims of an assertion, unverified: only to find whose keys verify it. Null when it is not a
 * compact JWS of at most MAX_ASSERTION_LENGTH whose payload parses.
 */
export function unverifiedClaims(assertion: string): JWTPayload | null {
  if (assertion.length > MAX_ASSERTION_LENGTH || !COMPACT_JWS.test(assertion)) return null
  try {
    return decodeJwt(assertion)
  } catch {
    return null
  }
}

/**
 * The client an assertion says it comes from (`sub`, when `iss` is the same), unverified: only to
 * find the client whose keys verify it. Null when it does not parse or names none.
 */
export function claimedClient(assertion: string): string | null {
  const { iss, sub } = unverifiedClaims(assertion) ?? {}
  return typeof sub === 'string' && sub !== '' && iss === sub ? sub : null
}

/**
 * Verifies `assertion` for `clientId` with one of `keys` (those live now): by its `kid`, or each
 * key of the header's algorithm when it names none. Checks the algorithm (the key's, never `none`
 * nor HMAC), `iss` = `sub` = the client, `aud` one of `audiences` and nothing else, `exp` present
 * and at most an hour ahead, `nbf` and `iat` not ahead, `iat` not older than an assertion can
 * live, and a `jti`.
 */
export async function verifyClientAssertion(
  keys: readonly ClientKey[],
  assertion: string,
  { clientId, audiences, now }: { clientId: string; audiences: string[]; now: Date },
): Promise<AssertionCheck> {
  const verified = await verifyAssertionJwt(
    assertion,
    (alg, kid) =>
      keys
        .filter((key) => algorithmsOf(key).includes(alg) && (kid === undefined || key.kid === kid))
        .map((key) => key.jwk),
    { issuer: clientId, subject: clientId, requiredClaims: ['jti'], now },
  )
  if (!verified.ok) return verified
  if (!namesOnly(verified.payload.aud, audiences)) {
    return { ok: false, reason: 'assertion_aud_invalid' }
  }
  return checkLifetime(verified.payload, now)
}

export type VerifiedJwt =
  { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string }

/**
 * What every JWT a client authenticates with must pass, a private_key_jwt assertion or a trusted
 * issuer's token (decisions.md D29, D38): a compact JWS of at most MAX_ASSERTION_LENGTH, an
 * accepted algorithm (never `none` nor HMAC), an assertion's `typ`, a signature by one of the keys
 * `candidatesOf` gives for the header's algorithm and kid (a key that does not fit is passed over),
 * `iss` (and `sub` when given) as expected, `iss`, `sub`, `aud`, `exp` and `requiredClaims`
 * present, and `exp`, `nbf` and `iat` within the clock skew. Reasons are for the audit log only.
 */
export async function verifyAssertionJwt(
  assertion: string,
  candidatesOf: (alg: ClientKeyAlgorithm, kid: string | undefined) => readonly JWK[],
  claims: { issuer: string; subject?: string; requiredClaims: string[]; now: Date },
): Promise<VerifiedJwt> {
  if (assertion.length > MAX_ASSERTION_LENGTH || !COMPACT_JWS.test(assertion)) {
    return { ok: false, reason: 'assertion_malformed' }
  }
  let alg: ClientKeyAlgorithm
  let kid: string | undefined
  try {
    const header = decodeProtectedHeader(assertion)
    if (!ASSERTION_ALGORITHMS.includes(header.alg as ClientKeyAlgorithm)) {
      return { ok: false, reason: 'assertion_alg_refused' }
    }
    if (header.typ !== undefined && !ASSERTION_TYPES.has(String(header.typ).toLowerCase())) {
      return { ok: false, reason: 'assertion_typ_refused' }
    }
    alg = header.alg as ClientKeyAlgorithm
    kid = header.kid
  } catch {
    return { ok: false, reason: 'assertion_malformed' }
  }
  const candidates = candidatesOf(alg, kid)
  if (candidates.length === 0) return { ok: false, reason: 'assertion_key_unknown' }

  for (const candidate of candidates) {
    // A key of another type than the algorithm's (tried when the header names no kid).
    const key = await importKey(candidate, alg).catch(() => null)
    if (!key) continue
    try {
      const { payload } = await jwtVerify(assertion, key, {
        algorithms: [alg],
        issuer: claims.issuer,
        ...(claims.subject === undefined ? {} : { subject: claims.subject }),
        requiredClaims: ['iss', 'sub', 'aud', 'exp', ...claims.requiredClaims],
        clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
        currentDate: claims.now,
      })
      return { ok: true, payload }
    } catch (error) {
      if (error instanceof errors.JWSSignatureVerificationFailed) continue
      return { ok: false, reason: reasonOf(error) }
    }
  }
  return { ok: false, reason: 'assertion_signature_invalid' }
}

/**
 * draft-ietf-oauth-rfc7523bis (audience injection): `aud` names Portero alone, as a string or
 * an array of that one string. An array naming anyone else besides is refused: such an assertion
 * was made for several servers, and any of them could replay it here.
 */
export function namesOnly(aud: unknown, audiences: readonly string[]): boolean {
  const sole = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud
  return typeof sole === 'string' && audiences.includes(sole)
}

/**
 * `exp` at most an hour ahead, `iat` (when present) not ahead nor older than an hour, and a
 * well-formed `jti`: required, or only checked when present (a platform's token may have none).
 */
export function checkLifetime(
  payload: Record<string, unknown>,
  now: Date,
  { jtiRequired = true } = {},
): AssertionCheck {
  const at = epochSeconds(now)
  const { exp, iat, jti } = payload as { exp: number; iat?: unknown; jti?: unknown }
  if (exp > at + MAX_ASSERTION_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) {
    return { ok: false, reason: 'assertion_exp_too_far' }
  }
  if (iat !== undefined) {
    const oldest = at - MAX_ASSERTION_LIFETIME_SECONDS - ASSERTION_CLOCK_SKEW_SECONDS
    if (typeof iat !== 'number' || iat > at + ASSERTION_CLOCK_SKEW_SECONDS || iat < oldest) {
      return { ok: false, reason: 'assertion_iat_invalid' }
    }
  }
  if ((jtiRequired || jti !== undefined) && (typeof jti !== 'string' || !JTI.test(jti))) {
    return { ok: false, reason: 'assertion_jti_invalid' }
  }
  return { ok: true, jti: typeof jti === 'string' ? jti : '', exp }
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'assertion_expired'
  if (error instanceof errors.JWTClaimValidationFailed) return `assertion_${error.claim}_invalid`
  return 'assertion_malformed'
}

/** Imported keys, by algorithm and JWK: importing costs more than verifying. Bounded. */
const imported = new Map<string, CryptoKey>()
const IMPORTED_MAX_ENTRIES = 512

async function importKey(jwk: JWK, alg: ClientKeyAlgorithm): Promise<CryptoKey> {
  const id = `${alg} ${JSON.stringify(jwk)}`
  let cryptoKey = imported.get(id)
  if (!cryptoKey) {
    cryptoKey = (await importJWK(jwk, alg)) as CryptoKey
    if (imported.size >= IMPORTED_MAX_ENTRIES) imported.clear()
    imported.set(id, cryptoKey)
  }
  return cryptoKey
}
