// DPoP proofs (RFC 9449): checking a proof's form, signature and claims against the request it
// came with, claiming its jti once, and stateless server nonces (docs/tokens.md "DPoP", decisions.md D30).
import { deriveFromPepper } from '../utils/pepper-keys.ts'
import {
  base64url,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  jwtVerify,
  type JWK,
} from 'jose'
import { AppError, DPOP_ALGORITHMS } from '../errors.ts'
import { MAX_RSA_BITS, MIN_RSA_BITS } from './client-keys.ts'
import { usedJtiKey } from '../storage/used-jtis.ts'
import { epochSeconds } from '../utils/time.ts'

/** RFC 9449 §4.2: the proof's media type. */
export const PROOF_TYPE = 'dpop+jwt'
/**
 * A proof's `iat` may be this far from Portero's clock, before or after (RFC 9449 §11.1): the
 * proof is good for at most twice this, and its jti is remembered for as long.
 */
export const PROOF_IAT_WINDOW_SECONDS = 60
/** A server nonce is current for one window and accepted through the next (5 to 10 minutes). */
export const NONCE_WINDOW_SECONDS = 300
/** Longer than any proof of an allowed key (an RSA-4096 key in the header is about 1.4 KB). */
const MAX_PROOF_LENGTH = 8192
/** Any printable jti up to 256 characters; oauth4webapi sends 43 (32 random bytes). */
const JTI = /^[\x21-\x7E]{1,256}$/
/** RFC 7517 members of private or symmetric keys: a proof's `jwk` must have none. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/**
 * Where used jtis are remembered (storage/used-jtis.ts). `claim` is true the first time a key is
 * claimed within `ttlSeconds`, false for a replay.
 */
export type ReplayStore = { claim(key: string, ttlSeconds: number): Promise<boolean> }

export type ProofDeps = {
  now: Date
  /** Signs server nonces: derived from SECRET_PEPPER (deriveNonceKey). */
  nonceKey: CryptoKey
  replay: ReplayStore
}

/** The request a proof must be for: `accessToken` at a resource (RFC 9449 §4.3 check 12). */
export type ProofRequest = { method: string; url: string; accessToken?: string }

/** A proof whose signature and claims match its request; its jti is not claimed yet. */
export type Proof = { jkt: string; jti: string; iat: number; nonce: string | null }

function invalidProof(detail: string, cause?: unknown): AppError {
  return new AppError('invalid_dpop_proof', detail, { cause })
}

/**
 * Checks the `DPoP` header of a request (RFC 9449 §4.3): one compact JWS of type `dpop+jwt`,
 * signed with an allowed algorithm by the public key in its `jwk` header, whose `htm`, `htu`,
 * `iat` and, with an access token, `ath` match the request. Throws 400 `invalid_dpop_proof`
 * otherwise (a resource turns it into 401). The nonce and the jti are checked apart:
 * assertNonce, claimProof.
 */
export async function verifyProof(
  deps: Pick<ProofDeps, 'now'>,
  proof: string,
  request: ProofRequest,
): Promise<Proof> {
  if (proof.length > MAX_PROOF_LENGTH || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(proof)) {
    throw invalidProof('The DPoP header is not one compact JWS.')
  }
  let jwk: JWK
  try {
    const header = decodeProtectedHeader(proof)
    if (header.typ !== PROOF_TYPE) throw invalidProof(`The DPoP proof's typ is not ${PROOF_TYPE}.`)
    if (!(DPOP_ALGORITHMS as readonly string[]).includes(String(header.alg))) {
      throw invalidProof(`The DPoP proof's alg is not one of ${DPOP_ALGORITHMS.join(', ')}.`)
    }
    jwk = checkPublicKey(header.jwk, header.alg!)
  } catch (cause) {
    if (cause instanceof AppError) throw cause
    throw invalidProof('The DPoP proof has no readable JOSE header.', cause)
  }
  let payload: Record<string, unknown>
  try {
    ;({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: PROOF_TYPE,
      algorithms: [...DPOP_ALGORITHMS],
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
      currentDate: deps.now,
    }))
  } catch (cause) {
    throw invalidProof('The DPoP proof is malformed or its signature is not valid.', cause)
  }
  const { jti, htm, htu, iat, ath, nonce } = payload
  if (typeof jti !== 'string' || !JTI.test(jti)) throw invalidProof("The proof's jti is not valid.")
  if (htm !== request.method) {
    throw invalidProof(`The DPoP proof's htm is not this request's method, ${request.method}.`)
  }
  if (typeof htu !== 'string' || !sameTarget(htu, request.url)) {
    throw invalidProof("The DPoP proof's htu is not this request's URL.")
  }
  const now = epochSeconds(deps.now)
  if (typeof iat !== 'number' || Math.abs(now - iat) > PROOF_IAT_WINDOW_SECONDS) {
    throw invalidProof(
      `The DPoP proof's iat is more than ${PROOF_IAT_WINDOW_SECONDS} s from the server's time.`,
    )
  }
  if (request.accessToken !== undefined && ath !== (await accessTokenHash(request.accessToken))) {
    throw invalidProof("The DPoP proof's ath is not the SHA-256 of this access token.")
  }
  if (nonce !== undefined && typeof nonce !== 'string') {
    throw invalidProof("The DPoP proof's nonce is not a string.")
  }
  return { jkt: await calculateJwkThumbprint(jwk, 'sha256'), jti, iat, nonce: nonce ?? null }
}

/** The `jwk` header as a public key fit for `alg`; throws `invalid_dpop_proof` otherwise. */
function checkPublicKey(value: unknown, alg: string): JWK {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidProof("The DPoP proof's jwk header is not a JSON object.")
  }
  const jwk = value as JWK
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
    throw invalidProof("The DPoP proof's jwk header holds a private or symmetric key.")
  }
  const fits =
    alg === 'ES256'
      ? jwk.kty === 'EC' && jwk.crv === 'P-256'
      : alg === 'RS256'
        ? jwk.kty === 'RSA' && fitsRsaBounds(rsaBits(jwk))
        : jwk.kty === 'OKP' && jwk.crv === 'Ed25519'
  if (!fits) {
    throw invalidProof(
      `The DPoP proof's jwk is not a key for ${alg}` +
        (alg === 'RS256' ? ` of ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits.` : '.'),
    )
  }
  return jwk
}

/** As a client key's (decisions.md D29): a larger modulus costs verification time for nothing. */
function fitsRsaBounds(bits: number): boolean {
  return bits >= MIN_RSA_BITS && bits <= MAX_RSA_BITS
}

function rsaBits(jwk: JWK): number {
  try {
    const modulus = base64url.decode(jwk.n ?? '')
    const leading = modulus.findIndex((byte) => byte !== 0)
    return leading < 0 ? 0 : (modulus.length - leading) * 8
  } catch {
    return 0
  }
}

/**
 * RFC 9449 §4.3 check 9: `htu` is the request's URI without query and fragment, compared after
 * RFC 3986 §6.2.2 normalization as the URL parser does it (case of scheme and host, default port,
 * dot segments).
 */
function sameTarget(htu: string, requestUrl: string): boolean {
  const target = URL.parse(htu)
  const request = new URL(requestUrl)
  return (
    target !== null &&
    target.origin === request.origin &&
    target.pathname === request.pathname &&
    target.username === '' &&
    target.password === ''
  )
}

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII. */
export async function accessTokenHash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return base64url.encode(new Uint8Array(digest))
}

/**
 * Remembers the proof's jti for as long as the proof could be accepted, and throws 400
 * `invalid_dpop_proof` when it was seen already (RFC 9449 §11.1). Keyed by the key's thumbprint
 * and the jti, hashed: another key's proof with the same jti is another proof.
 */
export async function claimProof(deps: ProofDeps, proof: Proof): Promise<void> {
  const key = await usedJtiKey(`dpop ${proof.jkt}`, proof.jti)
  const ttl = Math.max(1, proof.iat + PROOF_IAT_WINDOW_SECONDS - epochSeconds(deps.now) + 1)
  if (!(await deps.replay.claim(key, ttl))) {
    throw invalidProof('This DPoP proof was used already: send a new proof with every request.')
  }
}

const NONCE_KEY_INFO = 'portero dpop nonce key v1'

/**
 * The HMAC key of server nonces, derived from SECRET_PEPPER with HKDF-SHA-256 (RFC 5869) under a
 * label of its own, as the picture id key is: nonces need no storage, and every isolate in every
 * location makes and accepts the same ones.
 */
export function deriveNonceKey(pepper: string): Promise<CryptoKey> {
  return deriveFromPepper(pepper, NONCE_KEY_INFO, { name: 'HMAC', hash: 'SHA-256', length: 256 }, [
    'sign',
    'verify',
  ])
}

function nonceInput(window: number): Uint8Array {
  return new TextEncoder().encode(`portero dpop nonce v1\n${window}`)
}

/** The nonce of the current window: `<window in base 36>.<HMAC of it, base64url>`. */
export async function currentNonce(deps: Pick<ProofDeps, 'now' | 'nonceKey'>): Promise<string> {
  const window = Math.floor(epochSeconds(deps.now) / NONCE_WINDOW_SECONDS)
  const mac = await crypto.subtle.sign('HMAC', deps.nonceKey, nonceInput(window))
  return `${window.toString(36)}.${base64url.encode(new Uint8Array(mac))}`
}

/** Whether `nonce` is one Portero made in the current window or the one before. */
async function isFreshNonce(
  deps: Pick<ProofDeps, 'now' | 'nonceKey'>,
  nonce: string,
): Promise<boolean> {
  const match = /^([0-9a-z]{1,10})\.([\w-]{43})$/.exec(nonce)
  if (!match) return false
  const window = parseInt(match[1]!, 36)
  const current = Math.floor(epochSeconds(deps.now) / NONCE_WINDOW_SECONDS)
  if (window !== current && window !== current - 1) return false
  try {
    const mac = base64url.decode(match[2]!)
    return await crypto.subtle.verify('HMAC', deps.nonceKey, mac, nonceInput(window))
  } catch {
    return false
  }
}

/**
 * Throws 400 `use_dpop_nonce` with the current nonce in `DPoP-Nonce` unless the proof carries a
 * fresh one (RFC 9449 §8): missing, made up or from before the last window all answer alike.
 */
export async function assertNonce(
  deps: Pick<ProofDeps, 'now' | 'nonceKey'>,
  proof: Proof,
): Promise<void> {
  if (proof.nonce !== null && (await isFreshNonce(deps, proof.nonce))) return
  const detail = proof.nonce
    ? 'The DPoP proof carries a nonce that is not current: use the one in DPoP-Nonce.'
    : 'The DPoP proof must carry the server nonce sent in DPoP-Nonce.'
  throw new AppError('use_dpop_nonce', detail, {
    headers: { 'dpop-nonce': await currentNonce(deps) },
  })
}
