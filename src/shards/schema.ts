// The send shard's SQLite schema (decisions.md D32), applied in order when a shard starts: each
// entry runs once, in one transaction with the version it brings. Like migrations/, an entry that
// has shipped is never edited; a change is a new entry.
const MIGRATIONS: readonly string[] = [
  `-- Accepted /Services messages counted per fixed window (docs/sending.md "Send quotas"): one row per span
   -- (and per destination for the hourly span), restarted when a later window begins.
   -- span: 'minute' | 'day' | 'destination_hour'; subject: the destination's phone number or user
   -- id for 'destination_hour', '' otherwise; starts_at: the window's start in epoch seconds.
   CREATE TABLE send_counters (
     span TEXT NOT NULL CHECK (span IN ('minute', 'day', 'destination_hour')),
     subject TEXT NOT NULL DEFAULT '',
     starts_at INTEGER NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (span, subject)
   ) WITHOUT ROWID;
   CREATE INDEX send_counters_starts_at ON send_counters (starts_at);

   -- Idempotency-Keys admitted in the last day, with the request they were admitted for: a key's
   -- retries are counted once, and a key reused with another body is refused.
   CREATE TABLE idempotency_keys (
     key TEXT PRIMARY KEY,
     request_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);`,

  `-- One of several shards of a provider: the blocks of the provider-wide minute and day quotas
   -- its first shard granted it for the current window, and how many it has admitted of them.
   CREATE TABLE allowances (
     span TEXT PRIMARY KEY CHECK (span IN ('minute', 'day')),
     starts_at INTEGER NOT NULL,
     granted INTEGER NOT NULL,
     used INTEGER NOT NULL
   ) WITHOUT ROWID;`,
]

/** Brings a shard's schema up to date; runs before the shard takes its first call. */
export function migrateSendShard(storage: DurableObjectStorage): void {
  const { sql } = storage
  storage.transactionSync(() => {
    sql.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
    const [row] = sql.exec<{ version: number }>('SELECT version FROM schema_version').toArray()
    const applied = row?.version ?? 0
    if (applied >= MIGRATIONS.length) return
    for (const migration of MIGRATIONS.slice(applied)) sql.exec(migration)
    sql.exec('DELETE FROM schema_version')
    sql.exec('INSERT INTO schema_version (version) VALUES (?)', MIGRATIONS.length)
  })
}
