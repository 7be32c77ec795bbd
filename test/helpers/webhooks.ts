// Webhooks as a provider meets them: endpoints registered through the API, events emitted through
// the emit API the delivery lifecycle calls, and a Standard Webhooks verifier written here from the
// specification alone (it shares no code with src/ or the stand-in).
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import type { StandIn } from '../../stand-in/app.ts'
import { receiverOf, type Receiver } from '../../stand-in/webhooks.ts'
import { webhookEventStatements, type WebhookEventType } from '../../src/domain/webhook-events.ts'
import { createClient } from './clients.ts'
import { postJson } from './http.ts'
import { tokenFor } from './tokens.ts'

export const RECEIVER = 'https://stand-in.test/webhooks/receiver'

export type WebhookProvider = { providerId: string; token: string }

export async function createWebhookProvider(): Promise<WebhookProvider> {
  const client = await createClient({ allowedScopes: ['services:send'] })
  return { providerId: client.providerId, token: await tokenFor(client) }
}

export type Registered = { id: string; secret: string; url: string }

/** POST /webhooks for a fresh receiver of the stand-in, which is told the secret. */
export async function registerEndpoint(
  provider: WebhookProvider,
  eventTypes: WebhookEventType[] = ['message.delivered', 'message.undelivered'],
  name = `r-${crypto.randomUUID()}`,
): Promise<Registered> {
  const url = `${RECEIVER}/${name}`
  const response = await postJson(
    '/webhooks',
    { url, event_types: eventTypes },
    { authorization: `Bearer ${provider.token}` },
  )
  expect(response.status).toBe(201)
  const body = (await response.json()) as { id: string; secret: string }
  return { id: body.id, secret: body.secret, url }
}

/** The stand-in's receiver behind `url` (its state: secrets, failures, what it received). */
export function receiverAt(standIn: StandIn, url: string): Receiver {
  return receiverOf(standIn.webhooks, url.slice(url.lastIndexOf('/') + 1))
}

/** An event of `providerId`, written to the outbox as the lifecycle writes one; its id. */
export async function emitEvent(
  providerId: string,
  type: WebhookEventType = 'message.delivered',
  occurredAt = new Date(),
): Promise<string> {
  const { eventId, statements } = webhookEventStatements(env.DB, {
    type,
    providerId,
    occurredAt,
    messageId: crypto.randomUUID(),
    deliveryId: crypto.randomUUID(),
    serviceId: 1,
    part: 'notification',
    channel: 'sms',
    address: '+5491155550000',
    ...(type === 'message.delivered' ? {} : { errorCode: 30003, reason: 'Unreachable handset' }),
  })
  await env.DB.batch(statements)
  return eventId
}

const decodeBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0))

/**
 * Standard Webhooks verification, from the specification: the key is the base64 after `whsec_`,
 * the signed content `${webhook-id}.${webhook-timestamp}.${body}`, and `webhook-signature` a
 * space-separated list of `v1,<base64 HMAC-SHA256>`; one matching signature is enough.
 */
export async function verifiesWith(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
): Promise<boolean> {
  const key = await crypto.subtle.importKey(
    'raw',
    decodeBase64(secret.split('_')[1]!),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const content = new TextEncoder().encode(`${headers.id}.${headers.timestamp}.${body}`)
  const expected = btoa(
    String.fromCharCode(...new Uint8Array(await crypto.subtle.sign('HMAC', key, content))),
  )
  return headers.signature
    .split(' ')
    .some((entry) => entry.startsWith('v1,') && entry.slice(3) === expected)
}
