// Delivery receipts (decisions.md D27): a channel's report of what became of a sent delivery,
// applied through the delivery lifecycle. The caller has already proved where the report came
// from (the SMS API's signature, src/http/sms-callback.ts).
import type { DeliveryReceipt } from '../channel.ts'
import { notFound } from '../errors.ts'
import {
  changeDeliveryStatus,
  type DeliveryStatus,
  type LifecycleDeps,
} from '../storage/delivery-lifecycle.ts'
import { findSmsDeliveryBySid } from '../storage/messages.ts'
import { recordSmsApiOptOut } from '../storage/suppressions.ts'

export type ReceiptDeps = LifecycleDeps & { now: Date }

/**
 * `applied`: the delivery moved to the receipt's status. `unchanged`: the receipt was a step on
 * the way (queued, sending, sent), a replay, or arrived after a later status: nothing changed.
 */
export type ReceiptResult = { outcome: 'applied' | 'unchanged'; status: DeliveryStatus }

/**
 * Applies a status callback to the SMS delivery it names. Throws 404 `not_found` when no SMS
 * delivery has that MessageSid. A receipt never moves a delivery backwards or out of a final
 * status (src/storage/delivery-lifecycle.ts), so replays and late receipts change nothing.
 */
export async function recordSmsReceipt(
  deps: ReceiptDeps,
  receipt: DeliveryReceipt,
): Promise<ReceiptResult> {
  const delivery = await findSmsDeliveryBySid(deps.db, receipt.messageSid)
  if (!delivery) throw notFound(`No SMS delivery has the message sid ${receipt.messageSid}.`)
  const unchanged: ReceiptResult = { outcome: 'unchanged', status: delivery.status }
  if (receipt.outcome === 'progress') return unchanged
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
  )
  if (!applied) return unchanged
  // As the consumer does for the same error at send time: no SMS goes to the number again, from
  // any provider, until its START (README "Suppression list").
  if (receipt.optedOut) await recordSmsApiOptOut(deps.db, delivery.providerId, delivery.address)
  return { outcome: 'applied', status: receipt.outcome }
}
