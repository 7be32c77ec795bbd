// D1's index of every provider's messages (decisions.md D32): where each lives and what the admin
// search filters on. The messages themselves are in their providers' send shards; each shard's
// alarm writes the rows of its new and changed messages here, many a statement.

/** A message as the index knows it. */
export type IndexedMessage = {
  id: string
  providerId: string
  /** The name of the send shard that holds it (domain/admission.ts sendShardName). */
  shard: string
  destination: string
  /** The message's one status when its row was last written. */
  status: string
  createdAt: string
}

type IndexRow = {
  id: string
  provider_id: string
  shard: string
  destination: string
  status: string
  created_at: string
}

export type MessageFilter = {
  providerId?: string
  /** Exactly as sent: a recipient's user id or an E.164 number. */
  destination?: string
  /** The message's one status (src/domain/dispatch.ts messageStatus). */
  status?: string
  /** ISO 8601 instants with milliseconds and Z, inclusive, compared with `created_at`. */
  since?: string
  until?: string
}

/** Where a page of messages ends: the last one's `created_at` and id. */
export type MessageKey = [createdAt: string, id: string]

/**
 * Writes the rows of some messages in one statement, a new row or a changed status. A row written
 * out of order (an older status arriving after a newer one) cannot happen: a shard writes one
 * message's row from one alarm at a time, reading its status as it is then.
 */
export async function upsertIndexRows(
  db: D1Database,
  rows: IndexedMessage[],
  now: Date,
): Promise<void> {
  if (rows.length === 0) return
  await db
    .prepare(
      `INSERT INTO message_index (id, provider_id, shard, destination, status, created_at,
         updated_at)
       SELECT r.value ->> '$.id', CAST(r.value ->> '$.providerId' AS INTEGER),
         r.value ->> '$.shard', r.value ->> '$.destination', r.value ->> '$.status',
         r.value ->> '$.createdAt', ?2
       FROM json_each(?1) AS r WHERE true
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at`,
    )
    .bind(JSON.stringify(rows), now.toISOString())
    .run()
}

/**
 * A page of messages of any provider, newest first (by `created_at`, then id), after `before`:
 * one statement. Only the filters given become conditions, so that each can use its index.
 */
export async function listIndexedMessages(
  db: D1Database,
  filter: MessageFilter,
  { before, limit }: { before?: MessageKey; limit: number },
): Promise<IndexedMessage[]> {
  const values: unknown[] = []
  /** The placeholder of `value`, bound in order. */
  const bind = (value: unknown) => `?${values.push(value)}`
  const conditions: string[] = []
  if (filter.providerId !== undefined) {
    conditions.push(`provider_id = CAST(${bind(filter.providerId)} AS INTEGER)`)
  }
  if (filter.destination !== undefined) conditions.push(`destination = ${bind(filter.destination)}`)
  if (filter.since !== undefined) conditions.push(`created_at >= ${bind(filter.since)}`)
  if (filter.until !== undefined) conditions.push(`created_at <= ${bind(filter.until)}`)
  if (before !== undefined) {
    conditions.push(`(created_at, id) < (${bind(before[0])}, ${bind(before[1])})`)
  }
  if (filter.status !== undefined) conditions.push(`status = ${bind(filter.status)}`)
  const { results } = await db
    .prepare(
      `SELECT id, CAST(provider_id AS TEXT) AS provider_id, shard, destination, status, created_at
       FROM message_index
       ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ${bind(limit)}`,
    )
    .bind(...values)
    .all<IndexRow>()
  return results.map((row) => ({
    id: row.id,
    providerId: row.provider_id,
    shard: row.shard,
    destination: row.destination,
    status: row.status,
    createdAt: row.created_at,
  }))
}

/** Deletes up to `limit` of the oldest rows created before `cutoff`; returns how many went. */
export async function deleteIndexRowsBefore(
  db: D1Database,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM message_index WHERE id IN (
         SELECT id FROM message_index WHERE created_at < ?1 ORDER BY created_at, id LIMIT ?2)`,
    )
    .bind(cutoff.toISOString(), limit)
    .run()
  return result.meta.changes
}
