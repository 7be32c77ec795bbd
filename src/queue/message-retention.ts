// Message retention (decisions.md D33): the five-minute run deletes messages older than
// MESSAGE_RETENTION_DAYS, with everything of theirs, a page at a time and a bounded number of
// pages a run, so no D1 statement runs long and the single-threaded database keeps answering
// between pages.
import { log } from '../log.ts'
import { deleteMessagesBefore } from '../storage/messages.ts'

/**
 * Messages per page: one transaction deletes them with their deliveries, timelines and webhook
 * events, about 1,500 rows for 100 typical messages.
 */
export const PURGE_PAGE_SIZE = 100
/** Pages per run: at most 5,000 messages every five minutes, 1.44 million a day. */
export const PURGE_MAX_PAGES = 50

export type PurgeBounds = { pageSize: number; maxPages: number }

/**
 * Deletes messages created before `cutoff`, oldest first, page by page until none is left or
 * `maxPages` pages went; returns how many. When the bound stops it with more to go, the rest waits
 * for the next run, and a warning says the deployment accepts more than the purge keeps up with.
 */
export async function purgeMessagesBefore(
  db: D1Database,
  cutoff: Date,
  { pageSize, maxPages }: PurgeBounds = { pageSize: PURGE_PAGE_SIZE, maxPages: PURGE_MAX_PAGES },
): Promise<number> {
  let purged = 0
  for (let page = 0; page < maxPages; page++) {
    const deleted = await deleteMessagesBefore(db, cutoff, pageSize)
    purged += deleted
    if (deleted < pageSize) return purged
  }
  log('warn', 'message purge stopped at its bound; older messages wait for the next run', {
    purged,
    cutoff: cutoff.toISOString(),
  })
  return purged
}
