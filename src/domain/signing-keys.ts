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
  for (const [index, jwk] of (jwks as JWK[]).entries()) {
    const { kid, alg } = jwk
    if (typeof kid !== 'string' || kid === '') throw new Error(`SIGNING_KEYS key ${index} has no kid`)
    if (!isSigningAlgorithm(alg)) throw new Error(`SIGNING_KEYS key ${kid}: alg must be ES256 or EdDSA`)
    if (jwk.crv !== CURVE_BY_ALG[alg]) throw new Error(`SIGNING_KEYS key ${kid}: wrong curve for ${alg}`)
    if (typeof jwk.d !== 'string') throw new Error(`SIGNING_KEYS key ${kid} is not a private key`)
    if (verifying.has(kid)) throw new Error(`SIGNING_KEYS has two keys with kid ${kid}`)
    const publicJwk: JWK = { kid, alg, use: 'sig' }
    for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) publicJwk[member] = jwk[member]
    const [privateKey, publicKey] = await Promise.all([
      importJWK({ ...jwk, ext: false }, alg),
      importJWK(publicJwk, alg),
    ])
    verifying.set(kid, { kid, alg, key: publicKey as CryptoKey })
    publicKeys.push(publicJwk)
    signing = { kid, alg, key: privateKey as CryptoKey }
  }
  return { signing: signing!, verifying, publicJwks: { keys: publicKeys } }
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
