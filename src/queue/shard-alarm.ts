// What a send shard's alarm does (decisions.md D32), in the shard, on the shard's own database:
// - hands its outboxes on: webhook events to D1 (those an endpoint wants) and the webhook queue,
//   its new and changed messages to D1's admin index, and its changed hours of the overview
//   (decisions.md D42) to D1's, each a page a statement;
// - takes up what a crash stranded: deliveries never enqueued, or whose consumer died holding
//   the lease (src/queue/sweeper.ts), and receipts that waited for their message sid;
// - gives pushes not acknowledged in time their fallback SMS, and enqueues it (decisions.md D46);
// - asks the SMS API about SMS whose receipts were lost (src/queue/sms-reconciler.ts), and applies
//   the receipts the sandbox gave its SMS once due (src/storage/sandbox-receipts.ts);
// - purges messages past MESSAGE_RETENTION_DAYS (decisions.md D33), and hours the overview no
//   longer shows.
// Then it says when it must run again: a second later while an outbox holds more (at once while a
// whole page waits), at most every OVERVIEW_EVERY_MS for the overview's hours, when the first
// scheduled delivery is due (decisions.md D44) or the first push's acknowledgement (D46), every
// GRACE_SECONDS while a delivery is on its way, every few minutes while an SMS awaits its
// receipt, hourly while messages wait for their purge, and never once the shard is empty.
import type { SmsNotifier } from '../channels/sms.ts'
import { log } from '../log.ts'
import { applyWaitingReceipts, deleteExpiredEarlyReceipts } from '../storage/early-receipts.ts'
import { upsertIndexRows, type IndexedMessage } from '../storage/message-index.ts'
import { OUTBOX_EVERY_MS } from '../storage/shard-database.ts'
import { applyDueSandboxReceipts } from '../storage/sandbox-receipts.ts'
import { fallBackUnacknowledged } from '../storage/fallbacks.ts'
import { deleteMessagesBefore, MESSAGE_STATUS_SQL } from '../storage/messages.ts'
import {
  deleteOverviewHoursBefore,
  markHoursHanded,
  OVERVIEW_KEPT_DAYS,
  readPendingHours,
  writeShardHours,
} from '../storage/overview-hours.ts'
import {
  deleteFromWebhookOutbox,
  insertWebhookEvents,
  publishWebhookEvents,
  readWebhookOutbox,
} from '../storage/webhooks.ts'
import { reconcileStaleSms, RECONCILE_MAX_AGE_HOURS } from './sms-reconciler.ts'
import { GRACE_SECONDS, sweepOverdueDeliveries } from './sweeper.ts'
import type { DispatchJob } from './job.ts'

/** Rows of an outbox handed on by one statement: 100 messages' index rows, 100 webhook events. */
export const OUTBOX_PAGE = 100
/** Pages of each outbox one run hands on before it lets the shard's calls in again. */
const OUTBOX_PAGES = 10
/**
 * The overview's hours go to D1 at most this often: they change with every message, and the
 * overview is read by people (decisions.md D42). A busy shard writes them once per 10 s, not once
 * per run.
 */
export const OVERVIEW_EVERY_MS = 10_000
/** Messages deleted a run: the rest wait for the next. */
const PURGE_PAGE = 100
const PURGE_PAGES = 10

const SECOND_MS = 1000
const DAY_MS = 24 * 60 * 60 * SECOND_MS
/** While an SMS awaits its receipt: how often the lost ones are looked for. */
const RECONCILE_EVERY_MS = 5 * 60 * SECOND_MS
/** While messages are kept: how often the purge looks for old ones. */
const PURGE_EVERY_MS = 60 * 60 * SECOND_MS
/** After a part failed (D1 or the queue unavailable): when to try again. */
const RETRY_MS = 30 * SECOND_MS

export type ShardAlarmDeps = {
  /** The shard's own database. */
  shard: D1Database
  /** The shard's name (domain/admission.ts sendShardName), which dispatch jobs carry. */
  name: string
  db: D1Database
  /** The dispatch queue of a delivery's job, by its id (decisions.md D49). */
  dispatch: (deliveryId: string) => Queue
  webhooks: Queue
  metrics?: AnalyticsEngineDataset
  /** The SMS channel, or undefined when it is off (no SMS is then asked about). */
  sms: Pick<SmsNotifier, 'fetchStatus'> | undefined
  /** MESSAGE_RETENTION_DAYS, read when the purge runs (a malformed value fails the purge alone). */
  retentionDays: () => number
  /** What the shard remembers between runs (lost with its instance: the next run hands on). */
  memory: ShardAlarmMemory
  now: Date
}

/** When the alarm last handed the overview's hours to D1 (epoch ms; 0: not since it started). */
export type ShardAlarmMemory = { overviewHandedAt: number }

/** What handing the outboxes on needs. */
export type HandOverDeps = Pick<ShardAlarmDeps, 'shard' | 'name' | 'db' | 'webhooks' | 'now'>

/** Runs the alarm's work; returns when to run again (epoch ms), or null. Never throws. */
export async function tendSendShard(deps: ShardAlarmDeps): Promise<number | null> {
  const { now } = deps
  const parts = {
    webhookEvents: () => handOverWebhookEvents(deps),
    indexRows: () => handOverIndexRows(deps),
    overviewHours: () => handOverOverviewHoursWhenDue(deps),
    fellBack: () => enqueueFallbacks(deps),
    requeued: () => sweepOverdueDeliveries(deps, deps.dispatch, now, deps.metrics),
    earlyReceipts: async () =>
      (await applyWaitingReceipts(deps)) + (await deleteExpiredEarlyReceipts(deps.shard, now)),
    sandboxReceipts: () => applyDueSandboxReceipts(deps),
    smsReconciled: () => reconcileStaleSms(deps),
    purged: () => purge(deps),
  }
  const counts: Record<string, number | string> = {}
  let failed = false
  for (const [name, part] of Object.entries(parts)) {
    try {
      counts[name] = await part()
    } catch (cause) {
      failed = true
      counts[name] = String(cause)
    }
  }
  if (failed) log('error', 'send shard alarm', { shard: deps.name, ...counts })
  const next = await nextRun(deps, counts)
  return failed ? Math.min(next ?? Infinity, now.getTime() + RETRY_MS) : next
}

/**
 * Webhook events an endpoint wants go to D1 and the webhook queue; the rest are dropped, with no D1
 * statement when the shard's copy of the endpoints says none wants them. Returns how many were
 * handed on.
 */
export async function handOverWebhookEvents({
  shard,
  db,
  webhooks,
}: HandOverDeps): Promise<number> {
  let handed = 0
  for (let page = 0; page < OUTBOX_PAGES; page++) {
    const read = await readWebhookOutbox(shard, OUTBOX_PAGE)
    if (read.length === 0) break
    const events = read.flatMap(({ event, wanted }) => (wanted ? [event] : []))
    const inserted = await insertWebhookEvents(db, events)
    // Once D1 holds them, an event not enqueued now is the webhook sweeper's.
    await publishWebhookEvents(webhooks, inserted)
    await deleteFromWebhookOutbox(
      shard,
      read.map(({ event }) => event.id),
    )
    handed += inserted.length
    if (read.length < OUTBOX_PAGE) break
  }
  return handed
}

/** New and changed messages' rows of the admin index, a page a statement; how many. */
export async function handOverIndexRows({ shard, db, name, now }: HandOverDeps): Promise<number> {
  let written = 0
  for (let page = 0; page < OUTBOX_PAGES; page++) {
    const { results } = await shard
      .prepare(
        `SELECT o.seq, m.id, CAST(m.provider_id AS TEXT) AS provider_id, m.destination,
           m.created_at, (SELECT ${MESSAGE_STATUS_SQL} FROM deliveries
             WHERE message_id = m.id AND fallback_delivery_id IS NULL)
             AS status
         FROM index_outbox AS o LEFT JOIN messages AS m ON m.id = o.message_id
         ORDER BY o.seq LIMIT ?1`,
      )
      .bind(OUTBOX_PAGE)
      .all<{
        seq: number
        id: string | null
        provider_id: string
        destination: string
        created_at: string
        status: string
      }>()
    if (results.length === 0) break
    const rows: IndexedMessage[] = results.flatMap((r) =>
      r.id === null
        ? [] // purged or deleted since it was marked
        : [
            {
              id: r.id,
              providerId: r.provider_id,
              shard: name,
              destination: r.destination,
              status: r.status,
              createdAt: r.created_at,
            },
          ],
    )
    await upsertIndexRows(db, rows, now)
    // Only the marks read: a change since marked its message again, under a later seq.
    await shard
      .prepare(`DELETE FROM index_outbox WHERE seq IN (SELECT value FROM json_each(?1))`)
      .bind(JSON.stringify(results.map((r) => r.seq)))
      .run()
    written += rows.length
    if (results.length < OUTBOX_PAGE) break
  }
  return written
}

/** The shard's overview hours counted since they were last handed to D1, a page a statement. */
export async function handOverOverviewHours({ shard, db, name }: HandOverDeps): Promise<number> {
  // The provider is in the shard's name (domain/admission.ts sendShardName): provider:<id>[:<k>].
  const providerId = name.split(':')[1] ?? ''
  let written = 0
  for (let page = 0; page < OUTBOX_PAGES; page++) {
    const rows = await readPendingHours(shard, OUTBOX_PAGE)
    if (rows.length === 0) break
    await writeShardHours(db, { providerId, shard: name }, rows)
    await markHoursHanded(shard, rows)
    written += rows.length
    if (rows.length < OUTBOX_PAGE) break
  }
  return written
}

/** The overview's hours, when OVERVIEW_EVERY_MS has passed since they last went to D1. */
async function handOverOverviewHoursWhenDue(deps: ShardAlarmDeps): Promise<number> {
  const { memory, now } = deps
  if (now.getTime() < memory.overviewHandedAt + OVERVIEW_EVERY_MS) return 0
  const written = await handOverOverviewHours(deps)
  if (written > 0) memory.overviewHandedAt = now.getTime()
  return written
}

/**
 * Pushes not acknowledged by their due time fall back to SMS (decisions.md D46): each gets its SMS
 * delivery once, enqueued at once. Should the enqueue fail, the sweep takes them up as it does
 * any delivery the queue never received. Returns how many fell back.
 */
async function enqueueFallbacks({ shard, name, dispatch, now }: ShardAlarmDeps) {
  const created = await fallBackUnacknowledged(shard, now, OUTBOX_PAGE)
  if (created.length > 0) {
    await dispatch(created[0]!).sendBatch(
      created.map((deliveryId) => ({
        body: { deliveryId, shard: name } satisfies DispatchJob,
        contentType: 'json' as const,
      })),
    )
  }
  return created.length
}

async function purge({ shard, retentionDays, now }: ShardAlarmDeps): Promise<number> {
  await deleteOverviewHoursBefore(shard, new Date(now.getTime() - OVERVIEW_KEPT_DAYS * DAY_MS), {
    handedOnly: true,
  })
  const cutoff = new Date(now.getTime() - retentionDays() * DAY_MS)
  let purged = 0
  for (let page = 0; page < PURGE_PAGES; page++) {
    const deleted = await deleteMessagesBefore(shard, cutoff, PURGE_PAGE)
    purged += deleted
    if (deleted < PURGE_PAGE) break
  }
  return purged
}

/** When the shard needs its alarm again, from what it holds now. */
async function nextRun(
  { shard, memory, now }: ShardAlarmDeps,
  counts: Record<string, number | string>,
): Promise<number | null> {
  const at = now.getTime()
  const row = await shard
    .prepare(
      `SELECT
         EXISTS (SELECT 1 FROM webhook_outbox) OR EXISTS (SELECT 1 FROM index_outbox) AS outbox,
         (SELECT COUNT(*) FROM (SELECT 1 FROM webhook_outbox LIMIT ?2)) = ?2
           OR (SELECT COUNT(*) FROM (SELECT 1 FROM index_outbox LIMIT ?2)) = ?2 AS page_waits,
         EXISTS (SELECT 1 FROM overview_hours WHERE pending = 1) AS hours,
         EXISTS (SELECT 1 FROM deliveries
           WHERE status IN ('queued', 'sending') AND scheduled_for IS NULL) AS moving,
         EXISTS (SELECT 1 FROM deliveries
           WHERE status = 'sent' AND channel IN ('sms', 'whatsapp') AND sent_at >= ?1) AS awaiting,
         EXISTS (SELECT 1 FROM early_receipts) AS receipts,
         EXISTS (SELECT 1 FROM messages) AS kept,
         (SELECT MIN(due_at) FROM sandbox_receipts) AS sandbox_due,
         (SELECT MIN(next_attempt_at) FROM deliveries
           WHERE status = 'queued' AND scheduled_for IS NOT NULL) AS scheduled_due,
         (SELECT MIN(fallback_due) FROM deliveries
           WHERE status = 'sent' AND fallback_due IS NOT NULL AND fallback_delivery_id IS NULL)
           AS fallback_due`,
    )
    .bind(new Date(at - RECONCILE_MAX_AGE_HOURS * 60 * 60 * SECOND_MS).toISOString(), OUTBOX_PAGE)
    .first<
      Record<
        'outbox' | 'page_waits' | 'hours' | 'moving' | 'awaiting' | 'receipts' | 'kept',
        number
      > &
        Record<'sandbox_due' | 'scheduled_due' | 'fallback_due', number | null>
    >()
  if (!row) return null
  const purgeLeft = counts.purged === PURGE_PAGE * PURGE_PAGES
  if (row.page_waits || purgeLeft) return at
  // A sandbox receipt is applied, a scheduled delivery enqueued and an unacknowledged push
  // fallen back when due, however soon; what the outboxes hold goes on within a second.
  const times = [row.sandbox_due, row.scheduled_due, row.fallback_due]
    .flatMap((due) => (due === null ? [] : [Math.max(at, due * SECOND_MS)]))
    .concat(row.outbox ? [at + OUTBOX_EVERY_MS] : [])
    .concat(row.hours ? [Math.max(at, memory.overviewHandedAt + OVERVIEW_EVERY_MS)] : [])
    .concat(nextWatch(row, at) ?? [])
  return times.length === 0 ? null : Math.min(...times)
}

/** When the shard's deliveries, receipts and messages need watching again. */
function nextWatch(
  row: Record<'moving' | 'awaiting' | 'receipts' | 'kept', number>,
  at: number,
): number | null {
  if (row.moving) return at + GRACE_SECONDS * SECOND_MS
  if (row.awaiting || row.receipts) return at + RECONCILE_EVERY_MS
  return row.kept ? at + PURGE_EVERY_MS : null
}
