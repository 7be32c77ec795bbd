// Webhook events (decisions.md D26): what a provider is told when a delivery of its message
// changes state, written to the outbox in the same D1 batch as the change, then enqueued.
import { log, redactText } from '../log.ts'
import type { Channel } from '../channel.ts'
import { insertWebhookEventStatement, type WebhookEventType } from '../storage/webhooks.ts'
import { maskAddress } from '../utils/mask.ts'
import { epochSeconds } from '../utils/time.ts'

export type { WebhookEventType }

/** Every event type a provider may subscribe to, each naming the delivery status it reports. */
export const WEBHOOK_EVENT_TYPES = [
  'message.sent',
  'message.delivered',
  'message.undelivered',
  'message.failed',
  'message.dead',
] as const satisfies readonly WebhookEventType[]

/** The delivery whose change an event reports, as the caller has it (nothing masked yet). */
export type WebhookEventInput = {
  type: WebhookEventType
  providerId: string
  /** When the change happened: the payload's `timestamp`. */
  occurredAt: Date
  messageId: string
  deliveryId: string
  serviceId: number
  part: 'notification' | 'advertisement'
  channel: Channel
  /** The delivery's address: sent masked (`to`), as the status view shows it. */
  address?: string
  /** The channel's error code (e.g. the SMS API's 30003), for the unhappy types. */
  errorCode?: string | number
  /** Why, in words; phone numbers and tokens in it are masked. */
  reason?: string
}

export type WebhookEmission = {
  /** `msg_…`: the event's id, its `webhook-id` header, the same on every attempt. */
  eventId: string
  /** To add to the same db.batch as the change that causes the event (the outbox pattern). */
  statements: D1PreparedStatement[]
}

/**
 * The outbox row of an event. Add `statements` to the batch that changes the delivery, then, once
 * that batch has committed, call publishWebhookEvents with the ids. The row is written only if an
 * enabled endpoint of the provider subscribes to the type; otherwise the id enqueued later is
 * dropped by the consumer at the cost of one read.
 */
export function webhookEventStatements(db: D1Database, event: WebhookEventInput): WebhookEmission {
  const eventId = newEventId()
  const payload = JSON.stringify(webhookPayload(event))
  const statement = insertWebhookEventStatement(db, {
    id: eventId,
    providerId: event.providerId,
    type: event.type,
    payload,
    createdAt: epochSeconds(event.occurredAt),
  })
  return { eventId, statements: [statement] }
}

/**
 * Enqueues committed events for their endpoints. Never throws: an event not enqueued now is
 * enqueued by the five-minute sweeper (src/queue/webhook-sweeper.ts). False when that will be so.
 */
export async function publishWebhookEvents(queue: Queue, eventIds: string[]): Promise<boolean> {
  if (eventIds.length === 0) return true
  try {
    // The body is src/queue/webhook-job.ts's WebhookFanOutJob.
    await queue.sendBatch(eventIds.map((eventId) => ({ body: { eventId }, contentType: 'json' })))
    return true
  } catch (cause) {
    log('warn', 'webhook enqueue failed; the sweeper will enqueue these events', {
      eventIds,
      cause: String(cause),
    })
    return false
  }
}

/** The Standard Webhooks payload: `type`, `timestamp` and `data`, with nothing personal in it. */
export function webhookPayload(event: WebhookEventInput) {
  return {
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    data: {
      message_id: event.messageId,
      delivery_id: event.deliveryId,
      service_id: event.serviceId,
      part: event.part,
      channel: event.channel,
      status: event.type.slice('message.'.length),
      ...(event.address === undefined ? {} : { to: maskAddress(event.channel, event.address) }),
      ...(event.errorCode === undefined ? {} : { error_code: String(event.errorCode) }),
      ...(event.reason === undefined ? {} : { reason: redactText(event.reason).slice(0, 500) }),
    },
  }
}

/** `msg_` and the 32 hex digits of a random UUID, as Standard Webhooks ids look. */
function newEventId(): string {
  return `msg_${crypto.randomUUID().replaceAll('-', '')}`
}
