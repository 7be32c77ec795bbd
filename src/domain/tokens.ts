// Access tokens: RFC 9068 JWTs signed with the newest key, verified against the whole key set with
// the algorithm, type and issuer pinned (SPEC 5, RFC 8725).
import { errors, jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose'
import { base64UrlDecode, base64UrlEncode } from '../encoding.ts'
import { AppError } from '../errors.ts'
import { SIGNING_ALGORITHMS, type SigningKeySet } from './signing-keys.ts'

/** RFC 9068 §2.1: the media type of a JWT access token. */
export const ACCESS_TOKEN_TYPE = 'at+jwt'
/**
 * Tolerated clock skew for `nbf` and `iat`: a token minted in another location whose clock runs a
 * little ahead is not refused as "not valid yet". `exp` has no tolerance: Portero issued the token,
 * so its own clock decides, and an expired token never passes (RFC 7519 §4.1.4, RFC 7662 §2.2).
 */
export const CLOCK_TOLERANCE_SECONDS = 30
/** Longer than any token Portero issues (three ES256 segments and a few KB of claims). */
export const MAX_TOKEN_LENGTH = 8192

export type AccessTokenClaims = {
  iss: string
  sub: string
  aud: string | string[]
  client_id: string
  scope: string
  jti: string
  iat: number
  nbf: number
  exp: number
  provider_id: string | null
}

export type IssueTokenInput = {
  issuer: string
  clientId: string
  /** Decimal string: provider ids are int64 and must not be rounded (SPEC 11). */
  providerId: string | null
  scopes: readonly string[]
  audiences: readonly string[]
  lifetimeSeconds: number
}

/** A verified token's claims and the `kid` of the key that signed it. */
export type VerifiedToken = { claims: AccessTokenClaims; kid: string }

export type IssuedToken = { token: string; claims: AccessTokenClaims; expiresIn: number }

export async function issueAccessToken(
  keys: SigningKeySet,
  input: IssueTokenInput,
  now: Date,
): Promise<IssuedToken> {
  const iat = Math.floor(now.getTime() / 1000)
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
    const { payload, protectedHeader } = await jwtVerify<AccessTokenClaims>(token, (header) => pickKey(keys, header), {
      issuer,
      typ: ACCESS_TOKEN_TYPE,
      algorithms: [...SIGNING_ALGORITHMS],
      requiredClaims: ['sub', 'client_id', 'jti', 'iat', 'exp'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: now,
    })
    assertNotExpired(payload, now)
    return { claims: payload, kid: protectedHeader.kid! }
  } catch (cause) {
    throw toTokenError(cause)
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
    super(401, 'invalid_token', detail, {}, { cause })
  }
}

/** Throws 401 `token_expired` once `now` has reached `exp`. Cached claims are checked with it too. */
export function assertNotExpired(claims: Pick<AccessTokenClaims, 'exp'>, now: Date): void {
  if (claims.exp <= Math.floor(now.getTime() / 1000)) throw expired()
}

function expired(cause?: unknown): AppError {
  return new AppError(401, 'token_expired', 'The access token has expired.', {}, { cause })
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
    return base64UrlEncode(base64UrlDecode(text)) === text
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
      cause.claim === 'nbf' || cause.claim === 'iat'
        ? 'The access token is not valid yet.'
        : `The access token's "${cause.claim}" claim is not valid here.`
  }
  return new ForeignTokenError(detail, cause)
}
