// The outbox sweeper (decisions.md D10): deliveries stored but not handed to the queue (the Worker
// failed between the two), or whose consumer died holding the lease, are enqueued again. The
// consumer's claim makes a second copy in the queue harmless. Each send shard's alarm runs it over
// its own deliveries (src/queue/shard-alarm.ts) while any is on its way.
import { findOverdueDeliveries, requeueDeliveries } from '../storage/messages.ts'
import type { DispatchJob } from './job.ts'
import { epochSeconds } from '../utils/time.ts'

/**
 * How late past its due time a queued delivery must be before the sweeper steps in: the queue
 * itself delivers a delayed retry about on time. A sending one is overdue once its lease ran out.
 */
export const GRACE_SECONDS = 30
const BATCH = 100 // Queues' sendBatch limit

/** Returns how many deliveries of the shard `name` (its database `shard`) were enqueued again. */
export async function sweepOverdueDeliveries(
  { shard, name }: { shard: D1Database; name: string },
  queueOf: (deliveryId: string) => Queue,
  now: Date,
  metrics?: AnalyticsEngineDataset,
): Promise<number> {
  const ids = await findOverdueDeliveries(shard, now, GRACE_SECONDS, BATCH)
  if (ids.length === 0) return 0
  await queueOf(ids[0]!).sendBatch(
    ids.map((deliveryId) => ({
      body: { deliveryId, shard: name } satisfies DispatchJob,
      contentType: 'json',
    })),
  )
  await requeueDeliveries(shard, ids, now, epochSeconds(now), metrics)
  return ids.length
}
