// The webhook tables (decisions.md D26): providers' endpoints, the events outbox, each event's
// state per endpoint, and the attempts to deliver it.
import { log } from '../log.ts'
import { epochSeconds } from '../utils/time.ts'

export type WebhookEventType =
  | 'message.sent'
  | 'message.delivered'
  | 'message.undelivered'
  | 'message.failed'
  | 'message.dead'
  | 'message.cancelled'
  | 'message.fell_back'
  | 'message.scheduled'
  | 'message.failed_over'

export type WebhookEndpoint = {
  id: string
  providerId: string
  url: string
  eventTypes: WebhookEventType[]
  enabled: boolean
  disabledReason: string | null
  disabledAt: string | null
  consecutiveFailures: number
  /** Epoch seconds of the first failed attempt since the last success. */
  failingSince: number | null
  /** Sealed (storage/webhook-secrets.ts), never the secret itself. */
  sealedSecret: string
  sealedPreviousSecret: string | null
  /** Epoch seconds until which the previous secret signs too. */
  previousSecretUntil: number | null
  createdAt: string
  updatedAt: string
}

type EndpointRow = {
  id: string
  provider_id: string
  url: string
  event_types: string
  status: 'enabled' | 'disabled'
  disabled_reason: string | null
  disabled_at: string | null
  consecutive_failures: number
  failing_since: number | null
  secret: string
  previous_secret: string | null
  previous_secret_until: number | null
  created_at: string
  updated_at: string
}

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    providerId: row.provider_id,
    url: row.url,
    eventTypes: JSON.parse(row.event_types) as WebhookEventType[],
    enabled: row.status === 'enabled',
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    consecutiveFailures: row.consecutive_failures,
    failingSince: row.failing_since,
    sealedSecret: row.secret,
    sealedPreviousSecret: row.previous_secret,
    previousSecretUntil: row.previous_secret_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`
const ENDPOINT_COLUMNS = `id, CAST(provider_id AS TEXT) AS provider_id, url, event_types, status,
  disabled_reason, disabled_at, consecutive_failures, failing_since, secret, previous_secret,
  previous_secret_until, created_at, updated_at`
const SELECT_ENDPOINT = `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints`

export type NewWebhookEndpoint = {
  id: string
  providerId: string
  url: string
  eventTypes: WebhookEventType[]
  sealedSecret: string
}

/** Adds the endpoint unless the provider has `max` already: null then. */
export async function insertWebhookEndpoint(
  db: D1Database,
  endpoint: NewWebhookEndpoint,
  max: number,
): Promise<WebhookEndpoint | null> {
  // One statement: two concurrent registrations cannot both pass the count.
  const row = await db
    .prepare(
      `INSERT INTO webhook_endpoints (id, provider_id, url, event_types, secret)
       SELECT ?1, CAST(?2 AS INTEGER), ?3, ?4, ?5
       WHERE (SELECT COUNT(*) FROM webhook_endpoints WHERE provider_id = CAST(?2 AS INTEGER)) < ?6
       RETURNING ${ENDPOINT_COLUMNS}`,
    )
    .bind(
      endpoint.id,
      endpoint.providerId,
      endpoint.url,
      JSON.stringify(endpoint.eventTypes),
      endpoint.sealedSecret,
      max,
    )
    .first<EndpointRow>()
  return row ? toEndpoint(row) : null
}

/** The provider's endpoint `id`, or null (another provider's endpoint is not found either). */
export async function findWebhookEndpoint(
  db: D1Database,
  providerId: string,
  id: string,
): Promise<WebhookEndpoint | null> {
  const row = await db
    .prepare(`${SELECT_ENDPOINT} WHERE id = ?1 AND provider_id = CAST(?2 AS INTEGER)`)
    .bind(id, providerId)
    .first<EndpointRow>()
  return row ? toEndpoint(row) : null
}

/** The endpoints among `ids` that exist, whoever their provider, in one query. */
export async function findWebhookEndpointsByIds(
  db: D1Database,
  ids: readonly string[],
): Promise<Map<string, WebhookEndpoint>> {
  if (ids.length === 0) return new Map()
  const { results } = await db
    .prepare(`${SELECT_ENDPOINT} WHERE id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify([...new Set(ids)]))
    .all<EndpointRow>()
  return new Map(results.map((row) => [row.id, toEndpoint(row)]))
}

/** A page of the provider's endpoints in id order, after `after`. */
export async function listWebhookEndpoints(
  db: D1Database,
  providerId: string,
  { after, limit }: { after?: string; limit: number },
): Promise<WebhookEndpoint[]> {
  const { results } = await db
    .prepare(
      `${SELECT_ENDPOINT} WHERE provider_id = CAST(?1 AS INTEGER) AND id > ?2
       ORDER BY id LIMIT ?3`,
    )
    .bind(providerId, after ?? '', limit)
    .all<EndpointRow>()
  return results.map(toEndpoint)
}

export type WebhookEndpointChanges = {
  url?: string
  eventTypes?: WebhookEventType[]
  /** true: enabled again, failures forgotten; false: disabled with `disabledReason`. */
  enabled?: boolean
  disabledReason?: string
}

/** Changes the provider's endpoint; null if it has none with this id. */
export async function updateWebhookEndpoint(
  db: D1Database,
  providerId: string,
  id: string,
  changes: WebhookEndpointChanges,
): Promise<WebhookEndpoint | null> {
  const enabled = changes.enabled
  const row = await db
    .prepare(
      `UPDATE webhook_endpoints SET
         url = COALESCE(?3, url),
         event_types = COALESCE(?4, event_types),
         status = CASE ?5 WHEN 1 THEN 'enabled' WHEN 0 THEN 'disabled' ELSE status END,
         disabled_reason = CASE ?5 WHEN 1 THEN NULL
           WHEN 0 THEN (CASE status WHEN 'disabled' THEN disabled_reason ELSE ?6 END)
           ELSE disabled_reason END,
         disabled_at = CASE ?5 WHEN 1 THEN NULL
           WHEN 0 THEN (CASE status WHEN 'disabled' THEN disabled_at ELSE ${NOW} END)
           ELSE disabled_at END,
         consecutive_failures = CASE ?5 WHEN 1 THEN 0 ELSE consecutive_failures END,
         failing_since = CASE ?5 WHEN 1 THEN NULL ELSE failing_since END,
         updated_at = ${NOW}
       WHERE id = ?1 AND provider_id = CAST(?2 AS INTEGER)
       RETURNING ${ENDPOINT_COLUMNS}`,
    )
    .bind(
      id,
      providerId,
      changes.url ?? null,
      changes.eventTypes ? JSON.stringify(changes.eventTypes) : null,
      enabled === undefined ? null : enabled ? 1 : 0,
      changes.disabledReason ?? null,
    )
    .first<EndpointRow>()
  return row ? toEndpoint(row) : null
}

/**
 * Gives the endpoint a new secret. With `previousUntil` (epoch s) the current one keeps signing
 * until then; without, it stops at once. A secret older than the current one is dropped.
 */
export async function rotateWebhookEndpointSecret(
  db: D1Database,
  providerId: string,
  id: string,
  sealedSecret: string,
  previousUntil: number | null,
): Promise<WebhookEndpoint | null> {
  const row = await db
    .prepare(
      `UPDATE webhook_endpoints SET
         previous_secret = CASE WHEN ?4 IS NULL THEN NULL ELSE secret END,
         previous_secret_until = ?4,
         secret = ?3,
         updated_at = ${NOW}
       WHERE id = ?1 AND provider_id = CAST(?2 AS INTEGER)
       RETURNING ${ENDPOINT_COLUMNS}`,
    )
    .bind(id, providerId, sealedSecret, previousUntil)
    .first<EndpointRow>()
  return row ? toEndpoint(row) : null
}

/** Deletes the endpoint with its deliveries and attempts. False if the provider has no such. */
export async function deleteWebhookEndpoint(
  db: D1Database,
  providerId: string,
  id: string,
): Promise<boolean> {
  const [deleted] = await db.batch([
    db
      .prepare(`DELETE FROM webhook_endpoints WHERE id = ?1 AND provider_id = CAST(?2 AS INTEGER)`)
      .bind(id, providerId),
    db
      .prepare(
        `DELETE FROM webhook_deliveries WHERE endpoint_id = ?1
         AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?1)`,
      )
      .bind(id),
    db
      .prepare(
        `DELETE FROM webhook_attempts WHERE endpoint_id = ?1
         AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?1)`,
      )
      .bind(id),
  ])
  return (deleted?.meta.changes ?? 0) > 0
}

// --- Events ---------------------------------------------------------------------------------

export type WebhookEvent = {
  id: string
  providerId: string
  type: WebhookEventType
  /** The JSON body every endpoint receives, byte for byte (it is what is signed). */
  payload: string
  /** Epoch seconds. */
  createdAt: number
}

type EventRow = {
  id: string
  provider_id: string
  type: WebhookEventType
  payload: string
  created_at: number
}

const EVENT_COLUMNS = 'id, CAST(provider_id AS TEXT) AS provider_id, type, payload, created_at'

/** Every event type a provider may subscribe to, each naming the delivery status it reports. */
export const WEBHOOK_EVENT_TYPES = [
  'message.sent',
  'message.delivered',
  'message.undelivered',
  'message.failed',
  'message.dead',
  'message.cancelled',
  'message.fell_back',
  'message.scheduled',
  'message.failed_over',
] as const satisfies readonly WebhookEventType[]

/** `msg_` and the 32 hex digits of a random UUID, as Standard Webhooks ids look. */
export function newWebhookEventId(): string {
  return `msg_${crypto.randomUUID().replaceAll('-', '')}`
}

/** What a delivery's status change tells its provider, besides what the delivery row holds. */
export type DeliveryEventFacts = {
  /** The `webhook-id` of the event: newWebhookEventId(). */
  id: string
  /** The timeline row of the change (delivery_events.id): the event exists only if it does. */
  changeId: string
  deliveryId: string
  type: WebhookEventType
  occurredAt: Date
  /** The channel's error code (the SMS API's 30003), for the unhappy types. */
  errorCode: string | null
  /** Why, in words, already masked (log.ts redactText). */
  reason: string | null
}

/**
 * The send shard's outbox row of the event a delivery's status change causes, for the change's
 * own db.batch (`db` is the shard): written only if the change applied (its timeline row exists).
 * The payload, Standard Webhooks' `type`, `timestamp` and `data`, is taken from the delivery and
 * its message: ids, service, part, channel and status, with `error_code` and `reason` when there
 * are any (json_patch drops a null member), and the delivery a push fell back to or the push an SMS
 * fell back from, if any (decisions.md D46). No address and no content: the provider has them
 * under `message_id`. Whether any endpoint wants it is decided when the outbox is handed on
 * (insertWebhookEvents), where the endpoints are.
 */
export function deliveryEventStatement(db: D1Database, facts: DeliveryEventFacts) {
  return db
    .prepare(
      `INSERT INTO webhook_outbox (id, provider_id, type, payload, created_at)
       SELECT ?1, d.provider_id, ?3, json_object(
           'type', ?3,
           'timestamp', ?4,
           'data', json_patch(
             json_object('message_id', d.message_id, 'delivery_id', d.id,
               'service_id', m.service_id, 'part', d.part, 'channel', d.channel,
               'status', substr(?3, 9)),
             json_object('error_code', ?6, 'reason', ?7,
               'fallback_delivery_id', d.fallback_delivery_id, 'fallback_of', d.fallback_of))),
         ?5
       FROM deliveries d JOIN messages m ON m.id = d.message_id
       WHERE d.id = ?8 AND EXISTS (SELECT 1 FROM delivery_events WHERE id = ?2)`,
    )
    .bind(
      facts.id,
      facts.changeId,
      facts.type,
      facts.occurredAt.toISOString(),
      epochSeconds(facts.occurredAt),
      facts.errorCode,
      facts.reason,
      facts.deliveryId,
    )
}

/**
 * The `message.scheduled` events of a message stored scheduled (decisions.md D44), one per
 * delivery, for the batch that inserts it: when each is due, in `scheduled_for`.
 */
export function scheduledEventsStatement(
  db: D1Database,
  messageId: string,
  at: string,
  scheduledFor: number,
) {
  return db
    .prepare(
      `INSERT INTO webhook_outbox (id, provider_id, type, payload, created_at)
       SELECT 'msg_' || lower(hex(randomblob(16))), d.provider_id, 'message.scheduled',
         json_object('type', 'message.scheduled', 'timestamp', ?2,
           'data', json_object('message_id', d.message_id, 'delivery_id', d.id,
             'service_id', m.service_id, 'part', d.part, 'channel', d.channel,
             'status', 'scheduled', 'scheduled_for', ?3)),
         ?4
       FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.message_id = ?1`,
    )
    .bind(
      messageId,
      at,
      new Date(scheduledFor * 1000).toISOString(),
      Math.floor(Date.parse(at) / 1000),
    )
}

/**
 * The oldest `limit` events waiting in a send shard's outbox (`db` is the shard), each with whether
 * one of the provider's enabled endpoints wants its type, as the shard's copy of them says
 * (decisions.md D48). A shard with no copy yet wants them all: D1 decides (insertWebhookEvents).
 */
export async function readWebhookOutbox(
  db: D1Database,
  limit: number,
): Promise<{ event: WebhookEvent; wanted: boolean }[]> {
  const { results } = await db
    .prepare(
      `SELECT ${EVENT_COLUMNS}, NOT EXISTS (SELECT 1 FROM facts_state) OR EXISTS (
           SELECT 1 FROM webhook_endpoints AS w, json_each(w.event_types) AS t
           WHERE w.status = 'enabled' AND t.value = o.type) AS wanted
       FROM webhook_outbox AS o ORDER BY created_at, id LIMIT ?1`,
    )
    .bind(limit)
    .all<EventRow & { wanted: number }>()
  return results.map((row) => ({ event: toWebhookEvent(row), wanted: row.wanted === 1 }))
}

/** Forgets outbox events once D1 holds them (`db` is the shard). */
export async function deleteFromWebhookOutbox(db: D1Database, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  await db
    .prepare(`DELETE FROM webhook_outbox WHERE id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(ids))
    .run()
}

/**
 * Writes to D1, in one statement, the events some enabled endpoint of their provider subscribes
 * to, and returns their ids (to enqueue); the others are dropped, as no one wants them. An event
 * written before (a retried hand-over) is not written again, nor returned.
 */
export async function insertWebhookEvents(
  db: D1Database,
  events: WebhookEvent[],
): Promise<string[]> {
  if (events.length === 0) return []
  const { results } = await db
    .prepare(
      `INSERT INTO webhook_events (id, provider_id, type, payload, created_at)
       SELECT e.value ->> '$.id', CAST(e.value ->> '$.providerId' AS INTEGER),
         e.value ->> '$.type', e.value ->> '$.payload', e.value ->> '$.createdAt'
       FROM json_each(?1) AS e
       WHERE EXISTS (
         SELECT 1 FROM webhook_endpoints w
         WHERE w.provider_id = CAST(e.value ->> '$.providerId' AS INTEGER)
           AND w.status = 'enabled'
           AND EXISTS (SELECT 1 FROM json_each(w.event_types) WHERE value = e.value ->> '$.type'))
       ON CONFLICT DO NOTHING
       RETURNING id`,
    )
    .bind(JSON.stringify(events))
    .all<{ id: string }>()
  return results.map((r) => r.id)
}

/**
 * Hands webhook events D1 holds to the webhook queue (the body is src/queue/webhook-job.ts's
 * WebhookFanOutJob). Never throws: an event not enqueued now is enqueued by the five-minute
 * sweeper (src/queue/webhook-sweeper.ts). False when that will be so.
 */
export async function publishWebhookEvents(queue: Queue, eventIds: string[]): Promise<boolean> {
  if (eventIds.length === 0) return true
  try {
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

function toWebhookEvent(row: EventRow): WebhookEvent {
  return {
    id: row.id,
    providerId: String(row.provider_id),
    type: row.type,
    payload: row.payload,
    createdAt: row.created_at,
  }
}

export async function findWebhookEvent(db: D1Database, id: string): Promise<WebhookEvent | null> {
  const row = await db
    .prepare(`SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE id = ?1`)
    .bind(id)
    .first<EventRow>()
  return row ? toWebhookEvent(row) : null
}

/**
 * Creates the event's delivery to each enabled endpoint subscribed to its type (again: harmless),
 * and returns the endpoints whose delivery is still pending.
 */
export async function fanOutWebhookEvent(
  db: D1Database,
  event: WebhookEvent,
  now: number,
): Promise<string[]> {
  const [, pending] = await db.batch<{ endpoint_id: string }>([
    db
      .prepare(
        `INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at)
         SELECT ?1, id, ?4 FROM webhook_endpoints
         WHERE provider_id = CAST(?2 AS INTEGER) AND status = 'enabled'
           AND EXISTS (SELECT 1 FROM json_each(event_types) WHERE value = ?3)
         ON CONFLICT DO NOTHING`,
      )
      .bind(event.id, event.providerId, event.type, now),
    db
      .prepare(
        `SELECT endpoint_id FROM webhook_deliveries WHERE event_id = ?1 AND status = 'pending'
         ORDER BY endpoint_id`,
      )
      .bind(event.id),
  ])
  return (pending?.results ?? []).map((r) => r.endpoint_id)
}

/** Records that the event's deliveries are created and enqueued. */
export async function markWebhookEventFannedOut(
  db: D1Database,
  id: string,
  now: number,
): Promise<void> {
  await db.prepare(`UPDATE webhook_events SET fanned_out_at = ?2 WHERE id = ?1`).bind(id, now).run()
}

/**
 * Claims the pending delivery of an event to an endpoint for one attempt: its number, or null
 * when it succeeded, is dead, is unknown or another consumer holds a live lease on it.
 */
export async function claimWebhookDelivery(
  db: D1Database,
  eventId: string,
  endpointId: string,
  now: number,
  leaseSeconds: number,
): Promise<number | null> {
  const row = await db
    .prepare(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until = ?3 + ?4
       WHERE event_id = ?1 AND endpoint_id = ?2 AND status = 'pending'
         AND (lease_until IS NULL OR lease_until <= ?3)
       RETURNING attempts`,
    )
    .bind(eventId, endpointId, now, leaseSeconds)
    .first<{ attempts: number }>()
  return row?.attempts ?? null
}

export type WebhookAttemptOutcome = 'succeeded' | 'retrying' | 'dead'

export type NewWebhookAttempt = {
  eventId: string
  endpointId: string
  attempt: number
  attemptedAt: Date
  httpStatus: number | null
  error: string | null
  durationMs: number
  outcome: WebhookAttemptOutcome
  /** Epoch seconds; only when retrying. */
  nextAttemptAt: number | null
}

/** An endpoint is disabled once it has failed this many times in a row… */
export type DisableRule = { minFailures: number; minSeconds: number; reason: string }

/**
 * Records an attempt in one batch: the attempt's row, the delivery's new state, the endpoint's
 * run of failures (extended when the attempt `countsAsFailure`, which a slow success does too,
 * reset otherwise), and the endpoint's disablement when the run has reached both of `rule`'s
 * bounds. True when this attempt disabled the endpoint.
 */
export async function recordWebhookAttempt(
  db: D1Database,
  attempt: NewWebhookAttempt,
  { countsAsFailure, rule }: { countsAsFailure: boolean; rule: DisableRule },
): Promise<boolean> {
  const now = Math.floor(attempt.attemptedAt.getTime() / 1000)
  const status = attempt.outcome === 'retrying' ? 'pending' : attempt.outcome
  const results = await db.batch([
    db
      .prepare(
        `INSERT INTO webhook_attempts (event_id, endpoint_id, attempt, attempted_at, http_status,
           error, duration_ms, outcome, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
      )
      .bind(
        attempt.eventId,
        attempt.endpointId,
        attempt.attempt,
        attempt.attemptedAt.toISOString(),
        attempt.httpStatus,
        attempt.error,
        attempt.durationMs,
        attempt.outcome,
        attempt.nextAttemptAt === null
          ? null
          : new Date(attempt.nextAttemptAt * 1000).toISOString(),
      ),
    db
      .prepare(
        `UPDATE webhook_deliveries SET status = ?3, lease_until = NULL,
           next_attempt_at = COALESCE(?4, next_attempt_at)
         WHERE event_id = ?1 AND endpoint_id = ?2`,
      )
      .bind(attempt.eventId, attempt.endpointId, status, attempt.nextAttemptAt),
    !countsAsFailure
      ? db
          .prepare(
            `UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL
             WHERE id = ?1`,
          )
          .bind(attempt.endpointId)
      : db
          .prepare(
            `UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
               failing_since = COALESCE(failing_since, ?2)
             WHERE id = ?1`,
          )
          .bind(attempt.endpointId, now),
    db
      .prepare(
        `UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = ?4,
           disabled_at = ${NOW}, updated_at = ${NOW}
         WHERE id = ?1 AND status = 'enabled' AND consecutive_failures >= ?2
           AND failing_since <= ?3 - ?5
         RETURNING id`,
      )
      .bind(attempt.endpointId, rule.minFailures, now, rule.reason, rule.minSeconds),
  ])
  return (results[3]?.results.length ?? 0) > 0
}

/** Marks the delivery dead (the dead-letter queue's consumer): false if it was not pending. */
export async function markWebhookDeliveryDead(
  db: D1Database,
  eventId: string,
  endpointId: string,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE webhook_deliveries SET status = 'dead', lease_until = NULL
       WHERE event_id = ?1 AND endpoint_id = ?2 AND status = 'pending'`,
    )
    .bind(eventId, endpointId)
    .run()
  return result.meta.changes > 0
}

export type WebhookAttempt = Omit<NewWebhookAttempt, 'attemptedAt' | 'nextAttemptAt'> & {
  id: number
  eventType: WebhookEventType | null
  attemptedAt: string
  nextAttemptAt: string | null
}

type AttemptRow = {
  id: number
  event_id: string
  endpoint_id: string
  event_type: WebhookEventType | null
  attempt: number
  attempted_at: string
  http_status: number | null
  error: string | null
  duration_ms: number
  outcome: WebhookAttemptOutcome
  next_attempt_at: string | null
}

/**
 * A page of the endpoint's attempts, newest first, before attempt id `before`; with `outcome`,
 * only those that ended so (`dead`: the last attempt at each event dead for this endpoint).
 */
export async function listWebhookAttempts(
  db: D1Database,
  endpointId: string,
  { before, limit, outcome }: { before?: number; limit: number; outcome?: WebhookAttemptOutcome },
): Promise<WebhookAttempt[]> {
  const { results } = await db
    .prepare(
      `SELECT a.id, a.event_id, a.endpoint_id, e.type AS event_type, a.attempt, a.attempted_at,
         a.http_status, a.error, a.duration_ms, a.outcome, a.next_attempt_at
       FROM webhook_attempts a LEFT JOIN webhook_events e ON e.id = a.event_id
       WHERE a.endpoint_id = ?1 AND a.id < ?2 AND (?4 IS NULL OR a.outcome = ?4)
       ORDER BY a.id DESC LIMIT ?3`,
    )
    .bind(endpointId, before ?? Number.MAX_SAFE_INTEGER, limit, outcome ?? null)
    .all<AttemptRow>()
  return results.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    endpointId: r.endpoint_id,
    eventType: r.event_type,
    attempt: r.attempt,
    attemptedAt: r.attempted_at,
    httpStatus: r.http_status,
    error: r.error,
    durationMs: r.duration_ms,
    outcome: r.outcome,
    nextAttemptAt: r.next_attempt_at,
  }))
}

// --- Recent events and redelivery (decisions.md D40) -----------------------------------------

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'dead'

/** One event as one endpoint has it: what it was, and where its delivery stands. */
export type WebhookEventDelivery = {
  eventId: string
  type: WebhookEventType
  /** Epoch seconds of the status change the event reports. */
  createdAt: number
  status: WebhookDeliveryStatus
  attempts: number
  /** Epoch seconds; while pending. */
  nextAttemptAt: number | null
}

type EventDeliveryRow = {
  event_id: string
  type: WebhookEventType
  created_at: number
  status: WebhookDeliveryStatus
  attempts: number
  next_attempt_at: number
}

/**
 * A page of the endpoint's events, newest first, after the key `after` ([created_at, event id]),
 * at or after `since` (epoch s), and with `status` when given.
 */
export async function listWebhookEventDeliveries(
  db: D1Database,
  endpointId: string,
  {
    after,
    limit,
    status,
    since,
  }: { after?: [number, string]; limit: number; status?: WebhookDeliveryStatus; since?: number },
): Promise<WebhookEventDelivery[]> {
  const { results } = await db
    .prepare(
      `SELECT d.event_id, e.type, e.created_at, d.status, d.attempts, d.next_attempt_at
       FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
       WHERE d.endpoint_id = ?1 AND (?2 IS NULL OR d.status = ?2) AND e.created_at >= ?3
         AND (?4 IS NULL OR e.created_at < ?4 OR (e.created_at = ?4 AND e.id < ?5))
       ORDER BY e.created_at DESC, e.id DESC LIMIT ?6`,
    )
    .bind(endpointId, status ?? null, since ?? 0, after?.[0] ?? null, after?.[1] ?? '', limit)
    .all<EventDeliveryRow>()
  return results.map((r) => ({
    eventId: r.event_id,
    type: r.type,
    createdAt: r.created_at,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
  }))
}

/**
 * Makes deliveries to the endpoint pending again, from their first attempt, due `now`: the one of
 * `eventId` if it is over (succeeded or dead), or, with `since` (epoch s), up to `limit` of those
 * dead for events at or after it, oldest first. Returns the event ids made pending; a delivery
 * pending already is left as it is.
 */
export async function requeueWebhookDeliveries(
  db: D1Database,
  endpointId: string,
  selection: { eventId: string } | { since: number; limit: number },
  now: number,
): Promise<string[]> {
  const which =
    'eventId' in selection
      ? { sql: `event_id = ?3 AND status <> 'pending'`, params: [selection.eventId] }
      : {
          sql: `status = 'dead' AND event_id IN (SELECT e.id FROM webhook_events e
              JOIN webhook_deliveries d ON d.event_id = e.id
              WHERE d.endpoint_id = ?1 AND d.status = 'dead' AND e.created_at >= ?3
              ORDER BY e.created_at, e.id LIMIT ?4)`,
          params: [selection.since, selection.limit],
        }
  const { results } = await db
    .prepare(
      `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, lease_until = NULL,
         next_attempt_at = ?2
       WHERE endpoint_id = ?1 AND ${which.sql}
       RETURNING event_id`,
    )
    .bind(endpointId, now, ...which.params)
    .all<{ event_id: string }>()
  return results.map((r) => r.event_id)
}

/** Whether the endpoint has a delivery of the event, in any state. */
export async function hasWebhookDelivery(
  db: D1Database,
  endpointId: string,
  eventId: string,
): Promise<boolean> {
  const row = await db
    .prepare('SELECT 1 AS found FROM webhook_deliveries WHERE endpoint_id = ?1 AND event_id = ?2')
    .bind(endpointId, eventId)
    .first<{ found: number }>()
  return row !== null
}

// --- The sweeper ----------------------------------------------------------------------------

/**
 * Events not fanned out although written before `cutoff` (epoch s) and not enqueued since: the
 * Worker stopped between the batch and the enqueue, or the message was lost. Marked enqueued.
 */
export async function takeStrandedWebhookEvents(
  db: D1Database,
  cutoff: number,
  now: number,
  limit: number,
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `UPDATE webhook_events SET enqueued_at = ?2
       WHERE id IN (SELECT id FROM webhook_events
         WHERE fanned_out_at IS NULL AND created_at <= ?1
           AND (enqueued_at IS NULL OR enqueued_at <= ?1)
         ORDER BY created_at LIMIT ?3)
       RETURNING id`,
    )
    .bind(cutoff, now, limit)
    .all<{ id: string }>()
  return results.map((r) => r.id)
}

/**
 * Pending deliveries whose next attempt was due before `cutoff` and that no consumer holds:
 * their queue message was lost or its consumer died. Their due time moves to `now`.
 */
export async function takeOverdueWebhookDeliveries(
  db: D1Database,
  cutoff: number,
  now: number,
  limit: number,
): Promise<Array<{ eventId: string; endpointId: string }>> {
  const { results } = await db
    .prepare(
      `UPDATE webhook_deliveries SET next_attempt_at = ?2
       WHERE rowid IN (SELECT rowid FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= ?1
           AND (lease_until IS NULL OR lease_until <= ?2)
         ORDER BY next_attempt_at LIMIT ?3)
       RETURNING event_id, endpoint_id`,
    )
    .bind(cutoff, now, limit)
    .all<{ event_id: string; endpoint_id: string }>()
  return results.map((r) => ({ eventId: r.event_id, endpointId: r.endpoint_id }))
}

/**
 * Deletes up to `limit` of the oldest webhook events created before `cutoff` (epoch s) with their
 * deliveries and attempts, children first, in one transaction; returns how many events went.
 * Messages leave their send shards by the same cutoff (decisions.md D33).
 */
export async function deleteWebhookEventsBefore(
  db: D1Database,
  cutoff: number,
  limit: number,
): Promise<number> {
  const page = `WITH page AS (
    SELECT id FROM webhook_events WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)`
  const results = await db.batch(
    [
      `DELETE FROM webhook_attempts WHERE event_id IN (SELECT id FROM page)`,
      `DELETE FROM webhook_deliveries WHERE event_id IN (SELECT id FROM page)`,
      `DELETE FROM webhook_events WHERE id IN (SELECT id FROM page)`,
    ].map((sql) => db.prepare(`${page} ${sql}`).bind(cutoff, limit)),
  )
  return results.at(-1)!.meta.changes
}
