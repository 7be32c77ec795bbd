// The webhook outbox sweeper (decisions.md D26): events written with the change that caused them
// but never handed to the queue (the Worker stopped between the batch and the enqueue), and
// deliveries whose queue message was lost or whose consumer died, are enqueued again. The
// consumer's claims make a second copy harmless.
import { takeOverdueWebhookDeliveries, takeStrandedWebhookEvents } from '../storage/webhooks.ts'
import { epochSeconds } from '../utils/time.ts'
import type { WebhookDeliveryJob, WebhookFanOutJob } from './webhook-job.ts'

/** How late an event or a delivery must be before the sweeper steps in. */
export const WEBHOOK_GRACE_SECONDS = 5 * 60
const BATCH = 100 // Queues' sendBatch limit

/** Returns how many events and deliveries were enqueued again. */
export async function sweepWebhookOutbox(db: D1Database, queue: Queue, now: Date): Promise<number> {
  const at = epochSeconds(now)
  const cutoff = at - WEBHOOK_GRACE_SECONDS
  const [events, deliveries] = await Promise.all([
    takeStrandedWebhookEvents(db, cutoff, at, BATCH),
    takeOverdueWebhookDeliveries(db, cutoff, at, BATCH),
  ])
  const jobs = [
    ...events.map((eventId) => ({ eventId }) satisfies WebhookFanOutJob),
    ...deliveries.map((d) => d satisfies WebhookDeliveryJob),
  ]
  for (let i = 0; i < jobs.length; i += BATCH) {
    await queue.sendBatch(
      jobs.slice(i, i + BATCH).map((body) => ({ body, contentType: 'json' as const })),
    )
  }
  return jobs.length
}
