// One provider's webhook endpoints and their attempts as the API answers them: the provider's own
// GET /webhooks and the admin's read-only view of a provider's are the same pages.
import {
  listWebhookAttempts,
  listWebhookEndpoints,
  type WebhookAttempt,
  type WebhookAttemptOutcome,
  type WebhookEndpoint,
} from '../storage/webhooks.ts'
import * as z from 'zod'
import { pageQuery, toPage } from './paging.ts'

export const ENDPOINT_ID = /^ep_[0-9a-f]{32}$/

/** A webhook endpoint's id in a path: a malformed one is answered as an unknown one. */
export const WebhookEndpointId = z
  .string()
  .regex(ENDPOINT_ID, { error: (issue) => `No webhook endpoint ${String(issue.input)}.` })
  .meta({ description: "The webhook endpoint's id (`ep_…`)." })

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
