// The messages and deliveries tables: the dispatch outbox (decisions.md D10). A message is one
// accepted /Services request; each of its deliveries is one send on one channel to one address.
// They live in the provider's send shard (decisions.md D32): `db` here is the shard's database
// (src/storage/shard-database.ts), never D1.
import type { Channel, SmsRoute, WhatsAppTemplate } from '../channel.ts'
import { scheduledEventsStatement } from './webhooks.ts'
import { firstRow, type BatchRead } from './batch.ts'
import {
  deleteDeliveryEventsOfMessages,
  queuedEvents,
  statusChange,
  writeStatusChangePoint,
  type DeliveryStatus,
  type LifecycleDeps,
} from './delivery-lifecycle.ts'
import { epochSeconds } from '../utils/time.ts'

export type { DeliveryStatus } from './delivery-lifecycle.ts'
export type Part = 'notification' | 'advertisement'

export type Delivery = {
  id: string
  messageId: string
  providerId: string
  part: Part
  channel: Channel
  address: string
  title: string
  body: string
  link: string | null
  /** The public URL of the part's picture or QR code (decisions.md D19). */
  pictureUrl: string | null
  /** WhatsApp: the template sent instead of the text (decisions.md D47). */
  template: WhatsAppTemplate | null
  status: DeliveryStatus
  attempts: number
  providerMessageId: string | null
  lastError: string | null
  /** The channel's own code of the last failure (the SMS API's ErrorCode). */
  errorCode: string | null
  createdAt: string
  updatedAt: string
  /** When the delivery first reached each step of its lifecycle (decisions.md D27). */
  reached: Record<DeliveryStatus, string | null>
  sentAt: string | null
  /** When its current (or last) attempt was claimed, in epoch seconds (decisions.md D10). */
  attemptAt: number | null
  /** Until when the consumer sending it holds it, in epoch seconds; null when none does. */
  leaseUntil: number | null
  /**
   * When the earliest attempt began whose outcome is unknown (its lease ran out with nothing
   * recorded), in epoch seconds; null when every attempt's outcome is known.
   */
  inDoubtSince: number | null
  /** A sandbox message's delivery: sent to no channel (docs/sending.md "Sandbox"). */
  sandbox: boolean
  /**
   * When a scheduled delivery is due, in epoch seconds, until the alarm hands it to the queue
   * (decisions.md D44); null for one sent at once or already handed over.
   */
  scheduledFor: number | null
  /**
   * A push that may fall back to SMS (decisions.md D46): the phone to send to, and how many
   * seconds after sending it must be acknowledged (null: it falls back only when it fails).
   */
  fallbackAddress: string | null
  fallbackAfter: number | null
  /** The SMS delivery this push fell back to, once it did. */
  fallbackDeliveryId: string | null
  /** The push delivery this SMS was sent in place of. */
  fallbackOf: string | null
  /**
   * The SMS route its attempts go by (decisions.md D45): `primary` until it failed over; null
   * for a push.
   */
  route: SmsRoute | null
}

type DeliveryRow = {
  id: string
  message_id: string
  provider_id: string
  part: Part
  channel: Channel
  address: string
  title: string
  body: string
  link: string | null
  picture_url: string | null
  content_sid: string | null
  content_variables: string | null
  status: DeliveryStatus
  attempts: number
  provider_message_id: string | null
  last_error: string | null
  error_code: string | null
  created_at: string
  updated_at: string
  queued_at: string | null
  sending_at: string | null
  sent_at: string | null
  delivered_at: string | null
  undelivered_at: string | null
  failed_at: string | null
  dead_at: string | null
  attempt_at: number | null
  in_doubt_since: number | null
  lease_until: number | null
  sandbox: number
  scheduled_for: number | null
  fallback_address: string | null
  fallback_after: number | null
  fallback_delivery_id: string | null
  fallback_of: string | null
  route: SmsRoute | null
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    messageId: row.message_id,
    providerId: row.provider_id,
    part: row.part,
    channel: row.channel,
    address: row.address,
    title: row.title,
    body: row.body,
    link: row.link,
    pictureUrl: row.picture_url,
    template:
      row.content_sid === null
        ? null
        : {
            contentSid: row.content_sid,
            variables:
              row.content_variables === null
                ? null
                : (JSON.parse(row.content_variables) as Record<string, string>),
          },
    status: row.status,
    attempts: row.attempts,
    providerMessageId: row.provider_message_id,
    lastError: row.last_error,
    errorCode: row.error_code,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    reached: {
      queued: row.queued_at ?? row.created_at,
      sending: row.sending_at,
      sent: row.sent_at,
      delivered: row.delivered_at,
      undelivered: row.undelivered_at,
      failed: row.failed_at,
      dead: row.dead_at,
    },
    sentAt: row.sent_at,
    attemptAt: row.attempt_at,
    leaseUntil: row.lease_until,
    inDoubtSince: row.in_doubt_since,
    sandbox: row.sandbox === 1,
    scheduledFor: row.scheduled_for,
    fallbackAddress: row.fallback_address,
    fallbackAfter: row.fallback_after,
    fallbackDeliveryId: row.fallback_delivery_id,
    fallbackOf: row.fallback_of,
    route: row.channel === 'sms' ? (row.route ?? 'primary') : null,
  }
}

const DELIVERY_COLUMNS = `id, message_id, CAST(provider_id AS TEXT) AS provider_id, part, channel,
  address, title, body, link, picture_url, content_sid, content_variables, status, attempts, provider_message_id, last_error,
  error_code, created_at, updated_at, queued_at, sending_at, sent_at, delivered_at, undelivered_at,
  failed_at, dead_at, attempt_at, in_doubt_since, lease_until, sandbox, scheduled_for,
  fallback_address, fallback_after, fallback_delivery_id, fallback_of, route`

// A message's deliveries are always listed in this order; byDeliveryOrder is the same order in JS
// (the columns are ASCII, so SQLite's BINARY collation and JS string comparison agree).
const DELIVERY_ORDER = 'ORDER BY part, channel, id'

const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0)
const byDeliveryOrder = (a: Delivery, b: Delivery) =>
  compare(a.part, b.part) || compare(a.channel, b.channel) || compare(a.id, b.id)

export type Message = {
  id: string
  providerId: string
  serviceId: number
  idempotencyKey: string | null
  requestHash: string
  destination: string
  createdAt: string
  /** Sent to no channel, its statuses simulated (docs/sending.md "Sandbox"). */
  sandbox: boolean
}

type MessageRow = {
  id: string
  provider_id: string
  service_id: number
  idempotency_key: string | null
  request_hash: string
  destination: string
  created_at: string
  sandbox: number
}

function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    providerId: row.provider_id,
    serviceId: row.service_id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    destination: row.destination,
    createdAt: row.created_at,
    sandbox: row.sandbox === 1,
  }
}

const MESSAGE_COLUMNS = `id, CAST(provider_id AS TEXT) AS provider_id, service_id, idempotency_key,
  request_hash, destination, created_at, sandbox`

export type NewDelivery = Pick<
  Delivery,
  'id' | 'part' | 'channel' | 'address' | 'title' | 'body' | 'link'
> &
  Partial<Pick<Delivery, 'pictureUrl' | 'template' | 'fallbackAddress' | 'fallbackAfter'>>

/**
 * The statements that write a message and its deliveries in one transaction, and how to read the
 * deliveries as stored (in the order listDeliveries gives) from their results, without reading
 * them back: each insert returns its row. Nothing is written when the provider already used this
 * Idempotency-Key (the unique index decides), and the read is then null. With `scheduledFor`
 * (epoch seconds), the deliveries are scheduled: due then, and enqueued by the shard's alarm
 * (decisions.md D44).
 */
export function insertMessage(
  db: D1Database,
  message: Message,
  deliveries: NewDelivery[],
  scheduledFor: number | null = null,
): BatchRead<Delivery[] | null> {
  const due = scheduledFor ?? Math.floor(Date.parse(message.createdAt) / 1000)
  const statements = [
    db
      .prepare(
        `INSERT INTO messages (id, provider_id, service_id, idempotency_key, request_hash,
           destination, created_at, sandbox)
         VALUES (?1, CAST(?2 AS INTEGER), ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING`,
      )
      .bind(
        message.id,
        message.providerId,
        message.serviceId,
        message.idempotencyKey,
        message.requestHash,
        message.destination,
        message.createdAt,
        message.sandbox,
      ),
    ...deliveries.map((d) =>
      db
        .prepare(
          `INSERT INTO deliveries (id, message_id, provider_id, part, channel, address, title, body,
             link, next_attempt_at, picture_url, created_at, updated_at, queued_at, sandbox,
             scheduled_for, content_sid, content_variables, fallback_address, fallback_after)
           SELECT ?1, ?2, CAST(?3 AS INTEGER), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?12, ?13,
             ?14, ?15, ?16, ?17, ?18
           WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?2)
           RETURNING ${DELIVERY_COLUMNS}`,
        )
        .bind(
          d.id,
          message.id,
          message.providerId,
          d.part,
          d.channel,
          d.address,
          d.title,
          d.body,
          d.link,
          due,
          d.pictureUrl ?? null,
          message.createdAt,
          message.sandbox,
          scheduledFor,
          d.template?.contentSid ?? null,
          d.template?.variables ? JSON.stringify(d.template.variables) : null,
          d.fallbackAddress ?? null,
          d.fallbackAfter ?? null,
        ),
    ),
    // decisions.md D27: each delivery's timeline starts here, in the same batch.
    ...queuedEvents(db, message.id, message.createdAt),
    // decisions.md D44: a message stored scheduled tells its provider when it is due.
    ...(scheduledFor === null
      ? []
      : [scheduledEventsStatement(db, message.id, message.createdAt, scheduledFor)]),
  ]
  return {
    statements,
    read: ([inserted, ...results]) => {
      if (inserted!.meta.changes === 0) return null
      const rows = results.slice(0, deliveries.length)
      return rows
        .flatMap((result) => (result.results as DeliveryRow[]).map(toDelivery))
        .sort(byDeliveryOrder)
    },
  }
}

export type StoredMessage = { message: Message; deliveries: Delivery[] }

/**
 * The message a provider sent with this Idempotency-Key and its deliveries, as a read for
 * readBatch: two statements that need nothing but the key, so they share the caller's round trip.
 */
export function selectMessageByIdempotencyKey(
  db: D1Database,
  providerId: string,
  key: string,
): BatchRead<StoredMessage | null> {
  const MATCH = 'provider_id = CAST(?1 AS INTEGER) AND idempotency_key = ?2'
  return {
    statements: [
      db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE ${MATCH}`).bind(providerId, key),
      db
        .prepare(
          `SELECT ${DELIVERY_COLUMNS} FROM deliveries
           WHERE message_id = (SELECT id FROM messages WHERE ${MATCH}) ${DELIVERY_ORDER}`,
        )
        .bind(providerId, key),
    ],
    read: ([messages, deliveries]) => {
      const message = firstRow(messages, toMessage)
      return (
        message && { message, deliveries: (deliveries!.results as DeliveryRow[]).map(toDelivery) }
      )
    },
  }
}

/** A message and its deliveries by the message id, as a read for readBatch. */
export function selectMessageById(db: D1Database, id: string): BatchRead<StoredMessage | null> {
  return {
    statements: [
      db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?1`).bind(id),
      db
        .prepare(
          `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE message_id = ?1 ${DELIVERY_ORDER}`,
        )
        .bind(id),
    ],
    read: ([messages, deliveries]) => {
      const message = firstRow(messages, toMessage)
      return (
        message && { message, deliveries: (deliveries!.results as DeliveryRow[]).map(toDelivery) }
      )
    },
  }
}

/**
 * A message's one status (domain/dispatch.ts messageStatus, decisions.md D27, D44) as an aggregate
 * over its deliveries' `status`, `attempts`, `scheduled_for` and `error_code`, for filtering in
 * SQL. Both are given the deliveries that did not fall back (decisions.md D46). The two must agree: a test runs both over every mix of delivery states.
 */
export const MESSAGE_STATUS_SQL = `CASE
    WHEN count(*) > 0 AND total(status = 'queued' AND scheduled_for IS NOT NULL) = count(*)
      THEN 'scheduled'
    WHEN count(*) > 0 AND total(status = 'failed' AND error_code = 'cancelled') = count(*)
      THEN 'cancelled'
    WHEN total(status IN ('queued', 'sending')) > 0 THEN
      CASE WHEN total(status = 'queued' AND attempts = 0) = count(*) THEN 'queued'
        ELSE 'sending' END
    WHEN total(status IN ('sent', 'delivered')) = count(*) THEN
      CASE WHEN total(status = 'delivered') = count(*) THEN 'delivered' ELSE 'sent' END
    WHEN total(status IN ('sent', 'delivered')) > 0 THEN
      CASE WHEN total(status = 'delivered') > 0 THEN 'partially_delivered' ELSE 'partially_sent' END
    WHEN total(status = 'dead') > 0 THEN 'dead'
    WHEN total(status = 'undelivered') > 0 THEN 'undelivered'
    ELSE 'failed'
  END`

export async function listDeliveries(db: D1Database, messageId: string): Promise<Delivery[]> {
  const { results } = await db
    .prepare(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE message_id = ?1 ${DELIVERY_ORDER}`)
    .bind(messageId)
    .all<DeliveryRow>()
  return results.map(toDelivery)
}

export async function findDeliveryById(db: D1Database, id: string): Promise<Delivery | null> {
  const row = await db
    .prepare(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1`)
    .bind(id)
    .first<DeliveryRow>()
  return row ? toDelivery(row) : null
}

/**
 * Claims a delivery for sending with a lease, counting the attempt (the lifecycle's `claim`). Only
 * a queued delivery, or one whose previous lease ran out (its consumer died mid-send), can be
 * claimed: two deliveries of the same queue message cannot both send. Null when there is nothing
 * to claim. With `withheld` (why a delivery accepted earlier may no longer be sent: src/storage/
 * send-policy.ts), it is marked `failed` with that reason instead (the lifecycle's `withhold`),
 * and returned so.
 */
export async function claimDelivery(
  deps: LifecycleDeps,
  id: string,
  now: Date,
  leaseSeconds: number,
  withheld: string | null = null,
): Promise<Delivery | null> {
  const [claimed] = await claimDeliveries(deps, [{ id, withheld }], now, leaseSeconds)
  return claimed ?? null
}

/**
 * claimDelivery for several deliveries of one shard at once: one batch, one call to the shard.
 * The answers are in the order of `claims`; a delivery named twice is claimed by the first.
 */
export async function claimDeliveries(
  { shard, metrics }: LifecycleDeps,
  claims: Array<{ id: string; withheld: string | null }>,
  now: Date,
  leaseSeconds: number,
): Promise<Array<Delivery | null>> {
  const nowSeconds = epochSeconds(now)
  const returning = { returning: DELIVERY_COLUMNS }
  const changes = claims.map(({ id, withheld }) => {
    const change = { deliveryId: id, at: now, nowSeconds }
    return statusChange(
      shard,
      withheld === null
        ? { ...change, kind: 'claim', leaseUntil: nowSeconds + leaseSeconds }
        : { ...change, kind: 'withhold', reason: withheld },
      returning,
    )
  })
  const results = await shard.batch<DeliveryRow>(changes.flatMap((c) => c.statements))
  let at = 0
  return changes.map((change) => {
    const own = results.slice(at, (at += change.statements.length))
    writeStatusChangePoint(metrics, change, own)
    return firstRow(own[0], toDelivery)
  })
}

/**
 * The SMS API's ids of the other SMS deliveries to `address` recorded sent at or after `since`:
 * when asking the API whether an attempt in doubt was accepted, none of them is this delivery's.
 * Only asked after an attempt was left in doubt, so no index serves it.
 */
export async function findOtherSmsSids(
  db: D1Database,
  deliveryId: string,
  address: string,
  since: Date,
  channel: Channel = 'sms',
): Promise<Set<string>> {
  const { results } = await db
    .prepare(
      `SELECT provider_message_id FROM deliveries
       WHERE channel = ?4 AND address = ?1 AND id != ?2 AND provider_message_id IS NOT NULL
         AND sent_at >= ?3`,
    )
    .bind(address, deliveryId, since.toISOString(), channel)
    .all<{ provider_message_id: string }>()
  return new Set(results.map((r) => r.provider_message_id))
}

/**
 * Extends the lease of the attempt the caller claimed (its `attempts` count), while that lease
 * still holds: false when it ran out and the delivery may be another consumer's now.
 */
export async function renewLease(
  db: D1Database,
  delivery: Pick<Delivery, 'id' | 'attempts'>,
  now: Date,
  leaseSeconds: number,
): Promise<boolean> {
  const nowSeconds = epochSeconds(now)
  const result = await db
    .prepare(
      `UPDATE deliveries SET lease_until = ?3
       WHERE id = ?1 AND attempts = ?2 AND status = 'sending' AND lease_until >= ?4`,
    )
    .bind(delivery.id, delivery.attempts, nowSeconds + leaseSeconds, nowSeconds)
    .run()
  return result.meta.changes > 0
}

/**
 * The SMS or WhatsApp delivery the SMS API knows as `sid` (its MessageSid), as a read for a batch:
 * both go through the same API and report to the same receipts route (decisions.md D47).
 */
export function selectSmsDeliveryBySid(db: D1Database, sid: string): BatchRead<Delivery | null> {
  return {
    statements: [
      db
        .prepare(
          `SELECT ${DELIVERY_COLUMNS} FROM deliveries
           WHERE provider_message_id = ?1 AND channel IN ('sms', 'whatsapp')`,
        )
        .bind(sid),
    ],
    read: ([result]) => firstRow(result, toDelivery),
  }
}

/**
 * Deliveries the queue should have handed over by now but has not: scheduled and due (decisions.md
 * D44: never enqueued before), queued and due more than `graceSeconds` ago (never enqueued: the
 * Worker failed between the D1 write and the enqueue), or sending with a lease that ran out (their
 * consumer died holding it).
 */
export async function findOverdueDeliveries(
  db: D1Database,
  now: Date,
  graceSeconds: number,
  limit: number,
) {
  const nowSeconds = epochSeconds(now)
  const { results } = await db
    .prepare(
      `SELECT id FROM deliveries
       WHERE (status = 'queued' AND scheduled_for IS NULL AND next_attempt_at < ?1)
          OR (status = 'queued' AND scheduled_for IS NOT NULL AND next_attempt_at <= ?3)
          OR (status = 'sending' AND lease_until < ?3)
       ORDER BY next_attempt_at LIMIT ?2`,
    )
    .bind(nowSeconds - graceSeconds, limit, nowSeconds)
    .all<{ id: string }>()
  return results.map((r) => r.id)
}

/**
 * Marks overdue deliveries queued again, due at `nextAttemptAt`, once they are back in the queue:
 * one whose consumer died holding the lease goes back to queued (the lifecycle's `requeue`); one
 * still queued is only given its new due time, and is no longer scheduled (nor can be cancelled).
 */
export async function requeueDeliveries(
  db: D1Database,
  ids: string[],
  now: Date,
  nextAttemptAt: number,
  metrics?: AnalyticsEngineDataset,
): Promise<void> {
  if (ids.length === 0) return
  const nowSeconds = epochSeconds(now)
  const changes = ids.map((id) =>
    statusChange(db, { kind: 'requeue', deliveryId: id, at: now, nextAttemptAt, nowSeconds }),
  )
  const results = await db.batch(
    changes.flatMap((change, i) => [
      ...change.statements,
      db
        .prepare(
          `UPDATE deliveries SET next_attempt_at = ?2, updated_at = ?3, scheduled_for = NULL
           WHERE id = ?1 AND status = 'queued'`,
        )
        .bind(ids[i], nextAttemptAt, now.toISOString()),
    ]),
  )
  let offset = 0
  for (const change of changes) {
    writeStatusChangePoint(metrics, change, results.slice(offset))
    offset += change.statements.length + 1
  }
}

/**
 * Deletes the `limit` oldest messages created before `cutoff`, whatever their deliveries' state,
 * with everything of theirs (deliveries, timelines), in one transaction and one round trip;
 * returns how many messages went. D1's webhook events and index rows go by the same cutoff. Each
 * statement names the same page of messages, walking `messages_created` from the oldest: the
 * messages are deleted last, so the page does not change under the statements before. Their
 * Idempotency-Keys are free again afterwards (decisions.md D33).
 */
export async function deleteMessagesBefore(
  db: D1Database,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const page = {
    withSql: `WITH page AS (
      SELECT id FROM messages WHERE created_at < ?1 ORDER BY created_at, id LIMIT ?2)`,
    params: [cutoff.toISOString(), limit],
  }
  const inPage = (sql: string) => db.prepare(`${page.withSql} ${sql}`).bind(...page.params)
  const results = await db.batch([
    inPage(`DELETE FROM index_outbox WHERE message_id IN (SELECT id FROM page)`),
    deleteDeliveryEventsOfMessages(db, page),
    inPage(`DELETE FROM deliveries WHERE message_id IN (SELECT id FROM page)`),
    inPage(`DELETE FROM messages WHERE id IN (SELECT id FROM page)`),
  ])
  return results.at(-1)!.meta.changes
}
