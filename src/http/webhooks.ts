// One provider's webhook endpoints and their attempts as the API answers them: the provider's own
// GET /webhooks and the admin's read-only view of a provider's are the same pages.
import {
  listWebhookAttempts,
  listWebhookEndpoints,
  listWebhookEventDeliveries,
  type WebhookEventDelivery,
  type WebhookAttempt,
  type WebhookAttemptOutcome,
  type WebhookEndpoint,
} from '../storage/webhooks.ts'
import * as z from 'zod'
import { pageQuery, TimeRange, toPage } from './paging.ts'

export const ENDPOINT_ID = /^ep_[0-9a-f]{32}$/

/** A webhook endpoint's id in a path: a malformed one is answered as an unknown one. */
export const WebhookEndpointId = z
  .string()
  .regex(ENDPOINT_ID, { error: (issue) => `No webhook endpoint ${String(issue.input)}.` })
  .meta({ description: "The webhook endpoint's id (`ep_…`)." })

const EVENT_ID = /^msg_[0-9a-f]{32}$/

/** An event's id in a path (`webhook-id`): a malformed one is answered as an unknown one. */
export const WebhookEventId = z
  .string()
  .regex(EVENT_ID, { error: (issue) => `No event ${String(issue.input)}.` })
  .meta({ description: "The event's id, its `webhook-id` (`msg_…`)." })

/** The pages of an endpoint's events, newest first: the cursor is the last one's time and id. */
export const WebhookEventPageQuery = pageQuery(
  z
    .string()
    .regex(/^\d{1,12}\.msg_[0-9a-f]{32}$/)
    .transform((key): [number, string] => {
      const [time, id] = key.split('.')
      return [Number(time), id!]
    }),
).extend({
  status: z
    .enum(['pending', 'succeeded', 'dead'], { error: 'status is pending, succeeded or dead' })
    .optional()
    .meta({ description: 'Only the events whose delivery to this endpoint is so.' }),
  since: TimeRange.shape.since.meta({ description: 'Only the events since then.' }),
})

/** A request to send again every event dead for an endpoint since a time. */
export const WebhookRecovery = z.strictObject({
  since: z.iso
    .datetime({
      offset: true,
      error: 'since must be an ISO 8601 instant such as 2026-11-22T00:00:00Z',
    })
    .meta({ description: 'Send again every event dead for this endpoint since then.' }),
})

/** The pages of endpoints, in id order: the cursor is the last id. */
export const WebhookEndpointPageQuery = pageQuery(z.string().regex(ENDPOINT_ID))

/** The pages of attempts, newest first: the cursor is the last attempt's row id. */
export const WebhookAttemptPageQuery = pageQuery(
  z
    .string()
    .regex(/^[1-9]\d{0,15}$/)
    .transform(Number),
)

export function webhookEndpointView(e: WebhookEndpoint) {
  return {
    id: e.id,
    url: e.url,
    event_types: e.eventTypes,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    disabled_at: e.disabledAt,
    consecutive_failures: e.consecutiveFailures,
    previous_secret_valid_until:
      e.sealedPreviousSecret && e.previousSecretUntil !== null
        ? new Date(e.previousSecretUntil * 1000).toISOString()
        : null,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
  }
}

export function webhookAttemptView(a: WebhookAttempt) {
  return {
    id: a.id,
    event_id: a.eventId,
    event_type: a.eventType,
    attempt: a.attempt,
    attempted_at: a.attemptedAt,
    http_status: a.httpStatus,
    error: a.error,
    duration_ms: a.durationMs,
    outcome: a.outcome,
    next_attempt_at: a.nextAttemptAt,
  }
}

/** One provider's endpoints in id order, paged; never a secret. */
export async function webhookEndpointPage(
  db: D1Database,
  providerId: string,
  limit: number,
  cursor: string | undefined,
  url: URL,
) {
  const rows = await listWebhookEndpoints(db, providerId, { after: cursor, limit: limit + 1 })
  return toPage(rows, limit, (e) => e.id, webhookEndpointView, url)
}

/** One endpoint's attempts, newest first, paged; `outcome` keeps only those that ended so. */
export async function webhookAttemptPage(
  db: D1Database,
  endpointId: string,
  limit: number,
  cursor: number | undefined,
  url: URL,
  outcome?: WebhookAttemptOutcome,
) {
  const rows = await listWebhookAttempts(db, endpointId, {
    before: cursor,
    limit: limit + 1,
    outcome,
  })
  return toPage(rows, limit, (a) => String(a.id), webhookAttemptView, url)
}

export function webhookEventView(e: WebhookEventDelivery) {
  return {
    event_id: e.eventId,
    type: e.type,
    created_at: new Date(e.createdAt * 1000).toISOString(),
    status: e.status,
    attempts: e.attempts,
    next_attempt_at:
      e.nextAttemptAt === null ? null : new Date(e.nextAttemptAt * 1000).toISOString(),
  }
}

/** One endpoint's events, newest first, paged; `status` and `since` narrow them. */
export async function webhookEventPage(
  db: D1Database,
  endpointId: string,
  query: z.output<typeof WebhookEventPageQuery>,
  url: URL,
) {
  const rows = await listWebhookEventDeliveries(db, endpointId, {
    after: query.cursor,
    limit: query.limit + 1,
    status: query.status,
    since: query.since === undefined ? undefined : Math.floor(Date.parse(query.since) / 1000),
  })
  const key = (e: WebhookEventDelivery) => `${e.createdAt}.${e.eventId}`
  return toPage(rows, query.limit, key, webhookEventView, url)
}
