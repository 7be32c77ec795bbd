// A provider's webhook receiver, as a provider would write one from the Standard Webhooks
// specification alone: it checks `webhook-signature` against the secrets it was given, refuses
// stale timestamps, records what it received, and fails on demand. Independent of Portero's code.
import { Hono } from 'hono'

/** Standard Webhooks: a timestamp further than this from the receiver's clock is refused. */
const TOLERANCE_SECONDS = 5 * 60

export type ReceivedWebhook = {
  at: string
  id: string | null
  timestamp: string | null
  /** The `webhook-signature` header as received: one `v1,…` per signing secret. */
  signatures: string[]
  /** Which of the receiver's secrets (by index) gave a signature that matched. */
  matched: number[]
  verified: boolean
  /** The parsed JSON body (raw text if it did not parse). */
  body: unknown
  /** The body exactly as received: what a signature covers. */
  raw: string
  status: number
}

export type Receiver = {
  /** `whsec_…` secrets any of which may sign (a receiver mid-rotation knows both). */
  secrets: string[]
  /** The next this-many requests are answered `failStatus`, before any check. */
  failNext: number
  failStatus: number
  received: ReceivedWebhook[]
}

export type WebhookReceivers = Map<string, Receiver>

/** The receiver called `name`, made on first use. */
export function receiverOf(receivers: WebhookReceivers, name: string): Receiver {
  let receiver = receivers.get(name)
  if (!receiver) {
    receiver = { secrets: [], failNext: 0, failStatus: 500, received: [] }
    receivers.set(name, receiver)
  }
  return receiver
}

/** Adds POST /webhooks/receiver/{name} and its /_control/webhooks/{name} routes to `app`. */
export function addWebhookReceivers(app: Hono, receivers: WebhookReceivers): void {
  app.post('/webhooks/receiver/:name', async (c) => {
    const receiver = receiverOf(receivers, c.req.param('name'))
    const text = await c.req.text()
    const id = c.req.header('webhook-id') ?? null
    const timestamp = c.req.header('webhook-timestamp') ?? null
    const signatures = (c.req.header('webhook-signature') ?? '').split(' ').filter(Boolean)
    const record = (status: number, matched: number[] = []) => {
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // Kept as text.
      }
      receiver.received.push({
        at: new Date().toISOString(),
        id,
        timestamp,
        signatures,
        matched,
        verified: matched.length > 0,
        body,
        raw: text,
        status,
      })
      return c.json({ received: status < 300 }, status as 200)
    }
    if (receiver.failNext > 0) {
      receiver.failNext--
      return record(receiver.failStatus)
    }
    if (!id || !timestamp || !/^\d+$/.test(timestamp)) return record(400)
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return record(401)
    const matched = await matchingSecrets(receiver.secrets, id, timestamp, text, signatures)
    return record(matched.length > 0 ? 200 : 401, matched)
  })

  app.put('/_control/webhooks/:name', async (c) => {
    const body = (await c.req.json().catch(() => null)) as {
      secrets?: unknown
      fail_next?: unknown
      fail_status?: unknown
    } | null
    const receiver = receiverOf(receivers, c.req.param('name'))
    if (Array.isArray(body?.secrets)) receiver.secrets = body.secrets.map(String)
    if (typeof body?.fail_next === 'number') receiver.failNext = body.fail_next
    if (typeof body?.fail_status === 'number') receiver.failStatus = body.fail_status
    return c.json({ secrets: receiver.secrets.length, fail_next: receiver.failNext })
  })
  app.get('/_control/webhooks/:name', (c) =>
    c.json({ received: receiverOf(receivers, c.req.param('name')).received }),
  )
}

/** The indexes of the secrets that signed `id.timestamp.body` as one of `signatures` says. */
async function matchingSecrets(
  secrets: string[],
  id: string,
  timestamp: string,
  body: string,
  signatures: string[],
): Promise<number[]> {
  const content = new TextEncoder().encode(`${id}.${timestamp}.${body}`)
  const given = signatures
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3))
    .map((b64) => {
      try {
        return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))
      } catch {
        return null
      }
    })
  const matched: number[] = []
  for (const [index, secret] of secrets.entries()) {
    const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (ch) => ch.charCodeAt(0))
    const key = await crypto.subtle.importKey(
      'raw',
      raw,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    )
    // crypto.subtle.verify compares in constant time.
    for (const signature of given) {
      if (signature && (await crypto.subtle.verify('HMAC', key, signature, content))) {
        matched.push(index)
        break
      }
    }
  }
  return matched
}
