// Token signing keys: a JWK set of private keys held as a Worker secret. The last key signs, every
// key verifies, so rotation is "append a key, wait out the token lifetime, drop the old one".
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'

export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA'] as const
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number]

export type VerificationKey = { kid: string; alg: SigningAlgorithm; key: CryptoKey }

export type SigningKeySet = {
  signing: { kid: string; alg: SigningAlgorithm; key: CryptoKey }
  verifying: ReadonlyMap<string, VerificationKey>
  /** Public halves only, as served at /.well-known/jwks.json. */
  publicJwks: { keys: JWK[] }
}

const CURVE_BY_ALG: Record<SigningAlgorithm, string> = { ES256: 'P-256', EdDSA: 'Ed25519' }
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y'] as const

function isSigningAlgorithm(alg: unknown): alg is SigningAlgorithm {
  return SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)
}

/** Parses and imports the SIGNING_KEYS secret. Throws an Error naming what is wrong. */
export async function parseSigningKeySet(json: string): Promise<SigningKeySet> {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    throw new Error('SIGNING_KEYS is not JSON')
  }
  const jwks = (parsed as { keys?: unknown })?.keys
  if (!Array.isArray(jwks) || jwks.length === 0) {
    throw new Error('SIGNING_KEYS must be {"keys": [...]} with at least one key')
  }
  const verifying = new Map<string, VerificationKey>()
  const publicKeys: JWK[] = []
  let signing: SigningKeySet['signing'] | undefined
  for (const [index, entry] of (jwks as unknown[]).entries()) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new Error(`SIGNING_KEYS key ${index} is not a JSON object`)
    }
    const jwk = entry as JWK
    const { kid, alg } = jwk
    if (typeof kid !== 'string' || kid === '')
      throw new Error(`SIGNING_KEYS key ${index} has no kid`)
    if (!isSigningAlgorithm(alg))
      throw new Error(`SIGNING_KEYS key ${kid}: alg must be ES256 or EdDSA`)
    if (jwk.crv !== CURVE_BY_ALG[alg])
      throw new Error(`SIGNING_KEYS key ${kid}: wrong curve for ${alg}`)
    if (typeof jwk.d !== 'string') throw new Error(`SIGNING_KEYS key ${kid} is not a private key`)
    if (verifying.has(kid)) throw new Error(`SIGNING_KEYS has two keys with kid ${kid}`)
    const publicJwk: JWK = { kid, alg, use: 'sig' }
    for (const member of PUBLIC_MEMBERS)
      if (jwk[member] !== undefined) publicJwk[member] = jwk[member]
    const [privateKey, publicKey] = await importKeyPair(kid, alg, jwk, publicJwk)
    verifying.set(kid, { kid, alg, key: publicKey })
    publicKeys.push(publicJwk)
    signing = { kid, alg, key: privateKey }
  }
  return { signing: signing!, verifying, publicJwks: { keys: publicKeys } }
}

async function importKeyPair(
  kid: string,
  alg: SigningAlgorithm,
  jwk: JWK,
  publicJwk: JWK,
): Promise<[CryptoKey, CryptoKey]> {
  let pair: [CryptoKey, CryptoKey]
  try {
    const imports = [importJWK({ ...jwk, ext: false }, alg), importJWK(publicJwk, alg)]
    pair = (await Promise.all(imports)) as [CryptoKey, CryptoKey]
  } catch (cause) {
    throw new Error(`SIGNING_KEYS key ${kid} cannot be imported (${String(cause)})`, { cause })
  }
  // workerd refuses an EC d that does not belong to its (x, y) on import, but takes an Ed25519 d
  // with any x: such a key would sign tokens its own published public key refuses. Probe it once.
  if (alg === 'EdDSA') {
    const probe = new TextEncoder().encode(kid)
    const signature = await crypto.subtle.sign('Ed25519', pair[0], probe)
    if (!(await crypto.subtle.verify('Ed25519', pair[1], signature, probe))) {
      throw new Error(`SIGNING_KEYS key ${kid}: its public x does not belong to its private d`)
    }
  }
  return pair
}

/** A new private key as a JWK with a `kid` that sorts by creation date. */
export async function generateSigningKey(alg: SigningAlgorithm = 'ES256', now = new Date()) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, crv: CURVE_BY_ALG[alg] })
  const jwk = await exportJWK(privateKey)
  const random = crypto.getRandomValues(new Uint8Array(4))
  const suffix = Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')
  const kid = `${now.toISOString().slice(0, 10)}-${suffix}`
  return { ...jwk, kid, alg, use: 'sig' } satisfies JWK
}
