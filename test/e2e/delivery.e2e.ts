// The delivery lifecycle on the running system: an SMS goes out through the stand-in, whose signed
// status callbacks reach Portero on its own, and the message ends delivered, or undelivered for a
// number the stand-in was told to fail. The demo provider's webhook endpoint (the stand-in's
// receiver) hears of both, and the test checks each signature itself, with Node's crypto.
/// <reference types="node" />
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient, SERVER_LOG, type DevCredentials } from './server.ts'

type Delivery = {
  status: string
  error_code: string | null
  reached: Record<string, string | null>
  events: { status: string }[]
}
type MessageView = { id: string; provider_id: string; status: string; deliveries: Delivery[] }

let portero: DevCredentials
let token: string

beforeAll(async () => {
  portero = readCredentials()
  const { id, secret } = seededClient('demo-client')
  const response = await fetch(`${portero.base}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${id}:${secret}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  })
  token = ((await response.json()) as { access_token: string }).access_token
  const registered = await api('/webhooks', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      url: `${portero.standIn}/webhooks/receiver/${RECEIVER}`,
      event_types: ['message.delivered', 'message.undelivered'],
    }),
  })
  expect(registered.status).toBe(201)
  endpoint = (await registered.json()) as { id: string; secret: string }
  // The receiver verifies too, as a provider's would: it is told the secret.
  const told = await fetch(`${portero.standIn}/_control/webhooks/${RECEIVER}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secrets: [endpoint.secret] }),
  })
  expect(told.status).toBe(200)
})

// The local database outlives the run: the endpoint goes with it (a provider may have 10).
afterAll(async () => {
  if (endpoint) await api(`/webhooks/${endpoint.id}`, { method: 'DELETE' })
})

const RECEIVER = `e2e-${Date.now()}`
let endpoint: { id: string; secret: string } | undefined
const sentIds: Record<'delivered' | 'undelivered', string> = { delivered: '', undelivered: '' }

type Received = {
  id: string
  timestamp: string
  signatures: string[]
  verified: boolean
  body: { type: string; data: { message_id: string; status: string; error_code?: string } }
}

/**
 * Standard Webhooks, from the specification: HMAC-SHA256 keyed with the base64 after `whsec_`,
 * over `${webhook-id}.${webhook-timestamp}.${body}`; one `v1,` signature matching is enough.
 */
function verifies(secret: string, got: Received): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  const mac = createHmac('sha256', key)
    .update(`${got.id}.${got.timestamp}.${JSON.stringify(got.body)}`)
    .digest()
  return got.signatures.some((signature) => {
    const given = Buffer.from(signature.replace(/^v1,/, ''), 'base64')
    return given.length === mac.length && timingSafeEqual(given, mac)
  })
}

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${portero.base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...init.headers },
  })

/** POST /Services: one SMS notification to `destination` (a recipient's user id). */
async function sendSms(destination: string): Promise<string> {
  const response = await api('/Services', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      provider_id: 1001,
      service_token: portero.serviceToken,
      service_id: portero.serviceId,
      parameters: {
        destination,
        notification: { title: 'Turno', message: 'Oftalmólogo lunes 9:15', channel: 'SMS' },
      },
    }),
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as MessageView).id
}

/** The message once its status is one of `final` (receipts come a second or two after the send). */
async function until(id: string, final: string[]): Promise<MessageView> {
  let message: MessageView | undefined
  for (let i = 0; i < 60; i++) {
    message = (await (await api(`/Services/messages/${id}`)).json()) as MessageView
    if (final.includes(message.status)) return message
    await sleep(250)
  }
  throw new Error(`message ${id} stayed ${message?.status}`)
}

describe('the delivery lifecycle with npm start', () => {
  it('ends delivered for an SMS to the demo recipient', async () => {
    const message = await until(await sendSms(portero.userId), ['delivered', 'undelivered'])
    sentIds.delivered = message.id
    expect(message.status).toBe('delivered')
    const [delivery] = message.deliveries
    expect(delivery!.events.map((e) => e.status)).toEqual([
      'queued',
      'sending',
      'sent',
      'delivered',
    ])
    expect(delivery!.reached.delivered).toEqual(expect.any(String))
  })

  // The failover itself is shown by test/queue/sms-routes.test.ts: made to fail here, the first
  // route's breaker would stay open for a minute and reroute the other files' SMS.
  it('runs with the second SMS route: its receipts are read, and refused without the token', async () => {
    const query = 'shard=provider%3A1001&token=forged&messageId=0A00000000000000&status=delivered'
    const response = await fetch(`${portero.base}/callbacks/sms/vonage?${query}`)
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ code: 'invalid_signature' })
  })

  it('ends undelivered for a number the stand-in was told to fail', async () => {
    const phone = `+5491166${String(Date.now()).slice(-6)}`
    const userId = `e2e-undeliverable-${Date.now()}`
    const added = await api('/recipients', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId, phone }),
    })
    expect(added.status).toBe(201)
    const marked = await fetch(`${portero.standIn}/_control/undeliverable`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: phone, errorCode: 30003 }),
    })
    expect(marked.status).toBe(201)

    const message = await until(await sendSms(userId), ['delivered', 'undelivered'])
    sentIds.undelivered = message.id
    expect(message.status).toBe('undelivered')
    expect(message.deliveries[0]).toMatchObject({ status: 'undelivered', error_code: '30003' })
  })

  it('tells the provider of both by signed webhook', async () => {
    // Events of other files' messages may arrive too (the demo provider's receipts still in
    // flight when the endpoint was registered): wait for this file's two.
    const ours = (received: Received[]) =>
      new Map(
        received
          .filter((r) => Object.values(sentIds).includes(r.body.data.message_id))
          .map((r) => [r.body.data.message_id, r]),
      )
    let byMessage = new Map<string, Received>()
    for (let i = 0; i < 60 && byMessage.size < 2; i++) {
      const answer = await fetch(`${portero.standIn}/_control/webhooks/${RECEIVER}`)
      byMessage = ours(((await answer.json()) as { received: Received[] }).received)
      if (byMessage.size < 2) await sleep(250)
    }
    const delivered = byMessage.get(sentIds.delivered)
    const undelivered = byMessage.get(sentIds.undelivered)
    expect(delivered?.body).toMatchObject({ type: 'message.delivered' })
    expect(undelivered?.body).toMatchObject({
      type: 'message.undelivered',
      data: { status: 'undelivered', error_code: '30003' },
    })
    for (const got of [delivered!, undelivered!]) {
      expect(verifies(endpoint!.secret, got)).toBe(true)
      expect(got.verified).toBe(true) // and the receiver agrees
    }
  })
})

describe('what runs by itself under npm start, though wrangler dev fires no cron trigger', () => {
  /** The runs of the scheduled handler the Worker logged since `since`, by what they were. */
  function runsSince(since: number): string[] {
    return readFileSync(SERVER_LOG, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"message":"scheduled'))
      .map((line) => JSON.parse(line) as { message: string; time: string })
      .filter((entry) => Date.parse(entry.time) >= since)
      .map((entry) => entry.message)
  }

  it("runs the clean-up on wrangler.toml's schedule, from the start", () => {
    expect(runsSince(0)).toContain('scheduled clean-up')
  })

  it("runs the send shard's alarm: a message is in the admin search within seconds", async () => {
    const admin = seededClient('admin-client')
    const response = await fetch(`${portero.base}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${btoa(`${admin.id}:${admin.secret}`)}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    })
    const adminToken = ((await response.json()) as { access_token: string }).access_token
    const message = await until(await sendSms(portero.userId), ['delivered', 'undelivered'])
    // The alarm hands the message's row to D1's index a moment after each change.
    let found: { id: string; status: string } | undefined
    for (let i = 0; i < 40 && found?.status !== message.status; i++) {
      const page = await fetch(
        `${portero.base}/admin/messages?provider_id=${message.provider_id}`,
        {
          headers: { authorization: `Bearer ${adminToken}` },
        },
      )
      const { items } = (await page.json()) as { items: { id: string; status: string }[] }
      found = items.find((m) => m.id === message.id)
      if (found?.status !== message.status) await sleep(250)
    }
    expect(found).toEqual(expect.objectContaining({ id: message.id, status: message.status }))
  })
})
