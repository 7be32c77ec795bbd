// Deliveries whose SMS receipts never arrived (decisions.md D27): the SMS API posts each status
// callback once, so a Worker that was down when they were due left its deliveries `sent` with
// nothing to move them. Each send shard's alarm reads each such message of its own from the API
// and applies the status it reports through the delivery lifecycle, as a receipt would have.
import type { SmsNotifier } from '../channels/sms.ts'
import { readSmsStatus } from '../channels/sms-status.ts'
import { log } from '../log.ts'
import { applyReceipt, type ReceiptDeps } from '../storage/early-receipts.ts'
import { findStaleSentSms, postponeStatusChecks, type StaleSms } from '../storage/stale-sms.ts'
import { epochSeconds } from '../utils/time.ts'

/** A receipt this late is taken as lost: Twilio's arrive within seconds to minutes of the send. */
export const STALE_SENT_MINUTES = 30
/** A message the API still shows on the way is asked about again this much later. */
export const RECHECK_SECONDS = 60 * 60
/**
 * Past this the API is no longer asked: a carrier that reports no delivery leaves the message
 * `sent` at Twilio too, and so it stays here.
 */
export const RECONCILE_MAX_AGE_HOURS = 72
/** At most this many API reads a run of a shard's alarm, a few at a time. */
export const RECONCILE_BATCH = 50
const CONCURRENCY = 5

/** `shard`: the send shard whose deliveries are checked; `db`: D1, for a reported STOP. */
export type ReconcileDeps = ReceiptDeps & {
  /** The SMS channel, or undefined when it is off (nothing is then asked). */
  sms: Pick<SmsNotifier, 'fetchStatus'> | undefined
}

/** Returns how many deliveries moved to the status the SMS API reported. */
export async function reconcileStaleSms(deps: ReconcileDeps): Promise<number> {
  const { shard, sms, now } = deps
  if (!sms) return 0
  const stale = await findStaleSentSms(shard, {
    now,
    sentBefore: new Date(now.getTime() - STALE_SENT_MINUTES * 60_000),
    sentAfter: new Date(now.getTime() - RECONCILE_MAX_AGE_HOURS * 3_600_000),
    limit: RECONCILE_BATCH,
  })
  let moved = 0
  const later: string[] = []
  let stop = false
  for (let i = 0; i < stale.length && !stop; i += CONCURRENCY) {
    const outcomes = await Promise.all(stale.slice(i, i + CONCURRENCY).map((d) => check(d)))
    for (const outcome of outcomes) {
      if (outcome === 'moved') moved++
      else if (outcome === 'stop') stop = true
    }
  }
  await postponeStatusChecks(shard, later, epochSeconds(now) + RECHECK_SECONDS)
  return moved

  async function check(delivery: StaleSms): Promise<'moved' | 'later' | 'stop'> {
    const answer = await sms!.fetchStatus(delivery.providerMessageId)
    if (answer.found === 'unknown') {
      const fields = { deliveryId: delivery.id, reason: answer.reason }
      if (answer.operatorFault) {
        log('error', "SMS status check refused: the operator's channel settings", fields)
        return 'stop'
      }
      log('warn', 'SMS status check failed', fields)
      // The API is struggling: the rest wait for the next run. A refusal of this one: later.
      if (answer.retryable) return 'stop'
      later.push(delivery.id)
      return 'later'
    }
    if (answer.found === false) {
      log('warn', 'the SMS API has no message of this sid; asked again later', {
        deliveryId: delivery.id,
        messageSid: delivery.providerMessageId,
      })
      later.push(delivery.id)
      return 'later'
    }
    const receipt = readSmsStatus({
      MessageSid: delivery.providerMessageId,
      MessageStatus: answer.status,
      // Read from our own account's resource: the field only matters for callbacks.
      AccountSid: '',
      ErrorCode: answer.errorCode ?? undefined,
    })
    if (receipt.outcome === 'progress') {
      later.push(delivery.id)
      return 'later'
    }
    return (await applyReceipt(deps, delivery, receipt)) ? 'moved' : 'later'
  }
}
