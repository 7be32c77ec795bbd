// Webhook signing secrets (Standard Webhooks) as D1 keeps them: sealed with AES-GCM under a key
// derived from SECRET_PEPPER, never in clear (decisions.md D26).
import { deriveFromPepper } from '../utils/pepper-keys.ts'
import { base64url } from 'jose'

/** Standard Webhooks: `whsec_` then base64 of the key; 32 random bytes (the spec asks ≥ 24). */
export const WEBHOOK_SECRET_PREFIX = 'whsec_'
const SECRET_BYTES = 32

const SECRET_KEY_INFO = 'portero webhook secret key v1'
const STORED_VERSION = 'v1'

/** A new secret, as the provider is shown it once: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + crypto.getRandomValues(new Uint8Array(SECRET_BYTES)).toBase64()
}

/**
 * The AES-GCM key that encrypts webhook secrets in D1, derived from SECRET_PEPPER with
 * HKDF-SHA-256 (RFC 5869) under a label of its own, as the picture id key is: a read of the
 * database alone does not give the secrets.
 */
export function deriveWebhookSecretKey(pepper: string): Promise<CryptoKey> {
  return deriveFromPepper(pepper, SECRET_KEY_INFO, { name: 'AES-GCM', length: 256 }, [
    'encrypt',
    'decrypt',
  ])
}

/**
 * `v1.<iv>.<ciphertext>` (base64url). The endpoint id is the additional data: a ciphertext copied
 * to another endpoint's row does not decrypt there.
 */
export async function encryptWebhookSecret(
  key: CryptoKey,
  secret: string,
  endpointId: string,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(endpointId) },
    key,
    new TextEncoder().encode(secret),
  )
  return [STORED_VERSION, base64url.encode(iv), base64url.encode(new Uint8Array(sealed))].join('.')
}

/** The secret `encryptWebhookSecret` sealed for this endpoint; throws if it was not. */
export async function decryptWebhookSecret(
  key: CryptoKey,
  stored: string,
  endpointId: string,
): Promise<string> {
  const [version, iv, sealed] = stored.split('.')
  if (version !== STORED_VERSION || !iv || !sealed) throw new Error('not a stored webhook secret')
  const plain = await crypto.subtle.decrypt(
    {
      name: 'AES-GCM',
      iv: base64url.decode(iv),
      additionalData: new TextEncoder().encode(endpointId),
    },
    key,
    base64url.decode(sealed),
  )
  return new TextDecoder().decode(plain)
}
