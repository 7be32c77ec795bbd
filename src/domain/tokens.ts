// Access tokens: RFC 9068 JWTs signed with the newest key, verified against the whole key set with
// the algorithm, type and issuer pinned (decisions.md D5, RFC 8725).
import {
  base64url,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  SignJWT,
  type JWTHeaderParameters,
} from 'jose'
import { AppError } from '../errors.ts'
import type { AccessTokenClaims, Confirmation } from '../token-claims.ts'
import { SIGNING_ALGORITHMS, type SigningKeySet } from './signing-keys.ts'
import { epochSeconds } from '../utils/time.ts'

/** RFC 9068 §2.1: the media type of a JWT access token. */
export const ACCESS_TOKEN_TYPE = 'at+jwt'
/**
 * Tolerated clock skew for `nbf` and `iat`: a token minted in another location whose clock runs a
 * little ahead is not refused as "not valid yet". `exp` has no tolerance: Portero issued the token,
 * so its own clock decides, and an expired token never passes (RFC 7519 §4.1.4, RFC 7662 §2.2).
 */
export const CLOCK_TOLERANCE_SECONDS = 30
/**
 * The longest life a token of Portero's can have: clients.token_lifetime is at most 86400 s
 * (migration 0001). A token claiming more (`exp - iat`) was not minted by Portero's login.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 86400
/** Longer than any token Portero issues (three ES256 segments and a few KB of claims). */
export const MAX_TOKEN_LENGTH = 8192

export type IssueTokenInput = {
  issuer: string
  clientId: string
  /** Decimal string: provider ids are int64 and must not be rounded (decisions.md D11). */
  providerId: string | null
  scopes: readonly string[]
  audiences: readonly string[]
  lifetimeSeconds: number
  /** The key the token is bound to (DPoP or a client certificate); none for a bearer token. */
  confirmation?: Confirmation
  /** The generation of the client's credentials it is minted under (decisions.md D34). */
  generation?: number
}

/** A verified token's claims and the `kid` of the key that signed it. */
export type VerifiedToken = { claims: AccessTokenClaims; kid: string }

export type IssuedToken = { token: string; claims: AccessTokenClaims; expiresIn: number }

export async function issueAccessToken(
  keys: SigningKeySet,
  input: IssueTokenInput,
  now: Date,
): Promise<IssuedToken> {
  const iat = epochSeconds(now)
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    sub: input.clientId,
    aud: input.audiences.length === 1 ? input.audiences[0]! : [...input.audiences],
    client_id: input.clientId,
    scope: input.scopes.join(' '),
    jti: crypto.randomUUID(),
    iat,
    nbf: iat,
    exp: iat + input.lifetimeSeconds,
    provider_id: input.providerId,
  }
  if (input.generation !== undefined) claims.gen = input.generation
  if (input.confirmation) claims.cnf = input.confirmation
  const { kid, alg, key } = keys.signing
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE })
    .sign(key)
  return { token, claims, expiresIn: input.lifetimeSeconds }
}

/**
 * Verifies a token this issuer signed and returns its claims.
 * Throws AppError 401 `token_expired` or `invalid_token` (with the jose error as cause).
 * Keys come only from our own set by `kid`: `jku`, `x5u` and `jwk` headers are never followed.
 */
export async function verifyAccessToken(
  keys: SigningKeySet,
  token: string,
  { issuer, now }: { issuer: string; now: Date },
): Promise<VerifiedToken> {
  assertTokenLength(token)
  try {
    assertCompactSpelling(token)
    const { payload, protectedHeader } = await jwtVerify<AccessTokenClaims>(
      token,
      (header) => pickKey(keys, header),
      {
        issuer,
        typ: ACCESS_TOKEN_TYPE,
        algorithms: [...SIGNING_ALGORITHMS],
        // RFC 9068 §2.2, plus provider_id: every claim Portero issues (iss is required by
        // `issuer`).
        requiredClaims: ['sub', 'aud', 'client_id', 'scope', 'jti', 'iat', 'exp', 'provider_id'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // Refuses an `iat` further ahead than the tolerance, and one older than any token can live.
        maxTokenAge: MAX_TOKEN_LIFETIME_SECONDS,
        currentDate: now,
      },
    )
    assertClaims(payload)
    assertNotExpired(payload, now)
    return { claims: payload, kid: protectedHeader.kid! }
  } catch (cause) {
    throw toTokenError(cause)
  }
}

/** What a jti of ours looks like (a UUID); any other is refused before it could become a key. */
const JTI = /^[\x21-\x7E]{1,128}$/

/**
 * What can be said of a token before any storage is read: its length and spelling, that its header
 * names one of our keys with that key's algorithm, and that it claims a sane jti. Throws 401
 * `invalid_token` otherwise. Returns the `client_id` and `jti` the payload claims, unverified: only
 * for picking which KV entries to read with the token's own, never trusted (verification decides,
 * and the claims it returns are that same payload's).
 */
export function screenAccessToken(
  keys: SigningKeySet,
  token: string,
): { claimedClientId: string | null; claimedJti: string } {
  assertTokenLength(token)
  let payload: Record<string, unknown>
  try {
    assertCompactSpelling(token)
    pickKey(keys, decodeProtectedHeader(token) as JWTHeaderParameters)
    payload = decodeJwt(token)
  } catch (cause) {
    throw toTokenError(cause)
  }
  const { client_id, jti } = payload
  if (typeof jti !== 'string' || !JTI.test(jti)) {
    throw toTokenError(
      new errors.JWTClaimValidationFailed(
        'unexpected "jti" claim value',
        payload,
        'jti',
        'check_failed',
      ),
    )
  }
  return { claimedClientId: typeof client_id === 'string' ? client_id : null, claimedJti: jti }
}

/**
 * Throws 401 `invalid_token` unless `aud` names `resource`: where Portero is the resource server, a
 * token issued for another audience is refused (RFC 9068 §4, RFC 8725 §3.9, RFC 6750 §3.1). The
 * comparison is exact, as RFC 7519 §4.1.3 says: no case folding, no trailing slash, no prefix.
 */
export function assertAudience(claims: Pick<AccessTokenClaims, 'aud'>, resource: string): void {
  const audiences: readonly string[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  if (!audiences.includes(resource)) {
    throw new AppError(
      'invalid_token',
      `The access token was not issued for this API: its "aud" does not name ${resource}.`,
    )
  }
}

/** Throws 401 `invalid_token` for a token too long to be one of ours, before any work on it. */
export function assertTokenLength(token: string): void {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new ForeignTokenError(`The access token is longer than ${MAX_TOKEN_LENGTH} characters.`)
  }
}

/**
 * 401 `invalid_token` for a string that is not a token this issuer signed (malformed, too long, a
 * signature or claims that do not verify): not for a real token that expired or was revoked.
 */
export class ForeignTokenError extends AppError {
  constructor(detail: string, cause?: unknown) {
    super('invalid_token', detail, { cause })
  }
}

/**
 * Throws 401 `token_expired` once `now` has reached `exp`. Cached claims are checked with it too.
 */
export function assertNotExpired(claims: Pick<AccessTokenClaims, 'exp'>, now: Date): void {
  if (claims.exp <= epochSeconds(now)) throw expired()
}

/**
 * The claims jose leaves alone (it checks `iss`, and that `iat`, `nbf` and `exp` are numbers), each
 * with the type Portero issues it with, so that no caller reads a malformed claim: 401, never 500.
 * A token signed by Portero's key that breaks these rules was not minted by its login (a misused
 * or leaked key), and its claims are not trusted.
 */
function assertClaims(claims: Record<string, unknown>): asserts claims is AccessTokenClaims {
  const invalid = (detail: string) => new AppError('invalid_token', `The access token's ${detail}.`)
  for (const claim of ['sub', 'client_id', 'jti'] as const) {
    if (!isNonEmptyString(claims[claim]))
      throw invalid(`"${claim}" claim is not a non-empty string`)
  }
  if (typeof claims.scope !== 'string') throw invalid('"scope" claim is not a string')
  const { aud } = claims
  if (
    !isNonEmptyString(aud) &&
    !(Array.isArray(aud) && aud.length > 0 && aud.every(isNonEmptyString))
  ) {
    throw invalid('"aud" claim is not a string or a non-empty array of strings')
  }
  if (claims.provider_id !== null && typeof claims.provider_id !== 'string') {
    throw invalid('"provider_id" claim is not a string or null')
  }
  if (claims.gen !== undefined && !(Number.isSafeInteger(claims.gen) && Number(claims.gen) >= 0)) {
    throw invalid('"gen" claim is not a non-negative integer')
  }
  if (claims.cnf !== undefined && !isConfirmation(claims.cnf)) {
    throw invalid('"cnf" claim is not a confirmation with a "jkt" or "x5t#S256" string')
  }
  // RFC 9068 §2.2: for a client credentials token, sub is the client itself.
  if (claims.sub !== claims.client_id) throw invalid('"sub" claim is not its "client_id"')
  if ((claims.exp as number) - (claims.iat as number) > MAX_TOKEN_LIFETIME_SECONDS) {
    throw invalid(
      `lifetime ("exp" - "iat") is over the ${MAX_TOKEN_LIFETIME_SECONDS} s any token has here`,
    )
  }
}

/** RFC 7800 §3.1: an object; Portero binds with `jkt` (RFC 9449) or `x5t#S256` (RFC 8705). */
function isConfirmation(value: unknown): value is Confirmation {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false
  const { jkt, 'x5t#S256': x5t } = value as Record<string, unknown>
  const ok = (member: unknown) => member === undefined || isNonEmptyString(member)
  return ok(jkt) && ok(x5t) && (jkt !== undefined || x5t !== undefined)
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0
}

function expired(cause?: unknown): AppError {
  return new AppError('token_expired', 'The access token has expired.', { cause })
}

/** RFC 7515 §7.1: three base64url segments; the signature is never empty for our algorithms. */
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]+$/

/**
 * jose decodes the signature leniently (Uint8Array.fromBase64: "=" padding, non-zero spare bits),
 * so one signed token would have several spellings, each with its own cache key. Only the one
 * spelling RFC 7515 §2 allows (no padding, canonical last character) is accepted.
 */
function assertCompactSpelling(token: string): void {
  const signature = token.slice(token.lastIndexOf('.') + 1)
  if (!COMPACT_JWS.test(token) || !isCanonicalBase64Url(signature)) {
    throw new errors.JWSInvalid('the token is not a compact JWS in canonical base64url')
  }
}

function isCanonicalBase64Url(text: string): boolean {
  try {
    return base64url.encode(base64url.decode(text)) === text
  } catch {
    return false
  }
}

function pickKey(keys: SigningKeySet, header: JWTHeaderParameters): CryptoKey {
  const candidate = header.kid === undefined ? undefined : keys.verifying.get(header.kid)
  // The key decides the algorithm, not the token: a header naming another alg for this kid fails.
  if (!candidate || candidate.alg !== header.alg) throw new UnknownKeyError()
  return candidate.key
}

class UnknownKeyError extends Error {
  constructor() {
    super('no signing key with this kid and alg')
  }
}

function toTokenError(cause: unknown): AppError {
  if (cause instanceof AppError) return cause
  if (cause instanceof errors.JWTExpired) return expired(cause)
  let detail = 'The access token is malformed or its signature is not valid.'
  if (cause instanceof UnknownKeyError) {
    detail = 'The access token was not signed by a key of this issuer.'
  } else if (cause instanceof errors.JWTClaimValidationFailed) {
    detail =
      cause.reason === 'missing'
        ? `The access token has no "${cause.claim}" claim.`
        : cause.reason === 'check_failed' && (cause.claim === 'nbf' || cause.claim === 'iat')
          ? 'The access token is not valid yet.'
          : `The access token's "${cause.claim}" claim is not valid here.`
  }
  return new ForeignTokenError(detail, cause)
}
