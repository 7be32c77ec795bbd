// The early_receipts table and how a receipt reaches its delivery (decisions.md D27): a status
// callback that names a MessageSid no delivery has yet (it raced the send's answer, or the consumer
// stopped before recording it) is kept, and applied when a delivery gets that sid.
import type { DeliveryReceipt } from '../channel.ts'
import { firstRow } from './batch.ts'
import {
  changeDeliveryStatus,
  statusChange,
  writeStatusChangePoint,
  type LifecycleDeps,
} from './delivery-lifecycle.ts'
import type { Delivery } from './messages.ts'
import { recordSmsApiOptOut } from './suppressions.ts'
import { epochSeconds } from '../utils/time.ts'

/**
 * How long a receipt waits for its sid: longer than a stranded delivery takes to be recovered,
 * its unknown outcomes retried with backoff included (docs/sending.md "Delivery receipts").
 */
export const EARLY_RECEIPT_SECONDS = 24 * 60 * 60
/**
 * At most this many wait at once, whatever arrives: only signed callbacks of this deployment's
 * account get here, and a sid that never appears is purged at expiry, but a leaked auth token
 * must not be able to fill the database. A few hundred bytes a row: a few MB at most.
 */
export const MAX_EARLY_RECEIPTS = 10_000

type Final = Exclude<DeliveryReceipt['outcome'], 'progress'>

type EarlyReceiptRow = {
  message_sid: string
  status: Final
  api_status: string
  error_code: string | null
  reason: string | null
  opted_out: number
}

function toReceipt(row: EarlyReceiptRow): DeliveryReceipt {
  return {
    messageSid: row.message_sid,
    outcome: row.status,
    apiStatus: row.api_status,
    errorCode: row.error_code,
    reason: row.reason,
    optedOut: row.opted_out === 1,
  }
}

const RECEIPT_COLUMNS = 'message_sid, status, api_status, error_code, reason, opted_out'

/**
 * Keeps a final receipt unless an SMS delivery already has its sid, the sid already has one (the
 * first final status wins, as on a delivery) or MAX_EARLY_RECEIPTS wait already. For the batch
 * that also looks the delivery up: D1 runs a batch as one transaction, so a consumer recording the
 * sid either committed before it (the delivery is found) or commits after (and finds the receipt).
 */
export function keepEarlyReceipt(
  db: D1Database,
  receipt: DeliveryReceipt & { outcome: Final },
  now: Date,
  max = MAX_EARLY_RECEIPTS,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO early_receipts (message_sid, status, api_status, error_code, reason, opted_out,
         received_at, expires_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
       WHERE NOT EXISTS (
           SELECT 1 FROM deliveries
           WHERE provider_message_id = ?1 AND channel IN ('sms', 'whatsapp'))
         AND (SELECT count(*) FROM early_receipts) < ?9
       ON CONFLICT (message_sid) DO NOTHING`,
    )
    .bind(
      receipt.messageSid,
      receipt.outcome,
      receipt.apiStatus,
      receipt.errorCode,
      receipt.reason,
      receipt.optedOut ? 1 : 0,
      now.toISOString(),
      epochSeconds(now) + EARLY_RECEIPT_SECONDS,
      max,
    )
}

/** The receipt waiting for `sid`, if any, as a statement for the caller's batch. */
export function selectEarlyReceipt(db: D1Database, sid: string): D1PreparedStatement {
  return db
    .prepare(`SELECT ${RECEIPT_COLUMNS} FROM early_receipts WHERE message_sid = ?1`)
    .bind(sid)
}

export function readEarlyReceipt(result: D1Result | undefined): DeliveryReceipt | null {
  return firstRow(result, toReceipt)
}

/** What applying a receipt needs to know of its delivery. */
export type ReceiptTarget = Pick<Delivery, 'id' | 'providerId' | 'address'>

/** The delivery's send shard, and D1, where a STOP reported by a receipt suppresses the number. */
export type ReceiptDeps = LifecycleDeps & { db: D1Database; now: Date }

/**
 * Applies a receipt to its delivery through the lifecycle (a final status is never left, so a
 * replay changes nothing), with `also` in the same batch, and as the consumer does for error
 * 21610 at send time, suppresses the number. True when the delivery moved.
 */
export async function applyReceipt(
  deps: ReceiptDeps,
  delivery: ReceiptTarget,
  receipt: DeliveryReceipt,
  also: D1PreparedStatement[] = [],
): Promise<boolean> {
  if (receipt.outcome === 'progress') {
    if (also.length > 0) await deps.shard.batch(also)
    return false
  }
  const change = { deliveryId: delivery.id, at: deps.now }
  const applied = await changeDeliveryStatus(
    deps,
    receipt.outcome === 'delivered'
      ? { ...change, kind: 'delivered' }
      : {
          ...change,
          kind: receipt.outcome,
          error: receipt.reason ?? `SMS provider reported the message ${receipt.outcome}`,
          errorCode: receipt.errorCode,
        },
    also,
  )
  // No SMS goes to the number again, from any provider, until its START (docs/sending.md "Suppression
  // list").
  if (applied && receipt.optedOut) {
    await recordSmsApiOptOut(deps.db, delivery.providerId, delivery.address)
  }
  return applied
}

export function deleteEarlyReceipt(db: D1Database, sid: string): D1PreparedStatement {
  return db.prepare('DELETE FROM early_receipts WHERE message_sid = ?1').bind(sid)
}

/**
 * Records the channel's id of a sent delivery (the lifecycle's `sent`) and, in the same batch,
 * reads the receipt that was waiting for it; a waiting receipt is then applied and deleted in one
 * more batch. Should the Worker stop between the two, applyWaitingReceipts (the scheduled job)
 * applies it. True when the delivery moved to sent.
 */
export async function markDeliverySent(
  deps: ReceiptDeps,
  delivery: ReceiptTarget,
  providerMessageId: string,
): Promise<boolean> {
  const sent = statusChange(deps.shard, {
    kind: 'sent',
    deliveryId: delivery.id,
    at: deps.now,
    providerMessageId,
  })
  const results = await deps.shard.batch([
    ...sent.statements,
    selectEarlyReceipt(deps.shard, providerMessageId),
  ])
  writeStatusChangePoint(deps.metrics, sent, results)
  const applied = results[0]!.meta.changes > 0
  const waiting = readEarlyReceipt(results[sent.statements.length])
  if (applied && waiting) {
    await applyReceipt(deps, delivery, waiting, [deleteEarlyReceipt(deps.shard, providerMessageId)])
  }
  return applied
}

/**
 * Applies the receipts whose sid a delivery has by now (one stranded between markDeliverySent's
 * two batches), at most `limit`, and deletes them. Returns how many were applied or dropped.
 */
export async function applyWaitingReceipts(deps: ReceiptDeps, limit = 100): Promise<number> {
  const { results } = await deps.shard
    .prepare(
      `SELECT ${RECEIPT_COLUMNS.split(', ')
        .map((c) => `e.${c}`)
        .join(', ')},
         d.id AS delivery_id, CAST(d.provider_id AS TEXT) AS provider_id, d.address
       FROM early_receipts AS e
       JOIN deliveries AS d
         ON d.provider_message_id = e.message_sid AND d.channel IN ('sms', 'whatsapp')
       LIMIT ?1`,
    )
    .bind(limit)
    .all<EarlyReceiptRow & { delivery_id: string; provider_id: string; address: string }>()
  for (const row of results) {
    const target = { id: row.delivery_id, providerId: row.provider_id, address: row.address }
    await applyReceipt(deps, target, toReceipt(row), [
      deleteEarlyReceipt(deps.shard, row.message_sid),
    ])
  }
  return results.length
}

/** Drops the receipts whose sid never appeared in time; how many. */
export async function deleteExpiredEarlyReceipts(db: D1Database, now: Date): Promise<number> {
  const result = await db
    .prepare('DELETE FROM early_receipts WHERE expires_at < ?1')
    .bind(epochSeconds(now))
    .run()
  return result.meta.changes
}
