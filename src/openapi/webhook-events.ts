// The events Portero POSTs to providers' webhook endpoints, for the OpenAPI description's
// `webhooks` (OpenAPI 3.1 §4.8.1): each type with the Standard Webhooks headers, its body and what
// each answer of the receiver means (decisions.md D26, D40).
import type { RouteConfig } from '@hono/zod-openapi'
import * as z from 'zod'
import { CHANNELS } from '../channel.ts'
import {
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_RETRY_SCHEDULE_SECONDS,
  WEBHOOK_TIMEOUT_MS,
} from '../domain/webhooks.ts'
import { SECURITY } from './operations.ts'

const WHAT_EACH_TYPE_SAYS: Record<(typeof WEBHOOK_EVENT_TYPES)[number], string> = {
  'message.sent': 'A delivery was handed to its channel (the SMS API, FCM).',
  'message.delivered':
    "The SMS API's receipt says the SMS reached the phone, or the app acknowledged the push.",
  'message.undelivered':
    "The SMS API's receipt says the SMS did not reach the phone (`error_code`, `reason`).",
  'message.failed':
    'The channel refused the delivery for good, or it was withheld before sending (its ' +
    'provider, service or subscription turned off, or its number suppressed): `reason`.',
  'message.dead': 'Every attempt to send the delivery failed: it is given up (`reason`).',
  'message.cancelled':
    'A scheduled delivery was cancelled (DELETE /Services/messages/{id}) before it was handed ' +
    'to the queue: it is never sent. Its status is `failed` with the error code `cancelled`.',
  'message.fell_back': 'A push failed, or was not acknowledged in time: an SMS goes in its place.',
  'message.scheduled':
    'The message was stored scheduled (`send_at`, or quiet hours): each delivery is handed to ' +
    'the queue at `scheduled_for`.',
  'message.failed_over':
    'An SMS goes by the second SMS route: the first refused Portero, or its circuit breaker is ' +
    'open (`reason`). The delivery is still `sending`.',
}

export const WebhookEventData = z
  .object({
    message_id: z.string().meta({ description: 'Read it at GET /Services/messages/{id}.' }),
    delivery_id: z.string(),
    service_id: z.int(),
    part: z.enum(['notification', 'advertisement']),
    channel: z.enum(CHANNELS),
    status: z
      .enum([
        'sent',
        'delivered',
        'undelivered',
        'failed',
        'dead',
        'cancelled',
        'fell_back',
        'scheduled',
        'failed_over',
      ])
      .meta({
        description:
          "The event type without `message.`: the delivery's status, except that a cancelled " +
          'delivery is `failed` with the error code `cancelled`, a scheduled or failed-over one ' +
          '`queued` or `sending`, and a push that fell back keeps its own.',
      }),
    error_code: z.string().optional().meta({
      description: "The channel's error code (the SMS API's `30003`), when it gave one.",
    }),
    reason: z.string().optional().meta({
      description: 'Why, in words, with numbers and tokens masked, when there is a reason.',
    }),
    scheduled_for: z.iso.datetime().optional().meta({
      description: '`message.scheduled`: when the delivery is due.',
    }),
    fallback_delivery_id: z.string().optional(),
    fallback_of: z.string().optional(),
  })
  .meta({
    id: 'WebhookEventData',
    description: 'No address, content or token: those are under `message_id`.',
  })

export const WebhookEvent = z
  .object({
    type: z.enum(WEBHOOK_EVENT_TYPES),
    timestamp: z.string().meta({
      description: 'When the status changed (ISO 8601, UTC), not when this attempt was made.',
      example: '2026-11-22T09:15:02.117Z',
    }),
    data: WebhookEventData,
  })
  .meta({ id: 'WebhookEvent', description: 'The body of every event (Standard Webhooks).' })

const WebhookHeaders = z.object({
  'webhook-id': z.string().meta({
    description:
      "The event's id (`msg_…`), the same on every attempt and redelivery: deduplicate on it.",
    example: 'msg_2b0c6a3e5f7d4e1a9c8b7a6f5e4d3c2b',
  }),
  'webhook-timestamp': z.string().meta({
    description: 'Unix seconds of this attempt: refuse one more than 5 minutes off.',
    example: '1795338902',
  }),
  'webhook-signature': z.string().meta({
    description:
      '`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed ' +
      'with the base64-decoded part of the secret after `whsec_`; two, space-separated, during ' +
      "a rotation's overlap. Accept the request when any one matches.",
    example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  }),
})

const duration = (seconds: number) =>
  seconds < 60 ? `${seconds} s` : seconds < 3600 ? `${seconds / 60} min` : `${seconds / 3600} h`

const RETRIES =
  `Anything else, or no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s, is a failed attempt, ` +
  'retried after ' +
  WEBHOOK_RETRY_SCHEDULE_SECONDS.map(duration).join(', ') +
  " (or the answer's `Retry-After`, if later); then the event is dead for the endpoint. " +
  'Redirects are not followed.'

const pascal = (type: string) =>
  type
    .split(/[^a-z]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('')

/** The body of one type: `MessageDeliveredEvent`, for generators to name. */
const eventOf = (type: (typeof WEBHOOK_EVENT_TYPES)[number]) =>
  WebhookEvent.extend({ type: z.literal(type) }).meta({ id: `${pascal(type)}Event` })

/** One webhook per event type, as @hono/zod-openapi's registry takes them (registerWebhook). */
export const WEBHOOKS: RouteConfig[] = WEBHOOK_EVENT_TYPES.map((type) => ({
  method: 'post',
  path: type,
  operationId: `on${pascal(type)}`,
  tags: ['Webhooks'],
  security: SECURITY.webhookSignature,
  summary: WHAT_EACH_TYPE_SAYS[type],
  description:
    'POSTed to every enabled endpoint of the provider subscribed to `' +
    type +
    '`, signed as the Standard Webhooks specification says: verify the raw body with any of ' +
    'its libraries before trusting it. Portero has no fixed outgoing addresses: verify the ' +
    'signature; do not allowlist addresses.',
  request: {
    headers: WebhookHeaders,
    body: {
      required: true,
      content: { 'application/json': { schema: eventOf(type) } },
    },
  },
  responses: {
    '2XX': {
      description:
        'Received: never sent to this endpoint again. Answer once the signature verifies and ' +
        'the event is stored, and do the work after; an answer after 2 s counts against the ' +
        'endpoint.',
    },
    '410': { description: 'Gone: the endpoint is disabled at once and sent nothing more.' },
    default: { description: RETRIES },
  },
}))
