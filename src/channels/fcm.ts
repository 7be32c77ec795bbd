// Push delivery through the FCM HTTP v1 API (decisions.md D12) with a Google service-account access
// token. The delivery id is the Android notification tag, the APNs collapse id and the web push
// Topic, so a push repeated after an unknown outcome replaces the first one on the device.
import { sha256Hex } from '../encoding.ts'
import { ProviderAuthError, type GoogleTokenSource } from './google-token.ts'
import type { Notifier, OutboundMessage, SendResult } from './notifier.ts'
import { fetchWithTimeout, field, parseRetryAfter, readJson, truncate } from './http.ts'

export type FcmNotifierConfig = {
  /** `https://fcm.googleapis.com` in production. */
  baseUrl: string
  projectId: string
  tokens: GoogleTokenSource
  fetch?: typeof globalThis.fetch
  timeoutMs?: number
  /** Only used to turn a Retry-After HTTP date into seconds. */
  now?: () => Date
}

/** The `message` of a v1 `messages:send` request, as Portero fills it. */
export type FcmMessage = {
  token: string
  notification: { title: string; body: string; image?: string }
  data: { message_id: string; link?: string; portero_ack?: string }
  android: { notification: { tag: string; image?: string } }
  apns: {
    headers: { 'apns-collapse-id': string }
    payload?: { aps: { 'mutable-content': 1 } }
    fcm_options?: { image: string }
  }
  webpush: {
    headers: { Topic: string }
    notification?: { image: string }
    fcm_options?: { link: string }
  }
}

/**
 * FCM's project quota refills "in the following minute" (Firebase, "Throttling and quotas"): a
 * 429 QUOTA_EXCEEDED without Retry-After waits this long, not our 5–10 s first backoff step.
 */
export const QUOTA_EXCEEDED_WAIT_SECONDS = 60

/** google.rpc.Status with FCM's details, as far as it is read here. */
type GoogleError = { status?: string; message?: string; errorCode?: string; fields: string[] }

export function createFcmNotifier({
  baseUrl,
  projectId,
  tokens,
  fetch = globalThis.fetch,
  timeoutMs = 10_000,
  now = () => new Date(),
}: FcmNotifierConfig): Notifier {
  const project = encodeURIComponent(projectId)
  const url = `${baseUrl.replace(/\/+$/, '')}/v1/projects/${project}/messages:send`

  async function toSendResult(response: Response): Promise<SendResult> {
    const body = await readJson(response)
    const { status } = response
    if (response.ok) {
      const name = field(body, 'name')
      if (typeof name === 'string' && name !== '') return { ok: true, providerMessageId: name }
      return {
        ok: false,
        retryable: false,
        reason: `FCM answered ${status} without a message name`,
      }
    }
    const error = readGoogleError(body)
    const detail = describe(status, error)
    if (error.errorCode === 'UNREGISTERED') {
      return {
        ok: false,
        retryable: false,
        permanent: 'unregistered',
        reason: `FCM: the registration token is no longer registered (${detail})`,
      }
    }
    if (status === 429 || status >= 500) {
      let retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), now())
      if (status === 429 && error.errorCode === 'QUOTA_EXCEEDED') {
        retryAfterSeconds ??= QUOTA_EXCEEDED_WAIT_SECONDS
      }
      return {
        ok: false,
        retryable: true,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
        reason: `FCM is unavailable (${detail})`,
      }
    }
    if (status === 401) {
      if (error.errorCode === 'THIRD_PARTY_AUTH_ERROR') {
        // Firebase's APNs certificate or web push key is wrong, not our token: a retry cannot help.
        return {
          ok: false,
          retryable: false,
          reason: `FCM: APNs or web push credentials refused (${detail})`,
          operatorFault: true,
        }
      }
      // The cached access token was revoked or expired early: drop it so the retry gets a new one.
      await tokens.invalidate()
      return {
        ok: false,
        retryable: true,
        reason: `FCM rejected Portero's access token (${detail})`,
        operatorFault: true,
      }
    }
    if (
      (status === 403 && error.errorCode === 'SENDER_ID_MISMATCH') ||
      (status === 400 && isTokenInvalid(error))
    ) {
      return {
        ok: false,
        retryable: false,
        permanent: 'invalid_destination',
        reason: `FCM refused the registration token (${detail})`,
      }
    }
    // The service account may not send for this project, or the project does not exist.
    if (status === 403 || status === 404) {
      return {
        ok: false,
        retryable: false,
        reason: `FCM refused Portero's project (${detail})`,
        operatorFault: true,
      }
    }
    return { ok: false, retryable: false, reason: `FCM refused the message (${detail})` }
  }

  return {
    channel: 'fcm',
    async send(message) {
      let accessToken: string
      try {
        accessToken = await tokens.getAccessToken()
      } catch (error) {
        if (!(error instanceof ProviderAuthError)) throw error
        const { retryable, retryAfterSeconds, message: reason } = error
        return {
          ok: false,
          retryable,
          ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          reason,
          // Refused for good: the service account or its key is wrong. An outage is not ours.
          ...(retryable ? {} : { operatorFault: true as const }),
        }
      }
      const outcome = await fetchWithTimeout(
        fetch,
        url,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${accessToken}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify({ message: await toFcmMessage(message) }),
        },
        timeoutMs,
      )
      if (!outcome.ok) return { ok: false, retryable: true, reason: `FCM ${outcome.reason}` }
      return toSendResult(outcome.response)
    },
  }
}

async function toFcmMessage({
  id,
  to,
  title,
  body,
  link,
  pictureUrl,
  ackUrl,
}: OutboundMessage): Promise<FcmMessage> {
  const image = pictureUrl ? { image: pictureUrl } : {}
  return {
    token: to,
    // FCM v1: notification.image for every platform, repeated where each platform reads it.
    notification: { title, body, ...image },
    // The link travels in data only: apps open it themselves (no click_action to configure). The
    // app POSTs to portero_ack once it has the push (decisions.md D46).
    data: { message_id: id, ...(link ? { link } : {}), ...(ackUrl ? { portero_ack: ackUrl } : {}) },
    // The tag (and APNs collapse id, web push Topic) makes a retried push replace the first on the
    // device. No android.collapse_key: FCM keeps only four per device while it is offline.
    android: { notification: { tag: id, ...image } },
    apns: {
      headers: { 'apns-collapse-id': await apnsCollapseId(id) },
      // iOS shows an image only through a notification service extension, which
      // mutable-content wakes.
      ...(pictureUrl
        ? { payload: { aps: { 'mutable-content': 1 } }, fcm_options: { image: pictureUrl } }
        : {}),
    },
    webpush: {
      headers: { Topic: await webPushTopic(id) },
      ...(pictureUrl ? { notification: { image: pictureUrl } } : {}),
      // FCM refuses a web push link that is not HTTPS.
      ...(link && link.startsWith('https://') ? { fcm_options: { link } } : {}),
    },
  }
}

/** APNs: apns-collapse-id is at most 64 bytes. */
async function apnsCollapseId(id: string): Promise<string> {
  return new TextEncoder().encode(id).length <= 64 ? id : sha256Hex(id)
}

/** RFC 8030 §5.4: Topic is at most 32 characters of the URL-safe base64 alphabet. */
async function webPushTopic(id: string): Promise<string> {
  if (/^[A-Za-z0-9_-]{1,32}$/.test(id)) return id
  const uuidHex = id.toLowerCase().replaceAll('-', '')
  if (/^[0-9a-f]{32}$/.test(uuidHex) && id.length === 36) return uuidHex
  return (await sha256Hex(id)).slice(0, 32)
}

function readGoogleError(body: unknown): GoogleError {
  const error = field(body, 'error')
  const status = field(error, 'status')
  const message = field(error, 'message')
  const details = field(error, 'details')
  const result: GoogleError = {
    ...(typeof status === 'string' ? { status } : {}),
    ...(typeof message === 'string' ? { message } : {}),
    fields: [],
  }
  for (const detail of Array.isArray(details) ? details : []) {
    const errorCode = field(detail, 'errorCode')
    if (typeof errorCode === 'string') result.errorCode ??= errorCode
    const violations = field(detail, 'fieldViolations')
    for (const violation of Array.isArray(violations) ? violations : []) {
      const name = field(violation, 'field')
      if (typeof name === 'string') result.fields.push(name)
    }
  }
  return result
}

/**
 * FCM answers a malformed or foreign registration token with INVALID_ARGUMENT and says so in the
 * message ("The registration token is not a valid FCM registration token") or names the field.
 * Other INVALID_ARGUMENT errors are about our payload and do not condemn the token.
 */
function isTokenInvalid(error: GoogleError): boolean {
  if (error.errorCode !== 'INVALID_ARGUMENT' && error.status !== 'INVALID_ARGUMENT') return false
  return error.fields.includes('message.token') || /registration token/i.test(error.message ?? '')
}

function describe(status: number, error: GoogleError): string {
  let detail = `HTTP ${status}`
  const code = error.errorCode ?? error.status
  if (code) detail += ` ${truncate(code, 60)}`
  if (error.message) detail += `: ${truncate(error.message)}`
  return detail
}
