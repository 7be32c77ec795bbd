// Delivery receipts (decisions.md D27): a channel's report of what became of a sent delivery,
// applied through the delivery lifecycle. The caller has already proved where the report came
// from (the SMS API's signature, src/http/sms-callback.ts).
import type { DeliveryReceipt } from '../channel.ts'
import { notFound } from '../errors.ts'
import { log } from '../log.ts'
import type { DeliveryStatus } from '../storage/delivery-lifecycle.ts'
import {
  applyReceipt,
  keepEarlyReceipt,
  readEarlyReceipt,
  selectEarlyReceipt,
  type ReceiptDeps as ApplyDeps,
} from '../storage/early-receipts.ts'
import { selectSmsDeliveryBySid } from '../storage/messages.ts'

/** `shard`: the send shard the status-callback URL names, where the SMS's delivery lives. */
export type ReceiptDeps = ApplyDeps & {
  /** How many receipts may wait for their sid at once (MAX_EARLY_RECEIPTS unless a test says). */
  maxWaiting?: number
}

/**
 * `applied`: the delivery moved to the receipt's status. `unchanged`: the receipt was a step on
 * the way (queued, sending, sent), a replay, or arrived after a later status: nothing changed.
 * `pending`: no delivery has the sid yet; a final status is kept and applied when one does
 * (`status` is then null).
 */
export type ReceiptResult =
  | { outcome: 'applied' | 'unchanged'; status: DeliveryStatus }
  | { outcome: 'pending'; status: null }

/**
 * Applies a status callback to the SMS delivery it names. When none has that MessageSid yet (the
 * callback raced the send's answer, or the consumer stopped before recording it), a final status
 * is kept for EARLY_RECEIPT_SECONDS and applied once the sid is recorded, in the batch that looks
 * the delivery up. Throws 404 `not_found` only when it could not be kept (too many wait already).
 * A receipt never moves a delivery backwards or out of a final status
 * (src/storage/delivery-lifecycle.ts), so replays and late receipts change nothing.
 */
export async function recordSmsReceipt(
  deps: ReceiptDeps,
  receipt: DeliveryReceipt,
): Promise<ReceiptResult> {
  const { shard } = deps
  const find = selectSmsDeliveryBySid(shard, receipt.messageSid)
  const keep =
    receipt.outcome === 'progress'
      ? []
      : [
          keepEarlyReceipt(
            shard,
            { ...receipt, outcome: receipt.outcome },
            deps.now,
            deps.maxWaiting,
          ),
          selectEarlyReceipt(shard, receipt.messageSid),
        ]
  // The delivery is looked up after the keep, in the same transaction: either finds what the other
  // misses.
  const results = await shard.batch([...keep, ...find.statements])
  const delivery = find.read(results.slice(keep.length))
  if (!delivery) {
    if (receipt.outcome === 'progress' || readEarlyReceipt(results[1])) {
      return { outcome: 'pending', status: null }
    }
    log('warn', 'SMS receipt dropped: too many receipts wait for their message sid', {
      messageSid: receipt.messageSid,
    })
    throw notFound(
      `No SMS delivery has the message sid ${receipt.messageSid}, and no more receipts can ` +
        `wait for one now.`,
    )
  }
  const unchanged = { outcome: 'unchanged', status: delivery.status } as const
  const applied = await applyReceipt(deps, delivery, receipt)
  return applied ? { outcome: 'applied', status: receipt.outcome as DeliveryStatus } : unchanged
}
