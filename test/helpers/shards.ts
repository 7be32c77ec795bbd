// A provider's send shard seen from a test: what it counted, and counts put in place.
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { sendShardName } from '../../src/domain/admission.ts'

/** A provider's first send shard, or one of several. */
export const shardOf = (providerId: string, index: number | null = null) =>
  env.SEND_SHARDS.getByName(sendShardName(providerId, index))

/** How many messages the provider's shard counted in its current windows, per span. */
export function shardCounters(
  providerId: string,
  index: number | null = null,
): Promise<Record<string, number>> {
  return runInDurableObject(shardOf(providerId, index), (_, state) => {
    const rows = state.storage.sql
      .exec<{ span: string; n: number }>(
        'SELECT span, SUM(count) AS n FROM send_counters GROUP BY span',
      )
      .toArray()
    return Object.fromEntries(rows.map((r) => [r.span, r.n]))
  })
}

/** The destinations the provider's shard counts per hour: each counter's subject. */
export function shardDestinations(providerId: string): Promise<string[]> {
  return runInDurableObject(shardOf(providerId), (_, state) =>
    state.storage.sql
      .exec<{ subject: string }>(
        "SELECT subject FROM send_counters WHERE span = 'destination_hour' ORDER BY subject",
      )
      .toArray()
      .map((r) => r.subject),
  )
}

/** Sets a counter of the provider's shard, as if `count` messages had been accepted. */
export function setShardCounter(
  providerId: string,
  counter: { span: 'minute' | 'day' | 'destination_hour'; subject?: string; startsAt: number },
  count: number,
): Promise<void> {
  return runInDurableObject(shardOf(providerId), (_, state) => {
    state.storage.sql.exec(
      `INSERT INTO send_counters (span, subject, starts_at, count) VALUES (?, ?, ?, ?)
       ON CONFLICT (span, subject) DO UPDATE SET starts_at = excluded.starts_at,
         count = excluded.count`,
      counter.span,
      counter.subject ?? '',
      counter.startsAt,
      count,
    )
  })
}
