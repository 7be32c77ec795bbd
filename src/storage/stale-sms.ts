// SMS deliveries still `sent` long after sending: their receipts were lost (the Worker was down
// when the SMS API posted them, and it posts each once), so the scheduled job reads their status
// from the API (decisions.md D27). `next_attempt_at`, unused once a delivery is sent, holds when
// to ask next, so a message the API keeps at `sent` does not take every run's turn. Only the
// primary route's SMS: the secondary's API has no such read (decisions.md D45).
import { epochSeconds } from '../utils/time.ts'

/** A delivery to ask the SMS API about. */
export type StaleSms = {
  id: string
  providerId: string
  address: string
  providerMessageId: string
}

type StaleSmsRow = {
  id: string
  provider_id: string | number
  address: string
  provider_message_id: string
}

/**
 * SMS deliveries `sent` between `sentAfter` and `sentBefore` that are due a check at `now`, the
 * longest waiting first. The index on (status, next_attempt_at) serves it.
 */
export async function findStaleSentSms(
  db: D1Database,
  {
    now,
    sentBefore,
    sentAfter,
    limit,
  }: { now: Date; sentBefore: Date; sentAfter: Date; limit: number },
): Promise<StaleSms[]> {
  const { results } = await db
    .prepare(
      `SELECT id, provider_id, address, provider_message_id FROM deliveries
       WHERE status = 'sent' AND next_attempt_at <= ?1 AND channel IN ('sms', 'whatsapp')
         AND sandbox = 0 AND route IS NOT 'secondary'
         AND provider_message_id IS NOT NULL AND sent_at <= ?2 AND sent_at >= ?3
       ORDER BY next_attempt_at LIMIT ?4`,
    )
    .bind(epochSeconds(now), sentBefore.toISOString(), sentAfter.toISOString(), limit)
    .all<StaleSmsRow>()
  return results.map((row) => ({
    id: row.id,
    providerId: String(row.provider_id),
    address: row.address,
    providerMessageId: row.provider_message_id,
  }))
}

/** Asks about these deliveries again at `nextCheckAt` (epoch s), if they are still `sent`. */
export async function postponeStatusChecks(
  db: D1Database,
  ids: string[],
  nextCheckAt: number,
): Promise<void> {
  if (ids.length === 0) return
  const update = db.prepare(
    `UPDATE deliveries SET next_attempt_at = ?2 WHERE id = ?1 AND status = 'sent'`,
  )
  await db.batch(ids.map((id) => update.bind(id, nextCheckAt)))
}
