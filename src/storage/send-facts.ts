// The send facts as D1 holds them (decisions.md D48): the rows of providers, services,
// subscriptions, recipients and suppressions that /Services and the dispatch consumer check a
// message against, and what the provider's webhook endpoints want, read for a send shard's copy,
// and the log of their changes (migrations/0036_send_facts.sql, 0037) that the shard follows. Rows
// are read whole (`SELECT *`), so a column a migration adds travels with them, except the webhook
// endpoints' (their URLs and secrets stay in D1); int64 provider ids are read as text
// (decisions.md D11).

export const FACT_TABLES = [
  'providers',
  'services',
  'subscriptions',
  'recipients',
  'suppressions',
  'webhook_endpoints',
] as const
export type FactTable = (typeof FACT_TABLES)[number]

/** A D1 row, as the shard's copy of its table takes it. */
export type FactRow = Record<string, unknown>

/** One change of the log: which table and which row of it (fact_changes' comment says the keys). */
export type FactChange = { seq: number; tbl: FactTable; key: string }

/** Recipients are read a page at a time: a directory may be large. */
export const RECIPIENT_PAGE = 1000

// Each table's rows of provider ?1, the int64 columns also as text (`id_text`, `provider_id_text`:
// what the copy stores, see textIds).
const OF_PROVIDER: Record<FactTable, string> = {
  providers: 'SELECT *, CAST(id AS TEXT) AS id_text FROM providers WHERE id = CAST(?1 AS INTEGER)',
  services: 'SELECT * FROM services WHERE ?1 IS NOT NULL',
  subscriptions: `SELECT *, CAST(provider_id AS TEXT) AS provider_id_text FROM subscriptions
    WHERE provider_id = CAST(?1 AS INTEGER)`,
  recipients: `SELECT *, CAST(provider_id AS TEXT) AS provider_id_text FROM recipients
    WHERE provider_id = CAST(?1 AS INTEGER)`,
  suppressions: `SELECT *, CAST(provider_id AS TEXT) AS provider_id_text FROM suppressions
    WHERE provider_id IN (CAST(?1 AS INTEGER), 0)`,
  webhook_endpoints: `SELECT id, CAST(provider_id AS TEXT) AS provider_id_text, event_types, status
    FROM webhook_endpoints WHERE provider_id = CAST(?1 AS INTEGER)`,
}

// The column a change's key names, per table.
const KEY_COLUMN: Record<FactTable, string | null> = {
  providers: null,
  services: 'CAST(id AS TEXT)',
  subscriptions: 'CAST(service_id AS TEXT)',
  recipients: 'user_id',
  suppressions: 'phone',
  webhook_endpoints: 'id',
}

/** A row with its int64 columns as the text D1 gave them, for the copy to store exactly. */
export function textIds(row: FactRow): FactRow {
  const { id_text: id, provider_id_text: providerId, ...rest } = row
  return {
    ...rest,
    ...(id !== undefined ? { id } : {}),
    ...(providerId !== undefined ? { provider_id: providerId } : {}),
  }
}

/** Everything a shard copies of its provider, with the log's position it is current at. */
export type FactSnapshot = { cursor: number; rows: Record<FactTable, FactRow[]> }

/**
 * The provider's rows of every table but the recipients, its first page of recipients, and the
 * log's last position, in one batch: one transaction, so the rows are those of that position.
 */
export async function readFactSnapshot(db: D1Database, providerId: string): Promise<FactSnapshot> {
  const statements = [
    db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM fact_changes'),
    ...FACT_TABLES.map((table) =>
      db
        .prepare(
          table === 'recipients'
            ? `${OF_PROVIDER[table]} ORDER BY user_id LIMIT ${RECIPIENT_PAGE}`
            : OF_PROVIDER[table],
        )
        .bind(providerId),
    ),
  ]
  const [head, ...results] = await db.batch<FactRow>(statements)
  const rows = Object.fromEntries(
    FACT_TABLES.map((table, i) => [table, results[i]!.results]),
  ) as Record<FactTable, FactRow[]>
  return { cursor: (head!.results[0] as { seq: number }).seq, rows }
}

/** The provider's recipients after `afterUserId`, by user id. */
export async function readRecipientPage(
  db: D1Database,
  providerId: string,
  afterUserId: string,
): Promise<FactRow[]> {
  const { results } = await db
    .prepare(`${OF_PROVIDER.recipients} AND user_id > ?2 ORDER BY user_id LIMIT ${RECIPIENT_PAGE}`)
    .bind(providerId, afterUserId)
    .all<FactRow>()
  return results
}

/** The changes after `cursor` that concern the provider or every provider, oldest first. */
export async function readFactChanges(
  db: D1Database,
  providerId: string,
  cursor: number,
  limit: number,
): Promise<FactChange[]> {
  const { results } = await db
    .prepare(
      `SELECT seq, tbl, key FROM fact_changes
       WHERE provider_id IN (CAST(?1 AS INTEGER), 0) AND seq > ?2 ORDER BY seq LIMIT ?3`,
    )
    .bind(providerId, cursor, limit)
    .all<FactChange>()
  return results
}

/** What the changes named, as D1 holds it now, in one batch: per table, the keys and their rows. */
export async function readChangedRows(
  db: D1Database,
  providerId: string,
  changes: FactChange[],
): Promise<{ table: FactTable; keys: string[]; rows: FactRow[] }[]> {
  const byTable = Map.groupBy(changes, (change) => change.tbl)
  const tables = FACT_TABLES.filter((table) => byTable.has(table))
  if (tables.length === 0) return []
  const keysOf = (table: FactTable) => [...new Set(byTable.get(table)!.map((c) => c.key))]
  const results = await db.batch<FactRow>(
    tables.map((table) => {
      const column = KEY_COLUMN[table]
      if (!column) return db.prepare(OF_PROVIDER[table]).bind(providerId)
      const sql = `${OF_PROVIDER[table]} AND ${column} IN (SELECT value FROM json_each(?2))`
      return db.prepare(sql).bind(providerId, JSON.stringify(keysOf(table)))
    }),
  )
  return tables.map((table, i) => ({ table, keys: keysOf(table), rows: results[i]!.results }))
}

/** Forgets changes every shard has had time to follow; a shard further behind copies all again. */
export async function purgeFactChanges(db: D1Database, before: Date): Promise<number> {
  const result = await db
    .prepare('DELETE FROM fact_changes WHERE changed_at < ?1')
    .bind(Math.floor(before.getTime() / 1000))
    .run()
  return result.meta.changes
}

/** The log's last position: what a request's changes will come after. */
export async function readFactCursor(db: D1Database): Promise<number> {
  const row = await db
    .prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM fact_changes')
    .first<{ seq: number }>()
  return row!.seq
}

/**
 * The providers the changes after `cursor` concern, with their number of send shards: a
 * provider's own changes; of a service's, the providers subscribed to it; of a suppression of
 * every provider, every provider with an active subscription (no other can send).
 */
export async function findProvidersChangedAfter(
  db: D1Database,
  cursor: number,
): Promise<{ id: string; sendShards: number }[]> {
  const { results } = await db
    .prepare(
      `WITH changed AS (SELECT provider_id, tbl, key FROM fact_changes WHERE seq > ?1)
       SELECT CAST(id AS TEXT) AS id, send_shards FROM providers
       WHERE id IN (SELECT provider_id FROM changed WHERE provider_id != 0)
         OR id IN (SELECT s.provider_id FROM subscriptions AS s JOIN changed AS c
           ON c.provider_id = 0 AND c.tbl = 'services' AND s.service_id = CAST(c.key AS INTEGER))
         OR (EXISTS (SELECT 1 FROM changed WHERE provider_id = 0 AND tbl = 'suppressions')
           AND id IN (SELECT provider_id FROM subscriptions WHERE status = 'active'))`,
    )
    .bind(cursor)
    .all<{ id: string; send_shards: number }>()
  return results.map((r) => ({ id: r.id, sendShards: r.send_shards }))
}
