// The overview's hourly counts (decisions.md D42), kept as events happen: each send shard counts
// its messages' acceptances and status changes in its own overview_hours (src/shards/schema.ts),
// in the transaction of the change; its alarm hands the changed rows to D1's overview_hours
// (migrations/0030_overview_hours.sql), a page a statement. Tokens issued and failed logins are
// counted there by a trigger as the audit consumer inserts their rows, in the same statement.
// GET /admin/overview reads only those rows.
import type { DeliveryStatus } from '../channel.ts'

const HOUR_SECONDS = 3600

/** How many days of hours are kept: the longest range shown (a week), and a day to spare. */
export const OVERVIEW_KEPT_DAYS = 8

/**
 * The upper bounds (seconds) of the acceptance-to-delivered latency buckets: bucket i holds the
 * latencies over bound i − 1 and up to bound i; the last bucket, LATENCY_BOUNDS.length, the rest.
 * Never change a bound: stored buckets are read by their index.
 */
export const LATENCY_BOUNDS = [1, 2, 3, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600] as const

/** The delivery statuses counted when a delivery reaches them. */
export const COUNTED_STATUSES = ['sent', 'delivered', 'undelivered', 'failed', 'dead'] as const

export type OverviewMetric =
  | 'accepted'
  | (typeof COUNTED_STATUSES)[number]
  | 'error'
  | 'latency'
  | 'tokens_issued'
  | 'failed_logins'

/** One hour's count of one metric (and key: an error code, a latency bucket, else ''). */
export type HourCount = { hour: number; metric: OverviewMetric; key: string; count: number }

/** The start of the hour of `at`, in epoch seconds. */
export function hourOf(at: Date | string): number {
  const ms = typeof at === 'string' ? Date.parse(at) : at.getTime()
  return Math.floor(ms / 1000 / HOUR_SECONDS) * HOUR_SECONDS
}

const ADD_ONE = 'ON CONFLICT (hour, metric, key) DO UPDATE SET count = count + 1, pending = 1'

/** In a send shard, for the batch that inserts a message: counts it accepted, if it was. */
export function countAcceptance(db: D1Database, messageId: string, at: string) {
  return db
    .prepare(
      `INSERT INTO overview_hours (hour, metric, key, count)
       SELECT ?2, 'accepted', '', 1 FROM messages WHERE id = ?1 ${ADD_ONE}`,
    )
    .bind(messageId, hourOf(at))
}

/**
 * In a send shard, for the batch of a status change (src/storage/delivery-lifecycle.ts): counts
 * the status reached, its error code and, for `delivered`, the latency since acceptance, if the
 * change applied (its timeline row `eventId` was written). None for a status not counted.
 */
export function countStatusChange(
  db: D1Database,
  eventId: string,
  { status, errorCode, at }: { status: DeliveryStatus; errorCode: string | null; at: Date },
): D1PreparedStatement | null {
  if (!(COUNTED_STATUSES as readonly string[]).includes(status)) return null
  const counts: [string, string | null][] = [[status, '']]
  if (errorCode) counts.push(['error', errorCode.slice(0, 64)])
  // The bucket: how many bounds lie below the latency.
  if (status === 'delivered') counts.push(['latency', null])
  return db
    .prepare(
      `INSERT INTO overview_hours (hour, metric, key, count)
       SELECT ?2, c.value ->> 0, COALESCE(c.value ->> 1, (SELECT count(*) FROM json_each(?4) AS b
           WHERE b.value < (julianday(e.occurred_at) - julianday(d.created_at)) * 86400)), 1
       FROM delivery_events AS e JOIN deliveries AS d ON d.id = e.delivery_id, json_each(?3) AS c
       WHERE e.id = ?1 ${ADD_ONE}`,
    )
    .bind(eventId, hourOf(at), JSON.stringify(counts), JSON.stringify(LATENCY_BOUNDS))
}

/** In a send shard: up to `limit` rows changed since they were last handed to D1. */
export async function readPendingHours(shard: D1Database, limit: number): Promise<HourCount[]> {
  const { results } = await shard
    .prepare(
      `SELECT hour, metric, key, count FROM overview_hours WHERE pending = 1
       ORDER BY hour, metric, key LIMIT ?1`,
    )
    .bind(limit)
    .all<HourCount>()
  return results
}

/**
 * In a send shard: the rows handed to D1 are no longer pending, unless counted again since (their
 * count is then another, and the next run hands them again).
 */
export async function markHoursHanded(shard: D1Database, rows: HourCount[]): Promise<void> {
  await shard
    .prepare(
      `UPDATE overview_hours SET pending = 0 WHERE pending = 1 AND (hour, metric, key, count) IN
         (SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1))`,
    )
    .bind(JSON.stringify(rows.map((r) => [r.hour, r.metric, r.key, r.count])))
    .run()
}

/**
 * In D1, one statement: a send shard's rows as it counts them now, replacing what it wrote before
 * (a hand-over repeated after a failure writes the same numbers).
 */
export async function writeShardHours(
  db: D1Database,
  { providerId, shard }: { providerId: string; shard: string },
  rows: HourCount[],
): Promise<void> {
  if (rows.length === 0) return
  await db
    .prepare(
      `INSERT INTO overview_hours (hour, provider_id, source, metric, key, count)
       SELECT value ->> 0, CAST(?2 AS INTEGER), ?3, value ->> 1, value ->> 2, value ->> 3
       FROM json_each(?1) WHERE true
       ON CONFLICT (hour, provider_id, source, metric, key) DO UPDATE SET count = excluded.count`,
    )
    .bind(JSON.stringify(rows.map((r) => [r.hour, r.metric, r.key, r.count])), providerId, shard)
    .run()
}

/**
 * In D1, one statement: every metric's count per hour from `since` (epoch seconds) on, summed over
 * providers and shards (or of one provider). Its rows grow with the hours, never with messages.
 */
export async function readOverviewHours(
  db: D1Database,
  since: number,
  providerId?: string,
): Promise<HourCount[]> {
  const byProvider = providerId === undefined ? '' : 'AND provider_id = CAST(?2 AS INTEGER)'
  const { results } = await db
    .prepare(
      `SELECT hour, metric, key, SUM(count) AS count FROM overview_hours
       WHERE hour >= ?1 ${byProvider} GROUP BY hour, metric, key`,
    )
    .bind(since, ...(providerId === undefined ? [] : [providerId]))
    .all<HourCount>()
  return results
}

/**
 * Deletes the hours before `cutoff`; how many rows went. In a send shard (`handedOnly`), only those
 * already handed to D1.
 */
export async function deleteOverviewHoursBefore(
  db: D1Database,
  cutoff: Date,
  { handedOnly = false } = {},
): Promise<number> {
  const result = await db
    .prepare(`DELETE FROM overview_hours WHERE hour < ?1${handedOnly ? ' AND pending = 0' : ''}`)
    .bind(hourOf(cutoff))
    .run()
  return result.meta.changes
}
