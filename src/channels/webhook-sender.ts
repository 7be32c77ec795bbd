// Sends one webhook request as the Standard Webhooks specification describes it: the event's body,
// signed with every current secret of the endpoint (decisions.md D26).
import { addressRange } from '../utils/ip-address.ts'
import { fetchWithTimeout, parseRetryAfter, truncate } from './http.ts'

/** Standard Webhooks: `whsec_` then base64 of the key. */
const SECRET_PREFIX = 'whsec_'

export type WebhookRequest = {
  url: string
  /** The event id: `webhook-id`, the same on every attempt (receivers deduplicate on it). */
  id: string
  body: string
  /** `whsec_…` secrets; each gives one signature (two during a rotation's overlap). */
  secrets: readonly string[]
  /** How long the endpoint has to answer (decisions.md D36): then the request is abandoned. */
  timeoutMs: number
}

export type WebhookSendResult =
  | { ok: true; status: number; durationMs: number }
  | {
      ok: false
      /** The answer's status, or null when there was none (network error, timeout). */
      status: number | null
      error: string
      retryAfterSeconds?: number
      durationMs: number
    }

/**
 * POSTs the event. A 2xx is success; anything else, a redirect included (redirects are not
 * followed: the endpoint is the registered URL, never one it points to), is a failure.
 */
export async function sendWebhook(
  request: WebhookRequest,
  now: Date,
  fetchFn: typeof globalThis.fetch = globalThis.fetch,
): Promise<WebhookSendResult> {
  // Registration refuses these (domain/webhooks.ts); an endpoint stored before its range was
  // refused is not delivered to either. Loopback is only ever registered in development.
  const range = addressRange(URL.parse(request.url)?.hostname ?? '')
  if (range !== null && range !== 'unicast' && range !== 'loopback') {
    const error = `the endpoint's address is not public (${range}): not sent`
    return { ok: false, status: null, error, durationMs: 0 }
  }
  const timestamp = Math.floor(now.getTime() / 1000)
  const signature = await signWebhook(request.secrets, request.id, timestamp, request.body)
  const started = Date.now()
  const outcome = await fetchWithTimeout(
    fetchFn,
    request.url,
    {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Portero-Webhooks/1',
        'webhook-id': request.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      },
      body: request.body,
    },
    request.timeoutMs,
  )
  const durationMs = Date.now() - started
  if (!outcome.ok) return { ok: false, status: null, error: outcome.reason, durationMs }
  const { response } = outcome
  // The body is not read beyond discarding it: what the endpoint says is not ours to keep.
  await response.body?.cancel()
  if (response.status >= 200 && response.status < 300) {
    return { ok: true, status: response.status, durationMs }
  }
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now)
  return {
    ok: false,
    status: response.status,
    error: truncate(
      response.status >= 300 && response.status < 400
        ? `answered a redirect (${response.status}), which is not followed`
        : `answered ${response.status}`,
    ),
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    durationMs,
  }
}

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each
 * secret, space-separated (Standard Webhooks "Signature scheme"); the HMAC key is the
 * base64-decoded part after `whsec_`. `timestamp` is in epoch seconds, as `webhook-timestamp`.
 */
export async function signWebhook(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const content = new TextEncoder().encode(`${id}.${timestamp}.${body}`)
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      const raw = Uint8Array.fromBase64(secret.slice(SECRET_PREFIX.length))
      const key = await crypto.subtle.importKey(
        'raw',
        raw,
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      )
      const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, content))
      return `v1,${mac.toBase64()}`
    }),
  )
  return signatures.join(' ')
}
