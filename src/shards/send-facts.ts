// A send shard's copy of its provider's send facts (decisions.md D48): the D1 rows /Services and
// the dispatch consumer check a message against, kept under D1's table names (src/shards/schema.ts)
// so that the storage modules' reads run on it unchanged. D1 stays their authority: the copy is
// brought up to date from D1's log of changes (src/storage/send-facts.ts), or copied whole when it
// is new, too far behind, or the provider's number of shards changed.
import { destinationRoute, shardIndexFor, shardOfName } from '../domain/admission.ts'
import {
  FACT_TABLES,
  readChangedRows,
  readFactChanges,
  readFactSnapshot,
  readRecipientPage,
  RECIPIENT_PAGE,
  textIds,
  type FactRow,
  type FactTable,
} from '../storage/send-facts.ts'

/** A check never reads facts older than this: a shard whose copy is older brings it up first. */
export const FACTS_MAX_AGE_SECONDS = 60
/** The alarm brings a copy older than this up to date, so that a busy shard's checks never wait. */
export const FACTS_REFRESH_SECONDS = 15
/**
 * D1 keeps its log of changes this long (src/index.ts purges it); a copy last brought up to date
 * longer ago than this less an hour is copied whole instead.
 */
export const FACT_CHANGES_KEPT_SECONDS = 24 * 3600
/** Changes applied per D1 read; a shard further behind reads again. */
const CHANGES_PER_READ = 500

export type FactsState = { cursor: number; syncedAt: number; shards: number }

export function readFactsState(sql: SqlStorage): FactsState | null {
  const [row] = sql
    .exec<{ cursor: number; synced_at: number; shards: number }>(
      'SELECT cursor, synced_at, shards FROM facts_state',
    )
    .toArray()
  return row ? { cursor: row.cursor, syncedAt: row.synced_at, shards: row.shards } : null
}

/** How old the copy is, in seconds; Infinity when there is none. */
export function factsAge(sql: SqlStorage, seconds: number): number {
  const state = readFactsState(sql)
  return state ? seconds - state.syncedAt : Infinity
}

/** Brings the shard `name`'s copy up to date from D1: a few reads, one transaction each. */
export async function syncSendFacts(
  db: D1Database,
  storage: DurableObjectStorage,
  name: string,
  seconds: number,
): Promise<void> {
  const { sql } = storage
  const { providerId, index } = shardOfName(name)
  const state = readFactsState(sql)
  if (!state || seconds - state.syncedAt > FACT_CHANGES_KEPT_SECONDS - 3600) {
    return copyWhole(db, storage, providerId, index, seconds)
  }
  let cursor = state.cursor
  for (;;) {
    const changes = await readFactChanges(db, providerId, cursor, CHANGES_PER_READ)
    const changed = changes.length > 0 ? await readChangedRows(db, providerId, changes) : []
    const provider = changed.find((c) => c.table === 'providers')
    if (provider && shardsOf(provider.rows[0]) !== state.shards) {
      return copyWhole(db, storage, providerId, index, seconds)
    }
    cursor = changes.at(-1)?.seq ?? cursor
    storage.transactionSync(() => {
      for (const { table, keys, rows } of changed) {
        forgetKeys(sql, table, keys)
        insertRows(sql, table, keep(table, rows, index, state.shards))
      }
      sql.exec('UPDATE facts_state SET cursor = ?, synced_at = ?', cursor, seconds)
    })
    if (changes.length < CHANGES_PER_READ) return
  }
}

/** Copies everything again: the provider's rows as of one position of the log, then that position. */
async function copyWhole(
  db: D1Database,
  storage: DurableObjectStorage,
  providerId: string,
  index: number | null,
  seconds: number,
): Promise<void> {
  const { sql } = storage
  const snapshot = await readFactSnapshot(db, providerId)
  const shards = shardsOf(snapshot.rows.providers[0])
  storage.transactionSync(() => {
    sql.exec('DELETE FROM facts_state')
    for (const table of FACT_TABLES) {
      sql.exec(`DELETE FROM ${table}`)
      insertRows(sql, table, keep(table, snapshot.rows[table], index, shards))
    }
  })
  // The directory's further pages: rows changed since the snapshot's position are read as they are
  // now, and read again when the log's changes are applied, which is the same.
  let page = snapshot.rows.recipients
  while (page.length === RECIPIENT_PAGE) {
    page = await readRecipientPage(db, providerId, String(page.at(-1)!.user_id))
    const rows = keep('recipients', page, index, shards)
    storage.transactionSync(() => insertRows(sql, 'recipients', rows))
  }
  sql.exec(
    'INSERT INTO facts_state (id, cursor, synced_at, shards) VALUES (1, ?, ?, ?)',
    snapshot.cursor,
    seconds,
    shards,
  )
}

function shardsOf(provider: FactRow | undefined): number {
  return typeof provider?.send_shards === 'number' ? provider.send_shards : 1
}

/**
 * The rows this shard keeps: all of them, but of several shards' recipients, the first shard keeps
 * all and each other those routed to it and those who opted out of SMS (their phone is suppressed
 * whichever route reaches it).
 */
function keep(table: FactTable, rows: FactRow[], index: number | null, shards: number): FactRow[] {
  if (table !== 'recipients' || index === null || shards <= 1) return rows
  return rows.filter(
    (row) =>
      row.sms_opt_out === 1 ||
      shardIndexFor(destinationRoute(String(row.user_id)), shards) === index,
  )
}

// The copy's rows a change's key names (src/storage/send-facts.ts KEY_COLUMN).
const KEY_WHERE: Record<FactTable, string> = {
  providers: '1',
  services: 'CAST(id AS TEXT) IN (SELECT value FROM json_each(?))',
  subscriptions: 'CAST(service_id AS TEXT) IN (SELECT value FROM json_each(?))',
  recipients: 'user_id IN (SELECT value FROM json_each(?))',
  suppressions: 'phone IN (SELECT value FROM json_each(?))',
  webhook_endpoints: 'id IN (SELECT value FROM json_each(?))',
}

function forgetKeys(sql: SqlStorage, table: FactTable, keys: string[]): void {
  const where = KEY_WHERE[table]
  if (where === '1') sql.exec(`DELETE FROM ${table}`)
  else sql.exec(`DELETE FROM ${table} WHERE ${where}`, JSON.stringify(keys))
}

/** Inserts D1's rows, with the columns the copy has (a column a D1 migration adds waits for one here). */
function insertRows(sql: SqlStorage, table: FactTable, rows: FactRow[]): void {
  if (rows.length === 0) return
  const columns = new Set(
    sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`).toArray(),
  )
  const names = [...columns].map((c) => c.name)
  const statement = `INSERT OR REPLACE INTO ${table} (${names.join(', ')})
    VALUES (${names.map(() => '?').join(', ')})`
  for (const row of rows) {
    const values = textIds(row)
    sql.exec(statement, ...names.map((name) => (values[name] ?? null) as SqlStorageValue))
  }
}

/** Forgets the copy: the provider was deleted. */
export function forgetSendFacts(sql: SqlStorage): void {
  sql.exec('DELETE FROM facts_state')
  for (const table of FACT_TABLES) sql.exec(`DELETE FROM ${table}`)
}
