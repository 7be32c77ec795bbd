// Fallback between channels (decisions.md D46): a push that failed for good, or was not
// acknowledged in time, gets an SMS delivery of the same part to the recipient's phone. `db` is
// the send shard (src/storage/shard-database.ts). The push keeps the status it ended with; the
// SMS starts its own lifecycle at `queued`, and the consumer's claim applies the send policy to it
// as to any SMS (a suppressed number is withheld, decisions.md D28).
import { queuedDeliveryEvents } from './delivery-lifecycle.ts'
import { deliveryEventStatement, newWebhookEventId } from './webhooks.ts'

/** The other pushes of the same part (`p`): one per device of the recipient. */
const SIBLINGS = `SELECT 1 FROM deliveries AS o
  WHERE o.message_id = p.message_id AND o.part = p.part AND o.channel = 'fcm' AND o.id <> p.id`

/** Why a push falls back. */
export type FallbackCause = 'failed' | 'unacknowledged'

const BECAUSE: Record<FallbackCause, string> = {
  failed: 'the push failed for good',
  unacknowledged: 'the push was not acknowledged in time',
}

/**
 * The statements that create a push's fallback SMS delivery, for one batch (after the change that
 * failed the push, when it failed): the SMS row, its `queued` timeline row, the push's `fell_back`
 * timeline row (its own status, error code `fell_back`), the index mark and the
 * `message.fell_back` webhook event. A part falls back once, whichever of its pushes (one per
 * device) causes it, and only when none of them reached a device: on failure, once every push of
 * the part failed; unacknowledged, unless one of them was acknowledged. The first statement writes
 * `fallback_delivery_id` on every push of the part, only while it is empty, and everything after
 * is guarded on it (and the unique `fallback_of`), so a second run, whoever makes it, creates
 * nothing; the last stops the alarm asking again about a push that may not fall back. `smsId` is
 * the new delivery's id and `webhookEventId` its event's, if they were created.
 */
export function fallBackStatements(
  db: D1Database,
  pushId: string,
  cause: FallbackCause,
  at: Date,
): { smsId: string; webhookEventId: string; statements: D1PreparedStatement[] } {
  const smsId = crypto.randomUUID()
  const webhookEventId = newWebhookEventId()
  const eventId = crypto.randomUUID()
  const iso = at.toISOString()
  const nowSeconds = Math.floor(at.getTime() / 1000)
  const detail = `fell back to SMS delivery ${smsId}: ${BECAUSE[cause]}`
  const statements = [
    db
      .prepare(
        `UPDATE deliveries SET fallback_delivery_id = ?2, updated_at = ?3
         WHERE channel = 'fcm' AND fallback_delivery_id IS NULL AND (message_id, part) = (
           SELECT message_id, part FROM deliveries AS p
           WHERE id = ?1 AND fallback_address IS NOT NULL AND fallback_delivery_id IS NULL
             AND CASE ?5
               WHEN 'failed' THEN status = 'failed' AND NOT EXISTS (${SIBLINGS}
                 AND o.status NOT IN ('failed', 'dead'))
               ELSE status = 'sent' AND fallback_due <= ?4 AND NOT EXISTS (${SIBLINGS}
                 AND o.status = 'delivered')
             END)`,
      )
      .bind(pushId, smsId, iso, nowSeconds, cause),
    db
      .prepare(
        `INSERT INTO deliveries (id, message_id, provider_id, part, channel, address, title, body,
           link, next_attempt_at, picture_url, created_at, updated_at, queued_at, sandbox,
           fallback_of)
         SELECT ?2, message_id, provider_id, part, 'sms', fallback_address, title, body, link, ?4,
           picture_url, ?3, ?3, ?3, sandbox, id
         FROM deliveries WHERE id = ?1 AND fallback_delivery_id = ?2`,
      )
      .bind(pushId, smsId, iso, nowSeconds),
    db
      .prepare(
        `INSERT INTO delivery_events (id, delivery_id, message_id, provider_id, status, occurred_at,
           attempt, error_code, detail)
         SELECT ?3, id, message_id, provider_id, status, ?4, attempts, 'fell_back', ?5
         FROM deliveries WHERE id = ?1 AND fallback_delivery_id = ?2`,
      )
      .bind(pushId, smsId, eventId, iso, detail),
    ...queuedDeliveryEvents(db, smsId, iso),
    db
      .prepare(
        `UPDATE deliveries SET fallback_due = NULL
         WHERE id = ?1 AND fallback_delivery_id IS NULL AND fallback_due <= ?2`,
      )
      .bind(pushId, nowSeconds),
    deliveryEventStatement(db, {
      id: webhookEventId,
      changeId: eventId,
      deliveryId: pushId,
      type: 'message.fell_back',
      occurredAt: at,
      errorCode: null,
      reason: BECAUSE[cause],
    }),
  ]
  return { smsId, webhookEventId, statements }
}

/**
 * Falls back the pushes sent but not acknowledged by their due time (at most `limit`, oldest due
 * first), in one batch; returns the ids of the SMS deliveries created, for the caller to enqueue.
 */
export async function fallBackUnacknowledged(
  db: D1Database,
  now: Date,
  limit: number,
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT id FROM deliveries
       WHERE status = 'sent' AND fallback_due <= ?1 AND fallback_delivery_id IS NULL
       ORDER BY fallback_due LIMIT ?2`,
    )
    .bind(Math.floor(now.getTime() / 1000), limit)
    .all<{ id: string }>()
  if (results.length === 0) return []
  const each = results.map(({ id }) => fallBackStatements(db, id, 'unacknowledged', now))
  const done = await db.batch(each.flatMap((f) => f.statements))
  const size = each[0]!.statements.length
  return each.flatMap((f, i) => (done[i * size + 1]!.meta.changes > 0 ? [f.smsId] : []))
}
