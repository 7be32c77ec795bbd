// Client secrets (decisions.md D6): generated with 256 bits, stored only as HMAC-SHA-256(pepper,
// secret), compared in constant time, and an unknown client costs the same work as a wrong secret.
import { base64url } from 'jose'
import { fromHex, toHex } from '../encoding.ts'

/** Imported secrets (migrated Bridge or Yativo clients) must be at least this long. */
export const MIN_IMPORTED_SECRET_LENGTH = 32
export const MAX_SECRET_LENGTH = 256

const encoder = new TextEncoder()

/** A new client secret: 32 random bytes, base64url (43 characters). */
export function generateClientSecret(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)))
}

/** A new pepper for SECRET_PEPPER: 32 random bytes, base64url. */
export const generatePepper = generateClientSecret

/**
 * The key of client-secret digests: SECRET_PEPPER's bytes as the HMAC key, as they have been since
 * the first client was stored. Not derived like the picture-id key (derivePictureIdKey): a
 * different key would change every digest, and no client stored before could log in again.
 */
export function importPepper(pepper: string): Promise<CryptoKey> {
  const bytes = base64url.decode(pepper)
  return crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
}

/** The stored form of a secret: hex HMAC-SHA-256 under the pepper. */
export async function digestClientSecret(pepper: CryptoKey, secret: string): Promise<string> {
  return toHex(await crypto.subtle.sign('HMAC', pepper, encoder.encode(secret)))
}

/**
 * Secrets printed as examples in the source documents, upper-cased: document 003's curl example
 * (the SHA-1 of nothing, as it happens) and document 002's placeholder. Documents 000 and 001 show
 * none. Anyone who has read the documents knows them.
 */
const DOCUMENT_EXAMPLE_SECRETS = new Set(['DA39A3EE5E6B4B0D3255BFEF95601890AFD80709', 'APP_SECRET'])

// The hosts the local setup runs on (docs/development.md), as for the HTTPS exemption (SECURITY.md "Transport").
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** True when the issuer (config ISSUER) is a local development origin. */
export function isLocalIssuer(issuer: string): boolean {
  return URL.canParse(issuer) && LOCAL_HOSTS.has(new URL(issuer).hostname)
}

/**
 * Refuses an imported secret too short to resist guessing, or one printed as an example in the
 * source documents unless the deployment is `local` (where `npm start` seeds document 003's
 * example so it works as written). Returns a reason, or null if fine.
 */
export function checkImportedSecret(secret: string, { local }: { local: boolean }): string | null {
  if (secret.length < MIN_IMPORTED_SECRET_LENGTH) {
    return `must be at least ${MIN_IMPORTED_SECRET_LENGTH} characters`
  }
  if (secret.length > MAX_SECRET_LENGTH) return `must be at most ${MAX_SECRET_LENGTH} characters`
  // Compared in any case: the lower-case spelling is just as public.
  if (!local && DOCUMENT_EXAMPLE_SECRETS.has(secret.toUpperCase())) {
    return 'is an example printed in the source documents: anyone can read it'
  }
  return null
}

// Compared against when the client id is unknown, so that path hashes and compares just as a
// wrong secret does (decisions.md D6). Random per isolate, made on first use (Workers refuse random
// values at global scope), and never stored: no secret can match it.
let decoyDigest: string | undefined

/**
 * True when `secret` digests to one of `storedDigests` (the current secret, and during a rotation's
 * grace period the previous one). The HMAC is computed once and compared in constant time with
 * each; with no digests (unknown client) it compares with a decoy instead, and returns false.
 */
export async function secretMatches(
  pepper: CryptoKey,
  secret: string,
  storedDigests: readonly string[],
): Promise<boolean> {
  decoyDigest ??= toHex(crypto.getRandomValues(new Uint8Array(32)).buffer)
  const actual = new Uint8Array(await crypto.subtle.sign('HMAC', pepper, encoder.encode(secret)))
  let matched = false
  for (const digest of storedDigests.length > 0 ? storedDigests : [decoyDigest]) {
    const expected = fromHex(digest)
    const equal =
      expected.byteLength === actual.byteLength && crypto.subtle.timingSafeEqual(expected, actual)
    matched ||= equal && storedDigests.length > 0
  }
  return matched
}
