// The secondary SMS route (decisions.md D45): Vonage's SMS API (`POST {base}/sms/json`, api_key
// and api_secret in the body), and the token that authenticates its delivery receipts. Vonage
// answers 200 with a status per message part: "0" is accepted, any other a refusal.
import { smsText, type DeliveryReceipt } from '../channel.ts'
import { fetchWithTimeout, field, parseRetryAfter, readJson, truncate } from './http.ts'
import type { Notifier, SendResult } from './notifier.ts'

export type VonageNotifierConfig = {
  /** `https://rest.nexmo.com` in production. */
  baseUrl: string
  apiKey: string
  apiSecret: string
  /** The sender: a number (digits, no '+') or an alphanumeric sender id. */
  from: string
  /** `${ISSUER}/callbacks/sms/vonage`: where Vonage sends each SMS's delivery receipt. */
  callbackUrl: string
  fetch?: typeof globalThis.fetch
  timeoutMs?: number
  now?: () => Date
}

// Vonage's send status codes that are worth trying again later.
const TRANSIENT_STATUS: ReadonlySet<string> = new Set([
  '1', // throttled
  '5', // internal error
])

/** Status codes that blame Portero's account or its settings, not the message. */
const OPERATOR_FAULT_STATUS: ReadonlySet<string> = new Set([
  '4', // invalid credentials
  '8', // partner account barred
  '9', // partner quota exceeded
  '29', // non-whitelisted destination (a trial account)
])

export function createVonageNotifier({
  baseUrl,
  apiKey,
  apiSecret,
  from,
  callbackUrl,
  fetch = globalThis.fetch,
  timeoutMs = 10_000,
  now = () => new Date(),
}: VonageNotifierConfig): Notifier {
  const url = `${baseUrl.replace(/\/+$/, '')}/sms/json`
  const redact = (result: SendResult): SendResult =>
    'reason' in result && result.reason.includes(apiSecret)
      ? { ...result, reason: result.reason.replaceAll(apiSecret, '[redacted]') }
      : result
  return {
    channel: 'sms',
    async send(message) {
      const callback = await vonageCallbackUrl(callbackUrl, apiSecret, message.shard)
      const outcome = await fetchWithTimeout(
        fetch,
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({
            api_key: apiKey,
            api_secret: apiSecret,
            from,
            // Vonage takes the number in international form without the '+'.
            to: message.to.replace(/\D/g, ''),
            text: smsText(message),
            callback,
            'client-ref': message.id,
            // Anything outside GSM-7 must go as unicode, or Vonage replaces it with '?'.
            ...(/[^\x00-\x7F]/.test(smsText(message)) ? { type: 'unicode' } : {}),
          }).toString(),
        },
        timeoutMs,
      )
      if (!outcome.ok) {
        return redact({ ok: false, retryable: true, reason: `Vonage SMS API ${outcome.reason}` })
      }
      return redact(await toSendResult(outcome.response, now()))
    },
  }
}

async function toSendResult(response: Response, now: Date): Promise<SendResult> {
  const body = await readJson(response)
  const { status } = response
  if (!response.ok) {
    const detail = `HTTP ${status}`
    if (status === 429 || status >= 500) {
      const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), now)
      return {
        ok: false,
        retryable: true,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
        reason: `Vonage SMS API is unavailable (${detail})`,
      }
    }
    if (status === 401 || status === 403 || status === 404) {
      // Our account or VONAGE_API_BASE_URL, not this message.
      return {
        ok: false,
        retryable: false,
        reason: `Vonage SMS API refused Portero's credentials or URL (${detail})`,
        operatorFault: true,
      }
    }
    return { ok: false, retryable: false, reason: `Vonage SMS API refused the message (${detail})` }
  }
  const messages = field(body, 'messages')
  const first: unknown = Array.isArray(messages) ? messages[0] : undefined
  const code = field(first, 'status')
  const id = field(first, 'message-id')
  if (code === '0' && typeof id === 'string' && id !== '') {
    return { ok: true, providerMessageId: id }
  }
  if (typeof code !== 'string') {
    return {
      ok: false,
      retryable: false,
      reason: `Vonage SMS API answered ${status} without a message status`,
    }
  }
  const text = field(first, 'error-text')
  const detail = `status ${code}${typeof text === 'string' && text ? `: ${truncate(text)}` : ''}`
  if (TRANSIENT_STATUS.has(code)) {
    return { ok: false, retryable: true, reason: `Vonage SMS API is unavailable (${detail})` }
  }
  if (OPERATOR_FAULT_STATUS.has(code)) {
    return {
      ok: false,
      retryable: false,
      reason: `Vonage SMS API refused Portero's account or settings (${detail})`,
      operatorFault: true,
    }
  }
  return {
    ok: false,
    retryable: false,
    reason: `Vonage SMS API refused the message (${detail})`,
    errorCode: `vonage-${code}`,
    // Status 7: the number is barred.
    ...(code === '7' ? { permanent: 'invalid_destination' as const } : {}),
  }
}

/**
 * The delivery-receipt URL of one SMS: the receipts route, the send shard of its delivery, and
 * `token`, which proves Portero wrote that shard into the URL: base64url of HMAC-SHA256 keyed with
 * the API secret over the shard's name. Vonage's signed callbacks are an account option; the
 * token works without it.
 */
export async function vonageCallbackUrl(
  url: string,
  apiSecret: string,
  shard: string | undefined,
): Promise<string> {
  const name = shard ?? ''
  const token = await vonageCallbackToken(apiSecret, name)
  return `${url}?shard=${encodeURIComponent(name)}&token=${token}`
}

export async function vonageCallbackToken(apiSecret: string, shard: string): Promise<string> {
  const encoder = new TextEncoder()
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(apiSecret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(`portero dlr v1 ${shard}`))
  return new Uint8Array(mac).toBase64({ alphabet: 'base64url', omitPadding: true })
}

/** Whether `token` is the callback token of `shard`, compared in constant time. */
export async function verifyVonageCallbackToken(
  apiSecret: string,
  shard: string,
  token: string | undefined,
): Promise<boolean> {
  if (!apiSecret || !token) return false
  const encoder = new TextEncoder()
  const expected = encoder.encode(await vonageCallbackToken(apiSecret, shard))
  const given = encoder.encode(token)
  return expected.byteLength === given.byteLength && crypto.subtle.timingSafeEqual(expected, given)
}

// Vonage's delivery receipt statuses: the final ones, and what they mean for a delivery.
const RECEIPT_OUTCOME: Record<string, 'delivered' | 'undelivered' | 'failed'> = {
  delivered: 'delivered',
  expired: 'undelivered',
  failed: 'undelivered',
  rejected: 'failed',
}

/** A Vonage delivery receipt as a DeliveryReceipt (accepted, buffered, unknown: on the way). */
export function readVonageReceipt(fields: {
  messageId: string
  status: string
  errCode?: string | undefined
}): DeliveryReceipt {
  const apiStatus = fields.status.toLowerCase()
  const outcome = RECEIPT_OUTCOME[apiStatus] ?? 'progress'
  const code = fields.errCode?.trim()
  const errorCode = code && code !== '0' ? `vonage-${code}` : null
  const reason =
    outcome === 'undelivered' || outcome === 'failed'
      ? `Vonage SMS API reported the message ${apiStatus}${code && code !== '0' ? `, error ${code}` : ''}`
      : null
  return { messageSid: fields.messageId, outcome, apiStatus, errorCode, reason, optedOut: false }
}
