// A provider's send shard seen from a test: what it counted, counts put in place, its database
// (where the provider's messages live) and its alarm.
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { sendShardName } from '../../src/domain/admission.ts'
import { messageHome } from '../../src/domain/message-ids.ts'
import {
  handOverIndexRows,
  handOverOverviewHours,
  handOverWebhookEvents,
} from '../../src/queue/shard-alarm.ts'
import { shardDatabaseIn } from '../../src/storage/shard-database.ts'

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

/**
 * The database of a provider's send shard (where its messages live), through the shard's own
 * `run`, as the Worker reaches it.
 */
export const shardDb = (providerId: string, index: number | null = null): D1Database =>
  shardDatabaseIn(env.SEND_SHARDS, sendShardName(providerId, index))

/** The database of the send shard that holds a message, from the message's id. */
export function shardDbOfMessage(messageId: string): D1Database {
  const home = messageHome(messageId)
  if (!home) throw new Error(`not a message id: ${messageId}`)
  return shardDatabaseIn(env.SEND_SHARDS, home.shard)
}

/**
 * Runs the shard's alarm now, as the runtime would a little later: its outboxes are handed to
 * D1 and the queues, overdue deliveries taken up. True when an alarm was set.
 */
export function runShardAlarm(providerId: string, index: number | null = null): Promise<boolean> {
  return runDurableObjectAlarm(shardOf(providerId, index))
}

/**
 * Hands a shard's outboxes on as its alarm does (webhook events to D1 and the webhook queue, index
 * rows and the overview's changed hours to D1), without the alarm's other work (the purge, the
 * sweep).
 */
export async function handOverOutboxes(providerId: string, index: number | null = null) {
  const name = sendShardName(providerId, index)
  const deps = {
    shard: shardDatabaseIn(env.SEND_SHARDS, name),
    name,
    db: env.DB,
    webhooks: env.WEBHOOK_QUEUE,
    now: new Date(),
  }
  return {
    events: await handOverWebhookEvents(deps),
    rows: await handOverIndexRows(deps),
    hours: await handOverOverviewHours(deps),
  }
}
