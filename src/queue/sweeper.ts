// The outbox sweeper (decisions.md D10): deliveries written to D1 but not handed to the queue (the
// Worker failed between the two), or whose consumer died holding the lease, are enqueued again. The
// consumer's claim makes a second copy in the queue harmless. It runs every minute.
import { findOverdueDeliveries, requeueDeliveries } from '../storage/messages.ts'
import type { DispatchJob } from './job.ts'
import { epochSeconds } from '../utils/time.ts'

/** wrangler.toml's cron trigger of the sweeper: every minute, so a crash costs about one. */
export const RECOVERY_CRON = '* * * * *'
/** wrangler.toml's cron trigger of the rest of the scheduled clean-up (src/index.ts). */
export const CLEAN_UP_CRON = '*/5 * * * *'
/**
 * How late past its due time a queued delivery must be before the sweeper steps in: the queue
 * itself delivers a delayed retry about on time. A sending one is overdue once its lease ran out.
 */
export const GRACE_SECONDS = 60
const BATCH = 100 // Queues' sendBatch limit

/** Returns how many deliveries were enqueued again. */
export async function sweepOverdueDeliveries(
  db: D1Database,
  queue: Queue,
  now: Date,
  metrics?: AnalyticsEngineDataset,
): Promise<number> {
  const ids = await findOverdueDeliveries(db, now, GRACE_SECONDS, BATCH)
  if (ids.length === 0) return 0
  await queue.sendBatch(
    ids.map((deliveryId) => ({ body: { deliveryId } satisfies DispatchJob, contentType: 'json' })),
  )
  await requeueDeliveries(db, ids, now, epochSeconds(now), metrics)
  return ids.length
}
