// The delivery lifecycle on the running system: an SMS goes out through the stand-in, whose signed
// status callbacks reach Portero on its own, and the message ends delivered, or undelivered for a
// number the stand-in was told to fail.
/// <reference types="node" />
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient, type DevCredentials } from './server.ts'

type Delivery = {
  status: string
  error_code: string | null
  reached: Record<string, string | null>
  events: { status: string }[]
}
type MessageView = { id: string; status: string; deliveries: Delivery[] }

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
})

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
    expect(message.status).toBe('undelivered')
    expect(message.deliveries[0]).toMatchObject({ status: 'undelivered', error_code: '30003' })
  })
})
