// The app's acknowledgement of a push (decisions.md D46): each push carries, in its FCM data
// payload (`portero_ack`), a URL of its own, `{ISSUER}/acks/{token}`. The token names the
// delivery's send shard and id and when it expires, with an HMAC-SHA-256 over them under a key
// derived from SECRET_PEPPER: nothing is stored to make or check one, and no other delivery can be
// named with it. POST to it marks the push `delivered` through the lifecycle, once.
import { base64url } from 'jose'
import { AppError } from '../errors.ts'
import { changeDeliveryStatus } from '../storage/delivery-lifecycle.ts'
import { deriveFromPepper } from '../utils/pepper-keys.ts'
import { epochSeconds } from '../utils/time.ts'

/** FCM keeps a push for a device that is offline at most four weeks: so long may an app ack it. */
export const ACK_TTL_SECONDS = 28 * 24 * 60 * 60

/** The path of the acknowledgement URLs, before the token. */
export const ACK_PATH = '/acks'

const ACK_KEY_INFO = 'portero push ack key v1'

/** The HMAC key of acknowledgement tokens, derived from SECRET_PEPPER under a label of its own. */
export function deriveAckKey(pepper: string): Promise<CryptoKey> {
  return deriveFromPepper(pepper, ACK_KEY_INFO, { name: 'HMAC', hash: 'SHA-256', length: 256 }, [
    'sign',
    'verify',
  ])
}

const signed = (claims: string) => new TextEncoder().encode(`push ack ${claims}`)

/**
 * The acknowledgement URL of a push delivery, valid ACK_TTL_SECONDS from `now`: its token is
 * `<expiry>.<shard>.<delivery id>.<base64url of their HMAC>`.
 */
export async function ackUrl(
  { key, issuer }: { key: CryptoKey; issuer: string },
  { shard, deliveryId }: { shard: string; deliveryId: string },
  now: Date,
): Promise<string> {
  const claims = `${epochSeconds(now) + ACK_TTL_SECONDS}.${shard}.${deliveryId}`
  const mac = await crypto.subtle.sign('HMAC', key, signed(claims))
  return `${issuer}${ACK_PATH}/${claims}.${base64url.encode(new Uint8Array(mac))}`
}

/** The shard and delivery of a token this deployment signed, not expired; else 403. */
export async function verifyAckToken(key: CryptoKey, token: string, now: Date) {
  const [expiry = '', shard = '', deliveryId = '', signature = ''] = token.split('.')
  const claims = `${expiry}.${shard}.${deliveryId}`
  let valid = false
  try {
    valid = await crypto.subtle.verify('HMAC', key, base64url.decode(signature), signed(claims))
  } catch {
    // Not base64url.
  }
  if (!valid || `${claims}.${signature}` !== token) {
    throw new AppError('invalid_signature', 'This acknowledgement link was not made by Portero.')
  }
  if (Number(expiry) <= epochSeconds(now)) {
    throw new AppError('invalid_signature', 'This acknowledgement link has expired.')
  }
  return { shard, deliveryId }
}

export type AckDeps = {
  key: CryptoKey
  /** A send shard's database by its name. */
  shards: (name: string) => D1Database
  metrics?: AnalyticsEngineDataset
  now: Date
}

/**
 * Marks the push of a valid token `delivered` (the lifecycle's `acknowledged`). Idempotent: a
 * push already delivered, one that failed, or one no longer kept (MESSAGE_RETENTION_DAYS) is left
 * as it is, and the answer is the same. A fallback SMS already created is not cancelled. 403
 * `invalid_signature` for a forged or expired token.
 */
export async function acknowledgePush(deps: AckDeps, token: string): Promise<void> {
  const { shard, deliveryId } = await verifyAckToken(deps.key, token, deps.now)
  await changeDeliveryStatus(
    { shard: deps.shards(shard), metrics: deps.metrics },
    { kind: 'acknowledged', deliveryId, at: deps.now },
  )
}
