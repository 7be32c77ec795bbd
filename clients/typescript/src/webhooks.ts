// Verifying the events Portero POSTs to a provider's endpoint, as the Standard Webhooks
// specification says: HMAC-SHA256 keyed with the secret after `whsec_`, over
// `{webhook-id}.{webhook-timestamp}.{body}`, one `v1,` signature matching is enough.
import type { webhooks } from './schema.d.ts'

type EventOf<K extends keyof webhooks> = webhooks[K]['post'] extends {
  requestBody: { content: { 'application/json': infer Body } }
}
  ? Body
  : never

/** Any event Portero sends: `message.sent`, `message.delivered`… with its `data`. */
export type WebhookEvent = { [K in keyof webhooks]: EventOf<K> }[keyof webhooks]

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WebhookVerificationError'
  }
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>

function header(headers: HeaderSource, name: string): string {
  const value = headers instanceof Headers ? headers.get(name) : headers[name]
  const text = Array.isArray(value) ? value[0] : value
  if (!text) throw new WebhookVerificationError(`missing ${name} header`)
  return text
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text)
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

export type VerifyOptions = {
  /** How far the timestamp may be from now, either way (default 300 s). */
  toleranceSeconds?: number
  now?: Date
}

/**
 * Checks `body` (the raw text, exactly as received) against the request's headers with the
 * endpoint's secret, or each of several (during a rotation), and returns the event. Throws
 * WebhookVerificationError when nothing matches, the timestamp is too far off, or a header is
 * missing. Deduplicate on `webhook-id`: a retry carries the same one.
 */
export async function verifyWebhook(
  secret: string | readonly string[],
  body: string,
  headers: HeaderSource,
  { toleranceSeconds = 300, now = new Date() }: VerifyOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature').split(' ')
  const sent = Number(timestamp)
  if (!/^\d+$/.test(timestamp) || Math.abs(now.getTime() / 1000 - sent) > toleranceSeconds) {
    throw new WebhookVerificationError('timestamp too far from now')
  }
  const content = new TextEncoder().encode(`${id}.${timestamp}.${body}`)
  for (const one of typeof secret === 'string' ? [secret] : secret) {
    const raw = decodeBase64(one.startsWith('whsec_') ? one.slice('whsec_'.length) : one)
    const key = await crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    const expected = new Uint8Array(await crypto.subtle.sign('HMAC', key, content))
    for (const signature of signatures) {
      const [version, value] = signature.split(',', 2)
      if (version !== 'v1' || !value) continue
      let given: Uint8Array
      try {
        given = decodeBase64(value)
      } catch {
        continue
      }
      if (sameBytes(given, expected)) return JSON.parse(body) as WebhookEvent
    }
  }
  throw new WebhookVerificationError('no matching signature')
}
