// Message retention (decisions.md D33), D1's part: the five-minute run deletes the admin index
// rows and the webhook events (with their deliveries and attempts) of messages older than
// MESSAGE_RETENTION_DAYS, a page at a time and a bounded number of pages a run, so no D1 statement
// runs long and the single-threaded database keeps answering between pages. The messages
// themselves leave their send shards by the shards' alarms (src/queue/shard-alarm.ts).
import { log } from '../log.ts'
import { deleteIndexRowsBefore } from '../storage/message-index.ts'
import { deleteWebhookEventsBefore } from '../storage/webhooks.ts'
import { epochSeconds } from '../utils/time.ts'

/** Rows per page: one statement deletes 100 index rows, one transaction 100 webhook events. */
export const PURGE_PAGE_SIZE = 100
/** Pages per run: at most 5,000 messages every five minutes, 1.44 million a day. */
export const PURGE_MAX_PAGES = 50

export type PurgeBounds = { pageSize: number; maxPages: number }

/**
 * Deletes the index rows and webhook events of messages created before `cutoff`, oldest first,
 * page by page until none is left or `maxPages` pages of each went; returns how many rows. When
 * the bound stops it with more to go, the rest waits for the next run, and a warning says the
 * deployment accepts more than the purge keeps up with.
 */
export async function purgeMessagesBefore(
  db: D1Database,
  cutoff: Date,
  { pageSize, maxPages }: PurgeBounds = { pageSize: PURGE_PAGE_SIZE, maxPages: PURGE_MAX_PAGES },
): Promise<number> {
  let purged = 0
  let left = { index: true, events: true }
  for (let page = 0; page < maxPages && (left.index || left.events); page++) {
    const [index, events] = await Promise.all([
      left.index ? deleteIndexRowsBefore(db, cutoff, pageSize) : 0,
      left.events ? deleteWebhookEventsBefore(db, epochSeconds(cutoff), pageSize) : 0,
    ])
    purged += index + events
    left = { index: index === pageSize, events: events === pageSize }
  }
  if (!left.index && !left.events) return purged
  log('warn', 'message purge stopped at its bound; older messages wait for the next run', {
    purged,
    cutoff: cutoff.toISOString(),
  })
  return purged
}
