// What Portero sends verifies with the official Standard Webhooks library (decisions.md D40), as a
// provider's receiver would check it, beside the test's own verifier (test/helpers/webhooks.ts).
import { Webhook, WebhookVerificationError } from 'standardwebhooks'
import { describe, expect, it, vi } from 'vitest'
import { sendWebhook } from '../../src/channels/webhook-sender.ts'

const secret = () => `whsec_${crypto.getRandomValues(new Uint8Array(32)).toBase64()}`
const BODY = JSON.stringify({
  type: 'message.delivered',
  timestamp: '2026-11-22T09:15:02.117Z',
  data: { message_id: 'm1', delivery_id: 'd1', service_id: 1, part: 'notification' },
})

/** Sends one event with `secrets` and returns the request the endpoint got. */
async function sent(secrets: string[]) {
  const fetchFn = vi.fn<typeof fetch>().mockResolvedValue(new Response(null, { status: 204 }))
  const request = { url: 'https://hooks.example.com/x', id: 'msg_1', body: BODY, timeoutMs: 15_000 }
  await sendWebhook({ ...request, secrets }, new Date(), fetchFn)
  const [, init] = fetchFn.mock.calls[0]!
  return { body: init!.body as string, headers: Object.fromEntries(new Headers(init!.headers)) }
}

describe('the standardwebhooks package', () => {
  it("verifies Portero's request and returns its body", async () => {
    const key = secret()
    const { body, headers } = await sent([key])
    expect(new Webhook(key).verify(body, headers)).toEqual(JSON.parse(BODY))
  })

  it("verifies with either secret during a rotation's overlap", async () => {
    const [current, previous] = [secret(), secret()]
    const { body, headers } = await sent([current, previous])
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2)
    for (const key of [current, previous])
      expect(new Webhook(key).verify(body, headers)).toBeTruthy()
  })

  it('refuses another secret, a changed body and a replayed old timestamp', async () => {
    const key = secret()
    const { body, headers } = await sent([key])
    expect(() => new Webhook(secret()).verify(body, headers)).toThrow(WebhookVerificationError)
    expect(() => new Webhook(key).verify(body.replace('m1', 'm2'), headers)).toThrow(
      WebhookVerificationError,
    )
    const old = String(Math.floor(Date.now() / 1000) - 600)
    expect(() => new Webhook(key).verify(body, { ...headers, 'webhook-timestamp': old })).toThrow(
      WebhookVerificationError,
    )
  })
})
