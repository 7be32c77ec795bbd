// The receipts the sandbox gives its SMS (docs/sending.md "Sandbox"): kept in the send shard when
// the consumer records the send, and applied by the shard's alarm once due, through the same
// lifecycle as the SMS API's receipts (src/storage/early-receipts.ts applyReceipt).
import type { DeliveryReceipt } from '../channel.ts'
import { applyReceipt, type ReceiptDeps } from './early-receipts.ts'
import { epochSeconds } from '../utils/time.ts'

export type SandboxReceiptPlan = {
  outcome: 'delivered' | 'undelivered' | 'failed'
  apiStatus: string
  errorCode: string | null
  reason: string | null
}

/** Keeps the receipt of the SMS the sandbox accepted as `sid`, due at `dueAt` (epoch s). */
export async function scheduleSandboxReceipt(
  shard: D1Database,
  sid: string,
  receipt: SandboxReceiptPlan,
  dueAt: number,
): Promise<void> {
  await shard
    .prepare(
      `INSERT INTO sandbox_receipts (message_sid, status, api_status, error_code, reason, due_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING`,
    )
    .bind(sid, receipt.outcome, receipt.apiStatus, receipt.errorCode, receipt.reason, dueAt)
    .run()
}

type DueRow = {
  message_sid: string
  status: SandboxReceiptPlan['outcome']
  api_status: string
  error_code: string | null
  reason: string | null
  delivery_id: string | null
  provider_id: string | null
  address: string | null
}

/**
 * Applies the sandbox receipts due at `now` (at most `limit`) to their deliveries and forgets them;
 * one whose delivery no longer has its sid (sent again after a crash, or purged) is forgotten.
 * Returns how many were due.
 */
export async function applyDueSandboxReceipts(deps: ReceiptDeps, limit = 100): Promise<number> {
  const { results } = await deps.shard
    .prepare(
      `SELECT r.message_sid, r.status, r.api_status, r.error_code, r.reason,
         d.id AS delivery_id, CAST(d.provider_id AS TEXT) AS provider_id, d.address
       FROM sandbox_receipts AS r
       LEFT JOIN deliveries AS d
         ON d.provider_message_id = r.message_sid AND d.channel IN ('sms', 'whatsapp')
       WHERE r.due_at <= ?1 ORDER BY r.due_at LIMIT ?2`,
    )
    .bind(epochSeconds(deps.now), limit)
    .all<DueRow>()
  for (const row of results) {
    const forget = deps.shard
      .prepare('DELETE FROM sandbox_receipts WHERE message_sid = ?1')
      .bind(row.message_sid)
    if (row.delivery_id === null) {
      await deps.shard.batch([forget])
      continue
    }
    const receipt: DeliveryReceipt = {
      messageSid: row.message_sid,
      outcome: row.status,
      apiStatus: row.api_status,
      errorCode: row.error_code,
      reason: row.reason,
      optedOut: false,
    }
    const target = { id: row.delivery_id, providerId: row.provider_id!, address: row.address! }
    await applyReceipt(deps, target, receipt, [forget])
  }
  return results.length
}
