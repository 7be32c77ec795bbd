// Published pictures in KV (decisions.md D19), under their own prefix, keyed by their public id (an
// HMAC of the content's SHA-256). KV expires them; a value also carries its own expiry in its
// metadata.
import { epochSeconds } from '../utils/time.ts'

export const KV_PREFIX = 'picture:'

/** `type`: the media type the picture was stored with; `expiresAt`: seconds since the epoch. */
export type PictureMeta = { type: string; expiresAt: number }

export type StoredPicture = { body: ReadableStream; meta: PictureMeta }

// KV refuses an expirationTtl under 60 s.
const MIN_TTL_SECONDS = 60

export async function putPicture(
  cache: KVNamespace,
  id: string,
  bytes: Uint8Array,
  meta: PictureMeta,
  ttlSeconds: number,
): Promise<void> {
  await cache.put(KV_PREFIX + id, bytes, {
    expirationTtl: Math.max(MIN_TTL_SECONDS, ttlSeconds),
    metadata: meta,
  })
}

/**
 * Whether `error` is KV refusing a write because the key was written less than a second ago (KV
 * allows one write a second to a key; the binding throws with the API's 429 "Too Many Requests").
 */
export function isWriteTooSoon(error: unknown): boolean {
  return error instanceof Error && /\b429\b|too many requests/i.test(error.message)
}

/**
 * A picture's metadata, or null. KV has no HEAD: the value is opened as a stream and cancelled
 * unread. KV is eventually consistent across locations, so a picture stored elsewhere moments ago
 * may look absent here; it is then stored again with the same bytes, which is harmless.
 */
export async function findPictureMeta(cache: KVNamespace, id: string): Promise<PictureMeta | null> {
  const { value, metadata } = await cache.getWithMetadata<PictureMeta>(KV_PREFIX + id, 'stream')
  await value?.cancel()
  return value && metadata ? metadata : null
}

/** The picture's bytes as a stream and its metadata, or null when unknown or expired. */
export async function findPicture(
  cache: KVNamespace,
  id: string,
  now: Date,
): Promise<StoredPicture | null> {
  const { value, metadata } = await cache.getWithMetadata<PictureMeta>(KV_PREFIX + id, 'stream')
  if (!value || !metadata || metadata.expiresAt <= epochSeconds(now)) {
    await value?.cancel()
    return null
  }
  return { body: value, meta: metadata }
}
