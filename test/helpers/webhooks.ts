// Webhooks as a provider meets them: endpoints registered through the API, events emitted through
// the emit API the delivery lifecycle calls, and a Standard Webhooks verifier written here from the
// specification alone (it shares no code with src/ or the stand-in).
import { fallBackStatements } from '../../src/storage/fallbacks.ts'
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import type { StandIn } from '../../stand-in/app.ts'
import { receiverOf, type Receiver } from '../../stand-in/webhooks.ts'
import {
  statusChange,
  type DeliveryStatus,
  type Transition,
} from '../../src/storage/delivery-lifecycle.ts'
import { readOne } from '../../src/storage/batch.ts'
import { insertMessage } from '../../src/storage/messages.ts'
import type { WebhookEventType } from '../../src/storage/webhooks.ts'
import { createClient } from './clients.ts'
import { runShardAlarm, shardDb } from './shards.ts'
import { postJson } from './http.ts'
import { tokenFor } from './tokens.ts'
import { testMessage } from './messages.ts'

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

/** For each event type: the status a delivery must be in, and the change that causes the event. */
const CAUSES: Record<
  Exclude<WebhookEventType, 'message.fell_back' | 'message.scheduled'>,
  [DeliveryStatus, Transition]
> = {
  'message.sent': ['sending', { kind: 'sent', providerMessageId: `SM${crypto.randomUUID()}` }],
  'message.delivered': ['sent', { kind: 'delivered' }],
  'message.undelivered': [
    'sent',
    { kind: 'undelivered', error: 'Unreachable handset', errorCode: '30003' },
  ],
  'message.failed': [
    'sending',
    { kind: 'failed', error: 'Unreachable handset', errorCode: '30003' },
  ],
  'message.dead': ['queued', { kind: 'dead', error: 'gave up after 9 attempts' }],
  // Scheduled, too (below).
  'message.cancelled': ['queued', { kind: 'cancel' }],
  'message.failed_over': [
    'sending',
    { kind: 'reroute', route: 'secondary', reason: 'the primary SMS route is unavailable' },
  ],
}

/**
 * An event of `providerId`, caused as in production: a delivery of a fresh message (service 1) is
 * put where the change starts, then changed through the delivery lifecycle, which writes the
 * event to the shard's outbox, and the shard's alarm hands it to D1 when an endpoint of the
 * provider wants it. The event's id (no D1 row has it when no enabled endpoint wants the type).
 */
export async function emitEvent(
  providerId: string,
  type: WebhookEventType = 'message.delivered',
  occurredAt = new Date(),
): Promise<string> {
  const deliveryId = crypto.randomUUID()
  const shard = shardDb(providerId)
  const message = testMessage(providerId, { createdAt: occurredAt.toISOString() })
  const delivery = {
    id: deliveryId,
    part: 'notification' as const,
    channel: 'sms' as const,
    address: '+5491155550000',
    title: 'Turno',
    body: 'Lunes 9:15',
    link: null,
  }
  if (type === 'message.fell_back') {
    // A push that failed for good falls back to SMS (decisions.md D46).
    const push = {
      ...delivery,
      channel: 'fcm' as const,
      address: 'device',
      fallbackAddress: '+5491155550000',
    }
    await readOne(shard, insertMessage(shard, message, [push]))
    await shard
      .prepare("UPDATE deliveries SET status = 'failed' WHERE id = ?1")
      .bind(deliveryId)
      .run()
    const fallback = fallBackStatements(shard, deliveryId, 'failed', occurredAt)
    const [updated] = await shard.batch(fallback.statements)
    expect(updated?.meta.changes).toBe(1)
    await runShardAlarm(providerId)
    return fallback.webhookEventId
  }
  if (type === 'message.scheduled') {
    // A message stored due an hour later (decisions.md D44) tells its provider at once.
    const due = Math.floor(occurredAt.getTime() / 1000) + 3600
    await readOne(shard, insertMessage(shard, message, [delivery], due))
    const event = await shard
      .prepare("SELECT id FROM webhook_outbox WHERE payload ->> '$.data.delivery_id' = ?1")
      .bind(deliveryId)
      .first<{ id: string }>()
    await runShardAlarm(providerId)
    return event!.id
  }
  await readOne(shard, insertMessage(shard, message, [delivery]))
  const [from, transition] = CAUSES[type]
  await shard
    .prepare('UPDATE deliveries SET status = ?1, scheduled_for = ?3 WHERE id = ?2')
    .bind(from, deliveryId, type === 'message.cancelled' ? 1 : null)
    .run()
  const change = statusChange(shard, { ...transition, deliveryId, at: occurredAt })
  const [updated] = await shard.batch(change.statements)
  expect(updated?.meta.changes).toBe(1)
  // The shard's alarm hands the event to D1 (if an endpoint wants it) and the webhook queue.
  await runShardAlarm(providerId)
  return change.webhookEventId!
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
