// Keys derived from SECRET_PEPPER with HKDF-SHA-256 (RFC 5869), each under a label of its own, so
// that no two uses share a key: picture ids, DPoP nonces, sealed webhook secrets. Nothing needs
// storing, and every isolate in every location derives the same key.
import { base64url } from 'jose'

export async function deriveFromPepper(
  pepper: string,
  label: string,
  algorithm: SubtleCryptoImportKeyAlgorithm,
  usages: string[],
): Promise<CryptoKey> {
  const secret = await crypto.subtle.importKey('raw', base64url.decode(pepper), 'HKDF', false, [
    'deriveKey',
  ])
  const info = new TextEncoder().encode(label)
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(), info },
    secret,
    algorithm,
    false,
    usages,
  )
}
