// The TypeScript client (clients/typescript), generated from the description, against `npm start`:
// a whole flow as a provider writes it, token, /Services, status until delivered, and the webhook
// received by a receiver of the test's own and verified with the client's helper and with the
// official standardwebhooks library. Then the client's options: DPoP and private_key_jwt.
/// <reference types="node" />
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { exportJWK, generateKeyPair } from 'jose'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPorteroClient,
  verifyWebhook,
  type PorteroClient,
} from '../../clients/typescript/src/index.ts'
import { readCredentials, seededClient, type DevCredentials } from './server.ts'

type Received = { body: string; headers: IncomingHttpHeaders }

let portero: DevCredentials
let client: PorteroClient
let receiver: Server
const received: Received[] = []
let endpoint: { id: string; secret: string } | undefined

/** A provider's receiver: keeps each request's raw body and headers, answers 204. */
function startReceiver(): Promise<string> {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: request.headers })
      response.writeHead(204).end()
    })
  })
  return new Promise((resolve) =>
    receiver.listen(0, () =>
      resolve(`http://localhost:${(receiver.address() as AddressInfo).port}/hooks`),
    ),
  )
}

beforeAll(async () => {
  portero = readCredentials()
  const { id, secret } = seededClient('demo-client')
  client = createPorteroClient({
    baseUrl: portero.base,
    auth: { clientId: id, clientSecret: secret },
  })
  const url = await startReceiver()
  // Webhook URLs may be on localhost while Portero itself is (docs/webhooks.md).
  const { data, response } = await client.POST('/webhooks', {
    body: { url, event_types: ['message.delivered'] },
  })
  expect(response.status).toBe(201)
  endpoint = data!
})

// The local database outlives the run: the endpoint goes with it (a provider may have 10).
afterAll(async () => {
  if (endpoint) {
    await client.DELETE('/webhooks/{id}', { params: { path: { id: endpoint.id } } })
  }
  await new Promise((resolve) => receiver?.close(resolve))
})

describe('the TypeScript client with npm start', () => {
  it('keeps one token for every request until it nears its end', async () => {
    const first = await client.tokens.get()
    expect(first.type).toBe('Bearer')
    expect(await client.tokens.get()).toBe(first)
  })

  it('sends through /Services, follows the message to delivered, and verifies its webhook', async () => {
    const { data: sent, response } = await client.POST('/Services', {
      body: {
        provider_id: 1001,
        service_token: portero.serviceToken,
        service_id: portero.serviceId,
        parameters: {
          destination: portero.userId,
          notification: { title: 'Turno', message: 'Oftalmólogo lunes 9:15', channel: 'SMS' },
        },
      },
    })
    expect(response.status).toBe(201)
    expect(response.headers.get('location')).toBe(`/Services/messages/${sent!.id}`)

    let status: string | undefined
    for (let i = 0; i < 80 && status !== 'delivered'; i++) {
      const { data } = await client.GET('/Services/messages/{id}', {
        params: { path: { id: sent!.id } },
      })
      status = data?.status
      if (status !== 'delivered') await sleep(250)
    }
    expect(status).toBe('delivered')

    let ours: Received | undefined
    for (let i = 0; i < 80 && !ours; i++) {
      ours = received.find((r) => r.body.includes(sent!.id))
      if (!ours) await sleep(250)
    }
    expect(ours, 'the webhook of the message').toBeDefined()
    const event = await verifyWebhook(
      endpoint!.secret,
      ours!.body,
      ours!.headers as Record<string, string>,
    )
    expect(event).toMatchObject({
      type: 'message.delivered',
      data: { message_id: sent!.id, status: 'delivered', channel: 'sms' },
    })
    // The official library agrees.
    const headers = Object.fromEntries(
      ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [
        h,
        String(ours!.headers[h]),
      ]),
    )
    expect(new Webhook(endpoint!.secret).verify(ours!.body, headers)).toEqual(event)
    await expect(
      verifyWebhook(endpoint!.secret, ours!.body.replace('delivered', 'failed'), headers),
    ).rejects.toThrow('no matching signature')
  })

  it('binds its tokens with DPoP when given a key pair', async () => {
    const { id, secret } = seededClient('demo-client')
    const bound = createPorteroClient({
      baseUrl: portero.base,
      auth: { clientId: id, clientSecret: secret },
      dpop: { keyPair: await generateKeyPair('ES256') },
    })
    const { response, data } = await bound.GET('/subscriptions')
    expect(response.status).toBe(200)
    expect(data!.items.length).toBeGreaterThan(0)
    expect((await bound.tokens.get()).type).toBe('DPoP')
  })

  it('authenticates with private_key_jwt instead of a secret', async () => {
    const admin = seededClient('admin-client')
    const operator = createPorteroClient({
      baseUrl: portero.base,
      auth: { clientId: admin.id, clientSecret: admin.secret },
    })
    const { publicKey, privateKey } = await generateKeyPair('ES256')
    const kid = `e2e-client-${Date.now()}`
    const { data: created, response } = await operator.POST('/admin/clients', {
      body: {
        provider_id: '1001',
        name: `typed client ${kid}`,
        allowed_scopes: ['services:send'],
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
        with_secret: false,
      },
    })
    expect(response.status).toBe(201)
    try {
      const holder = createPorteroClient({
        baseUrl: portero.base,
        auth: { method: 'private_key_jwt', clientId: created!.client_id, privateKey, kid },
      })
      const { response: listed } = await holder.GET('/subscriptions')
      expect(listed.status).toBe(200)
    } finally {
      await operator.DELETE('/admin/clients/{id}', {
        params: { path: { id: created!.client_id } },
      })
    }
  })
})
