// RFC 7662 introspection, per caller (decisions.md D7): the canonical token state, then what this
// caller may see of it. A token the caller may not see looks exactly like an unknown one.
import { SignJWT } from 'jose'
import { SCOPES } from './scopes.ts'
import type { SigningKeySet } from './signing-keys.ts'
import { countFailedAttempt, lockSubjects, type ThrottleDeps } from './throttle.ts'
import type { TokenCheck } from './token-state.ts'
import type { AccessTokenClaims } from '../token-claims.ts'
import { ForeignTokenError } from './tokens.ts'
import { epochSeconds } from '../utils/time.ts'

/** RFC 9701 §4: the media type a caller asks for, and §5: the JWT's `typ` (without "application/"). */
export const INTROSPECTION_JWT_MEDIA_TYPE = 'application/token-introspection+jwt'
export const INTROSPECTION_JWT_TYPE = 'token-introspection+jwt'

/**
 * Who is asking: a client, with the scopes its token carries or its client record allows, and the
 * address it asks from (null outside Cloudflare).
 */
export type Caller = { clientId: string; scopes: readonly string[]; ip: string | null }

export type IntrospectionResponse =
  | { active: false }
  | ({
      active: true
      username: string
      token_type: 'Bearer' | 'DPoP'
      ti: string
    } & AccessTokenClaims)

const INACTIVE = { active: false } as const

/**
 * RFC 7662 §4: the caller sees a token issued to it, naming it in `aud`, or any with the scope.
 */
export function canSee(caller: Caller, claims: AccessTokenClaims): boolean {
  if (claims.client_id === caller.clientId) return true
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  return audiences.includes(caller.clientId) || caller.scopes.includes(SCOPES.introspectAny)
}

/**
 * The answer to `caller` about a token already checked (checkAccessTokens): a refused token is
 * inactive; a storage failure is thrown, never shown as "inactive". Throws 429 `rate_limited` when
 * the caller sends more strings that are not Portero tokens than the limits allow (SECURITY.md
 * "Lockouts").
 */
export async function introspectionAnswer(
  throttle: ThrottleDeps,
  caller: Caller,
  subject: TokenCheck,
): Promise<IntrospectionResponse> {
  if (!subject.ok) {
    // Probing with made-up tokens counts like guessing a secret; a real token of ours that expired
    // or was revoked does not (its answer is inactive all the same).
    if (subject.error instanceof ForeignTokenError) {
      await countFailedAttempt(throttle, lockSubjects(caller.clientId, caller.ip))
    }
    if (subject.error.status === 401) return INACTIVE
    throw subject.error
  }
  const { claims, username } = subject.token
  if (!canSee(caller, claims)) return INACTIVE
  // Document 001 spells the token id `ti`; RFC 7662 uses `jti`. Both are sent. RFC 9449 §6.2: a
  // DPoP-bound token is of type DPoP, and its `cnf` (among the claims) lets a resource server
  // check proofs itself.
  const token_type = claims.cnf?.jkt ? 'DPoP' : 'Bearer'
  return { active: true, ...claims, username, token_type, ti: claims.jti }
}

/**
 * RFC 9701 §5: the answer as a JWT signed with Portero's current token key, for the caller who
 * asked: `iss` Portero, `aud` the caller's client id, `iat`, and the answer in
 * `token_introspection`. A resource server verifies it with /.well-known/jwks.json.
 */
export async function signIntrospectionAnswer(
  keys: SigningKeySet,
  {
    issuer,
    caller,
    answer,
    now,
  }: {
    issuer: string
    caller: Caller
    answer: IntrospectionResponse
    now: Date
  },
): Promise<string> {
  const { kid, alg, key } = keys.signing
  return new SignJWT({ token_introspection: answer })
    .setProtectedHeader({ alg, kid, typ: INTROSPECTION_JWT_TYPE })
    .setIssuer(issuer)
    .setAudience(caller.clientId)
    .setIssuedAt(epochSeconds(now))
    .sign(key)
}
