// A provider ready to dispatch (a sending client, a service it subscribes to, and a recipient),
// and POST /Services as it sends: the request, the message's status until it settles, and what
// the stand-in received.
import { env } from 'cloudflare:workers'
import { insertMessage, type NewDelivery } from '../../src/storage/messages.ts'
import { insertRecipient } from '../../src/storage/recipients.ts'
import { insertService, type ServiceParameter } from '../../src/storage/services.ts'
import { insertSubscription } from '../../src/storage/subscriptions.ts'
import type { StandIn } from '../../stand-in/app.ts'
import { createClient, type TestClient } from './clients.ts'
import { call, postJson } from './http.ts'
import { eventually, tokenFor } from './tokens.ts'

export type Sender = TestClient & {
  token: string
  serviceId: number
  serviceToken: string
  userId: string
}

export async function createSender(
  options: {
    providerId?: string
    phone?: string | null
    fcmTokens?: string[]
    requiredParameters?: ServiceParameter[]
    /** Let the service send to E.164 numbers outside the directory (off by default). */
    directNumbers?: boolean
  } = {},
): Promise<Sender> {
  const client = await createClient({
    providerId: options.providerId,
    allowedScopes: ['services:send', 'recipients:manage', 'tokens:introspect'],
  })
  const serviceId = (await insertService(env.DB, {
    name: `service ${crypto.randomUUID()}`,
    kind: 'notification',
    requiredParameters: options.requiredParameters ?? ['destination'],
    allowedChannels: ['sms', 'fcm'],
    directNumbers: options.directNumbers ?? false,
  }))!
  const { serviceToken } = (await insertSubscription(env.DB, client.providerId, serviceId))!
  const userId = `user-${crypto.randomUUID()}`
  await insertRecipient(env.DB, client.providerId, userId, {
    phone: options.phone === undefined ? '+5491155550000' : options.phone,
    fcmTokens: options.fcmTokens ?? [`device-${crypto.randomUUID()}`],
    smsOptOut: false,
    fcmOptOut: false,
  })
  return { ...client, token: await tokenFor(client), serviceId, serviceToken, userId }
}

/** Document 001's /Services example, with this sender's ids. */
export function example001(sender: Sender, numericProviderId = true) {
  return {
    provider_id: numericProviderId ? Number(sender.providerId) : sender.providerId,
    service_token: sender.serviceToken,
    service_id: sender.serviceId,
    parameters: {
      destination: sender.userId,
      notification: {
        titulo: 'Clínica Dr. Nano. Turno',
        mensaje: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
        canal: 'SMS',
      },
      advertisement: {
        titulo: 'Autos usados CHECHO',
        mensaje: 'Lleve su auto usado con Financiameiento ...',
        canal: 'FCM',
      },
    },
  }
}

/** A valid request of `sender`: one SMS notification whose message carries `marker`. */
export function smsRequest(sender: Sender, marker: string = crypto.randomUUID()) {
  return {
    provider_id: Number(sender.providerId),
    service_token: sender.serviceToken,
    service_id: sender.serviceId,
    parameters: {
      destination: sender.userId,
      notification: { title: 'Turno', message: `Oftalmólogo 9:15 ${marker}`, channel: 'SMS' },
    },
  }
}

/** POST /Services with the caller's token; `body` is sent as JSON unless it is a string. */
export function dispatch(
  caller: { token: string },
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return postJson('/Services', body, { authorization: `Bearer ${caller.token}`, ...headers })
}

export type DeliveryView = {
  id: string
  part: 'notification' | 'advertisement'
  channel: 'sms' | 'fcm'
  to: string
  status: string
  attempts: number
  last_error: string | null
  provider_message_id: string | null
  picture_url: string | null
  updated_at: string
  sent_at: string | null
}

export type MessageView = {
  id: string
  status: string
  provider_id: string
  service_id: number
  destination: string
  created_at: string
  deliveries: DeliveryView[]
}

/** GET /Services/messages/{id} with the caller's token. */
export function readMessage(caller: { token: string }, id: string): Promise<Response> {
  return call(`/Services/messages/${id}`, { headers: { authorization: `Bearer ${caller.token}` } })
}

/**
 * Polls the message's status until the consumer is done with every delivery (sent, failed or
 * dead), and returns it: no send then outlives the test's stand-in.
 */
export function settle(caller: { token: string }, id: string): Promise<MessageView> {
  const read = async () => (await (await readMessage(caller, id)).json()) as MessageView
  const settled = (m: MessageView) => m.status !== 'queued' && m.status !== 'sending'
  return eventually(read, settled, { timeoutMs: 15_000 })
}

/** The SMS texts the stand-in accepted for `phone`. */
export function smsTo(standIn: StandIn, phone: string): string[] {
  return standIn.state.sms
    .filter((r) => (r.body as { To?: string }).To === phone && r.status === 201)
    .map((r) => (r.body as { Body: string }).Body)
}

/** The FCM messages the stand-in accepted for the registration token `token`. */
export function pushesTo(standIn: StandIn, token: string): unknown[] {
  return standIn.state.fcm
    .filter((r) => r.status === 200 && JSON.stringify(r.body).includes(token))
    .map((r) => r.body)
}

/**
 * Writes deliveries to the outbox as POST /Services does, without enqueueing them: the test hands
 * them to the consumer (or the sweeper) itself. Returns their ids.
 */
export async function writeOutbox(
  sender: Sender,
  parts: Partial<NewDelivery>[],
  createdAt = new Date(),
): Promise<string[]> {
  const deliveries = parts.map((p): NewDelivery => ({
    id: crypto.randomUUID(),
    part: 'notification',
    channel: 'sms',
    address: '+5491155550000',
    title: 'Turno',
    body: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
    link: null,
    ...p,
  }))
  const message = {
    id: crypto.randomUUID(),
    providerId: sender.providerId,
    serviceId: sender.serviceId,
    idempotencyKey: null,
    requestHash: 'test',
    destination: sender.userId,
    createdAt: createdAt.toISOString(),
  }
  await insertMessage(env.DB, message, deliveries)
  return deliveries.map((d) => d.id)
}

/** A fresh mobile number, so a test finds its own SMS among all the stand-in received. */
export function freshPhone(): string {
  const digits = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b % 10).join('')
  return `+54911${digits}`
}

/** A sender with its own phone number and FCM token. */
export function freshSender(options: Parameters<typeof createSender>[0] = {}): Promise<Sender> {
  return createSender({
    phone: freshPhone(),
    fcmTokens: [`device-${crypto.randomUUID()}`],
    ...options,
  })
}

/** How many outbox rows (messages and deliveries) a provider has: 0 after a refused request. */
export async function outboxRows(providerId: string): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT (SELECT COUNT(*) FROM messages WHERE provider_id = CAST(?1 AS INTEGER))
       + (SELECT COUNT(*) FROM deliveries WHERE provider_id = CAST(?1 AS INTEGER)) AS n`,
  )
    .bind(providerId)
    .first<{ n: number }>()
  return row!.n
}
