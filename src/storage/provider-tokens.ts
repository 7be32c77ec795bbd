// KV "google-token:" entries: the OAuth access token Portero holds for a Google service account
// (FCM pushes), keyed by the SHA-256 of the account's client_email and shared by every isolate.
//
// KV is eventually consistent: after a delete, another location may read its copy for up to 60 s.
// A revoked token read there costs one 401 from FCM, which deletes the entry again and retries the
// push later; nothing is lost.
import { sha256Hex } from '../encoding.ts'
import { epochSeconds } from '../utils/time.ts'

export const KV_PREFIX = 'google-token:'
/** KV refuses a shorter expirationTtl: tokens with less usable life left are not cached. */
export const MIN_TTL_SECONDS = 60
/** A token is used until this many seconds before it expires, and cached no longer than that. */
export const REFRESH_MARGIN_SECONDS = 300

/** `expiresAt` is in seconds since the epoch. */
export type ProviderToken = { accessToken: string; expiresAt: number }

export function providerTokenKey(clientEmail: string): Promise<string> {
  return sha256Hex(clientEmail).then((hash) => KV_PREFIX + hash)
}

/** The stored token, even if stale (the caller checks `expiresAt`); null if absent or malformed. */
export async function readProviderToken(
  kv: KVNamespace,
  key: string,
): Promise<ProviderToken | null> {
  const value = await kv.get<Partial<ProviderToken>>(key, 'json')
  if (typeof value?.accessToken !== 'string' || typeof value.expiresAt !== 'number') return null
  return { accessToken: value.accessToken, expiresAt: value.expiresAt }
}

/** Caches until REFRESH_MARGIN_SECONDS before expiry; skipped if that is under KV's minimum TTL. */
export async function writeProviderToken(
  kv: KVNamespace,
  key: string,
  value: ProviderToken,
  now: Date,
): Promise<void> {
  const ttl = value.expiresAt - REFRESH_MARGIN_SECONDS - epochSeconds(now)
  if (ttl < MIN_TTL_SECONDS) return
  await kv.put(key, JSON.stringify(value satisfies ProviderToken), { expirationTtl: ttl })
}

export function deleteProviderToken(kv: KVNamespace, key: string): Promise<void> {
  return kv.delete(key)
}
