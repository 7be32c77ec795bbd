// Every status change of a delivery, and its timeline (decisions.md D27): the one place where a
// delivery's status is written. Each change is a guarded UPDATE (it applies only from the statuses
// the transition may leave) followed, in the same db.batch, by its delivery_events row, written
// only if the UPDATE took effect, by the webhook event it causes (decisions.md D26), by a mark
// that its message's row of the admin index is to be brought up to date, and by the overview's
// count of the status reached (decisions.md D42). Those wait in the send shard, whose alarm hands
// them on (decisions.md D32). Whatever must happen with
// every status change is added to statusChange() here, and nowhere else; once its batch has
// committed, the change is one data point of the METRICS dataset (writeStatusChangePoint).
//
// `db` is the provider's send shard (src/storage/shard-database.ts), where deliveries live.

import type { DeliveryStatus, SmsRoute } from '../channel.ts'
import { redactText } from '../log.ts'
import { writeDeliveryPoint } from './metrics.ts'
import { countAcceptance, countStatusChange } from './overview-hours.ts'
import { deliveryEventStatement, newWebhookEventId, type WebhookEventType } from './webhooks.ts'

export type { DeliveryStatus } from '../channel.ts'

/** Statuses no transition leaves: a late or replayed change never overwrites them. */
export const FINAL_STATUSES: ReadonlySet<DeliveryStatus> = new Set([
  'delivered',
  'undelivered',
  'failed',
  'dead',
])

/**
 * The transitions, by what causes them:
 * - `claim` (consumer): queued, or sending whose lease ran out → sending, counting an attempt and
 *   recording when it began (`attempt_at`), before anything goes out. Taking over a lease that ran
 *   out marks the attempt that held it in doubt (`in_doubt_since`: it may have reached the
 *   channel with no outcome recorded), as `requeue` does;
 * - `withhold` (consumer, instead of the claim): from where `claim` starts → failed, not counting an
 *   attempt, with `reason` (why the delivery may no longer be sent) as its error;
 * - `retry` (consumer, transient failure): sending → queued, due again at `nextAttemptAt`; with
 *   `inDoubt` (no answer says the channel did not accept it, or the channel could not tell whether
 *   an earlier attempt was accepted) the attempt stays or becomes in doubt, else nothing is;
 * - `requeue` (sweeper): sending whose lease ran out → queued, that attempt in doubt;
 * - `sent` (consumer): sending → sent, with the channel's message id (its own, or the one the
 *   channel reports for an attempt in doubt);
 * - `failed`: queued or sending (consumer, a permanent error) or sent (the SMS API's `failed`
 *   receipt) → failed;
 * - `dead` (dead-letter consumer): queued or sending → dead;
 * - `cancel` (DELETE /Services/messages/{id}): queued and still scheduled (not yet handed to the
 *   queue) → failed, with the error code `cancelled` (decisions.md D44);
 * - `reroute` (consumer): sending → sending on another SMS route (decisions.md D45), recorded
 *   before the attempt goes out by that route, with why (the primary refused Portero's settings,
 *   or its circuit breaker is open);
 * - `delivered`, `undelivered` (the SMS API's receipts): sent → delivered | undelivered;
 * - `acknowledged` (the app's acknowledgement of a push, POST /acks/{token}, decisions.md D46): a
 *   push sending or sent → delivered (the app may acknowledge before FCM's answer is recorded).
 * No transition leaves a final status, and none goes back to sent: a receipt that arrives late,
 * twice or out of order changes nothing.
 */
export type Transition =
  | { kind: 'claim'; leaseUntil: number; nowSeconds: number }
  | { kind: 'withhold'; reason: string; nowSeconds: number }
  | { kind: 'retry'; error: string; nextAttemptAt: number; inDoubt?: boolean }
  | { kind: 'requeue'; nextAttemptAt: number; nowSeconds: number }
  | { kind: 'sent'; providerMessageId: string }
  | { kind: 'failed'; error: string; errorCode?: string | null }
  | { kind: 'dead'; error: string }
  | { kind: 'cancel' }
  | { kind: 'reroute'; route: SmsRoute; reason: string }
  | { kind: 'delivered' }
  | { kind: 'undelivered'; error: string; errorCode?: string | null }
  | { kind: 'acknowledged' }

export type StatusChange = Transition & { deliveryId: string; at: Date }

type TransitionKind = Transition['kind']

/** The status each transition leads to. */
export const STATUS_AFTER: Record<TransitionKind, DeliveryStatus> = {
  claim: 'sending',
  withhold: 'failed',
  retry: 'queued',
  requeue: 'queued',
  sent: 'sent',
  failed: 'failed',
  dead: 'dead',
  cancel: 'failed',
  reroute: 'sending',
  delivered: 'delivered',
  undelivered: 'undelivered',
  acknowledged: 'delivered',
}

/** The error code of a cancelled delivery (decisions.md D44). */
export const CANCELLED = 'cancelled'

// Where each transition may start (SQL over the row; ?4 is nowSeconds where it is used).
const LEASE_RAN_OUT = `(status = 'sending' AND lease_until < ?4)`
// A scheduled delivery is claimed only once due, whatever job names it (decisions.md D44).
const DUE = `(scheduled_for IS NULL OR next_attempt_at <= ?4)`
const FROM: Record<TransitionKind, string> = {
  claim: `((status = 'queued' AND ${DUE}) OR ${LEASE_RAN_OUT})`,
  withhold: `((status = 'queued' AND ${DUE}) OR ${LEASE_RAN_OUT})`,
  retry: `status = 'sending'`,
  requeue: LEASE_RAN_OUT,
  sent: `status = 'sending'`,
  failed: `status IN ('queued', 'sending', 'sent')`,
  dead: `status IN ('queued', 'sending')`,
  cancel: `status = 'queued' AND scheduled_for IS NOT NULL`,
  reroute: `status = 'sending'`,
  delivered: `status = 'sent'`,
  undelivered: `status = 'sent'`,
  acknowledged: `channel = 'fcm' AND status IN ('sending', 'sent')`,
}

// The step's own timestamp column: the first time the delivery reached it.
const REACHED: Partial<Record<DeliveryStatus, string>> = {
  sending: 'sending_at = COALESCE(sending_at, ?3)',
  sent: 'sent_at = ?3',
  delivered: 'delivered_at = ?3',
  undelivered: 'undelivered_at = ?3',
  failed: 'failed_at = ?3',
  dead: 'dead_at = ?3',
}

/** The transitions a provider is told of by webhook, and the event type of each. */
const WEBHOOK_EVENT: Partial<Record<TransitionKind, WebhookEventType>> = {
  withhold: 'message.failed',
  sent: 'message.sent',
  delivered: 'message.delivered',
  undelivered: 'message.undelivered',
  acknowledged: 'message.delivered',
  failed: 'message.failed',
  dead: 'message.dead',
  cancel: 'message.cancelled',
  // decisions.md D45: the next attempt goes by the other SMS route.
  reroute: 'message.failed_over',
}

/**
 * When the earliest attempt not yet settled began, once the attempt holding the lease is in doubt
 * too: an earlier one in doubt stays the earliest. A row from before attempt_at was recorded
 * counts from its lease's start (LEASE_SECONDS was never more than 60).
 */
const IN_DOUBT = 'COALESCE(in_doubt_since, attempt_at, lease_until - 60)'

/** The columns a transition sets besides the status and its timestamp (params from ?5 on). */
function columnsOf(t: Transition): { sql: string[]; params: unknown[] } {
  switch (t.kind) {
    case 'claim':
      return {
        sql: [
          'lease_until = ?5',
          'attempts = attempts + 1',
          // SET reads the row as it was: a lease that ran out leaves its attempt in doubt.
          `in_doubt_since = CASE WHEN status = 'sending' THEN ${IN_DOUBT} ELSE in_doubt_since END`,
          'attempt_at = ?4',
        ],
        params: [t.leaseUntil],
      }
    case 'retry':
      return {
        sql: [
          'lease_until = NULL',
          'next_attempt_at = ?5',
          'last_error = ?6',
          `in_doubt_since = ${t.inDoubt ? IN_DOUBT : 'NULL'}`,
        ],
        params: [t.nextAttemptAt, t.error],
      }
    case 'requeue':
      return {
        sql: ['lease_until = NULL', 'next_attempt_at = ?5', `in_doubt_since = ${IN_DOUBT}`],
        params: [t.nextAttemptAt],
      }
    case 'sent':
      return {
        sql: [
          'provider_message_id = ?5',
          'lease_until = NULL',
          'last_error = NULL',
          'error_code = NULL',
          'in_doubt_since = NULL',
          // A push to be acknowledged falls back once this passes (decisions.md D46).
          `fallback_due = CASE WHEN fallback_after IS NULL OR fallback_address IS NULL THEN NULL
             ELSE CAST(strftime('%s', ?3) AS INTEGER) + fallback_after END`,
        ],
        params: [t.providerMessageId],
      }
    case 'withhold':
      return {
        sql: ['lease_until = NULL', 'last_error = ?5', 'error_code = NULL'],
        params: [t.reason],
      }
    case 'failed':
    case 'undelivered':
    case 'dead': {
      const code = t.kind === 'dead' ? null : (t.errorCode ?? null)
      return {
        sql: [
          'lease_until = NULL',
          'last_error = ?5',
          'error_code = ?6',
          ...(t.kind === 'failed' ? ['in_doubt_since = NULL'] : []),
        ],
        params: [t.error, code],
      }
    }
    case 'cancel':
      return { sql: ['last_error = ?5', 'error_code = ?5'], params: [CANCELLED] }
    case 'reroute':
      return { sql: ['route = ?5'], params: [t.route] }
    case 'delivered':
      return { sql: ['last_error = NULL', 'error_code = NULL'], params: [] }
    case 'acknowledged':
      return { sql: ['lease_until = NULL', 'last_error = NULL', 'error_code = NULL'], params: [] }
  }
}

/**
 * What the timeline row says beside the status: the error and its code, when there is one (for
 * `withhold`, the error its UPDATE wrote, read back by the row's insert).
 */
function eventDetail(t: Transition): { errorCode: string | null; detail: string | null } {
  switch (t.kind) {
    case 'retry':
    case 'dead':
      return { errorCode: null, detail: t.error }
    case 'withhold':
      return { errorCode: null, detail: t.reason }
    case 'reroute':
      return { errorCode: null, detail: `by the ${t.route} SMS route: ${t.reason}` }
    case 'failed':
    case 'undelivered':
      return { errorCode: t.errorCode ?? null, detail: t.error }
    case 'cancel':
      return { errorCode: CANCELLED, detail: 'cancelled before it was sent' }
    default:
      return { errorCode: null, detail: null }
  }
}

export type StatusChangeStatements = {
  /** The timeline row's id. */
  eventId: string
  /** What the change's data point says beside what its UPDATE returns (writeStatusChangePoint). */
  point: { status: DeliveryStatus; errorCode: string | null; at: Date }
  /** The webhook event's id (`webhook-id`), when the transition is one providers are told of. */
  webhookEventId: string | null
  statements: D1PreparedStatement[]
}

/**
 * The statements of one status change, to run in one db.batch (with any others of the caller):
 * the guarded UPDATE (with `returning` columns, if given), the timeline row, written only if the
 * UPDATE applied, then, only if the timeline row was, the mark for the admin index, the overview's
 * count (for the statuses it counts) and the webhook event's outbox row (for the transitions
 * providers are told of). `eventId` names the timeline row.
 */
export function statusChange(
  db: D1Database,
  change: StatusChange,
  { returning }: { returning?: string } = {},
): StatusChangeStatements {
  const eventId = crypto.randomUUID()
  const status = STATUS_AFTER[change.kind]
  const at = change.at.toISOString()
  const { sql, params } = columnsOf(change)
  const reached = REACHED[status]
  const nowSeconds = 'nowSeconds' in change ? change.nowSeconds : null
  const update = db
    .prepare(
      `UPDATE deliveries SET status = ?2, updated_at = ?3, last_event_id = ?1,
         ${[...(reached ? [reached] : []), ...sql].join(', ')}
       WHERE id = ?${params.length + 5} AND ${FROM[change.kind]}
       RETURNING ${[returning, POINT_COLUMNS].filter(Boolean).join(', ')}`,
    )
    .bind(eventId, status, at, nowSeconds, ...params, change.deliveryId)
  const { errorCode, detail } = eventDetail(change)
  const point = { status, errorCode, at: change.at }
  const event = db
    .prepare(
      `INSERT INTO delivery_events (id, delivery_id, message_id, provider_id, status, occurred_at,
         attempt, error_code, detail)
       SELECT ?1, id, message_id, provider_id, status, ?2, attempts, ?3, ?4
       FROM deliveries WHERE id = ?5 AND last_event_id = ?1`,
    )
    .bind(eventId, at, errorCode, detail, change.deliveryId)
  const indexed = db
    .prepare(
      `INSERT OR REPLACE INTO index_outbox (message_id)
       SELECT message_id FROM delivery_events WHERE id = ?1`,
    )
    .bind(eventId)
  const counted = countStatusChange(db, eventId, point)
  const applied = [update, event, indexed, ...(counted ? [counted] : [])]
  const type = WEBHOOK_EVENT[change.kind]
  if (!type) return { eventId, point, webhookEventId: null, statements: applied }
  const webhookEventId = newWebhookEventId()
  const webhook = deliveryEventStatement(db, {
    id: webhookEventId,
    changeId: eventId,
    deliveryId: change.deliveryId,
    type,
    occurredAt: change.at,
    errorCode,
    reason: detail === null ? null : redactText(detail).slice(0, 500),
  })
  return { eventId, point, webhookEventId, statements: [...applied, webhook] }
}

/**
 * What every UPDATE of a status change returns for its data point, under names of their own so
 * they never shadow a caller's `returning` columns. created_at is when POST /Services accepted the
 * message: the delivery row is written in the same batch.
 */
const POINT_COLUMNS =
  'provider_id AS point_provider_id, channel AS point_channel, created_at AS point_accepted_at'

type PointRow = {
  point_provider_id: number | string
  point_channel: string
  point_accepted_at: string
}

/**
 * Writes the data point of a committed status change (`results` from the change's first statement
 * on), without waiting: none when the change did not apply, or where no METRICS binding is given
 * (a caller that changes statuses outside the Worker's handlers, as tests do).
 */
export function writeStatusChangePoint(
  metrics: AnalyticsEngineDataset | undefined,
  change: StatusChangeStatements,
  results: D1Result[],
): void {
  const row = results[0]?.results?.[0] as PointRow | undefined
  if (!metrics || !row) return
  const acceptedAt = Date.parse(row.point_accepted_at)
  const { status, errorCode, at } = change.point
  writeDeliveryPoint(metrics, {
    providerId: String(row.point_provider_id),
    channel: row.point_channel,
    status,
    errorCode,
    secondsSinceAcceptance: Number.isNaN(acceptedAt)
      ? 0
      : Math.max(0, (at.getTime() - acceptedAt) / 1000),
  })
}

export type LifecycleDeps = {
  /** The delivery's send shard (src/storage/shard-database.ts). */
  shard: D1Database
  /** METRICS: where each applied change is counted (writeStatusChangePoint). */
  metrics?: AnalyticsEngineDataset
}

/**
 * Makes one status change (and runs `also` in the same batch, after it). True when it applied;
 * false when the delivery is not where the transition may start (a replay, a late receipt, a
 * delivery another consumer holds) or does not exist. The webhook event it caused, if any, waits
 * in the shard's outbox.
 */
export async function changeDeliveryStatus(
  { shard, metrics }: LifecycleDeps,
  change: StatusChange,
  also: D1PreparedStatement[] = [],
): Promise<boolean> {
  const changed = statusChange(shard, change)
  const results = await shard.batch([...changed.statements, ...also])
  writeStatusChangePoint(metrics, changed, results)
  return results[0]!.meta.changes > 0
}

/**
 * The `queued` timeline rows of a message's new deliveries, the mark for its admin index row and
 * the overview's count of an accepted message, for the batch that inserts them: a delivery enters
 * the lifecycle at `queued` when POST /Services writes it.
 */
export function queuedEvents(db: D1Database, messageId: string, at: string): D1PreparedStatement[] {
  return [...enterQueued(db, 'message_id', messageId, at), countAcceptance(db, messageId, at)]
}

/**
 * The same for one delivery added to a message already accepted (a push's fallback SMS,
 * decisions.md D46), for the batch that inserts it: its `queued` row and the index mark.
 */
export function queuedDeliveryEvents(
  db: D1Database,
  deliveryId: string,
  at: string,
): D1PreparedStatement[] {
  return enterQueued(db, 'id', deliveryId, at)
}

/** `queued` timeline rows of the deliveries whose `column` is `key`, and their message's mark. */
function enterQueued(
  db: D1Database,
  column: 'message_id' | 'id',
  key: string,
  at: string,
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        `INSERT INTO delivery_events (id, delivery_id, message_id, provider_id, status, occurred_at)
         SELECT lower(hex(randomblob(16))), id, message_id, provider_id, 'queued', ?2
         FROM deliveries WHERE ${column} = ?1`,
      )
      .bind(key, at),
    db
      .prepare(
        `INSERT OR REPLACE INTO index_outbox (message_id)
         SELECT DISTINCT message_id FROM deliveries WHERE ${column} = ?1`,
      )
      .bind(key),
  ]
}

export type DeliveryEvent = {
  deliveryId: string
  status: DeliveryStatus
  occurredAt: string
  attempt: number
  errorCode: string | null
  detail: string | null
}

type DeliveryEventRow = {
  delivery_id: string
  status: DeliveryStatus
  occurred_at: string
  attempt: number
  error_code: string | null
  detail: string | null
}

function toDeliveryEvent(row: DeliveryEventRow): DeliveryEvent {
  return {
    deliveryId: row.delivery_id,
    status: row.status,
    occurredAt: row.occurred_at,
    attempt: row.attempt,
    errorCode: row.error_code,
    detail: row.detail,
  }
}

/** A message's timeline, oldest first, as a read for readBatch. */
export function selectDeliveryEvents(db: D1Database, messageId: string) {
  return {
    statements: [
      db
        .prepare(
          `SELECT delivery_id, status, occurred_at, attempt, error_code, detail
           FROM delivery_events WHERE message_id = ?1 ORDER BY occurred_at, rowid`,
        )
        .bind(messageId),
    ],
    read: ([result]: D1Result[]) => (result!.results as DeliveryEventRow[]).map(toDeliveryEvent),
  }
}

/**
 * The statement that deletes the timeline of some messages, for the batch that deletes them:
 * `page` is a WITH clause naming them `page(id)` (src/storage/messages.ts, deleteMessagesBefore).
 */
export function deleteDeliveryEventsOfMessages(
  db: D1Database,
  page: { withSql: string; params: unknown[] },
): D1PreparedStatement {
  return db
    .prepare(
      `${page.withSql} DELETE FROM delivery_events WHERE message_id IN (SELECT id FROM page)`,
    )
    .bind(...page.params)
}
