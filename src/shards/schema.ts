// The send shard's SQLite schema (decisions.md D32), applied in order when a shard starts: each
// entry runs once, in one transaction with the version it brings. Like migrations/, an entry that
// has shipped is never edited; a change is a new entry.
export const MIGRATIONS: readonly string[] = [
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
  `-- Messages and their deliveries (decisions.md D10, D27, D32): the dispatch outbox of the
   -- provider's messages this shard admitted, as D1 held them before (migrations/0004_…, 0010_…,
   -- 0015_…, 0017_…, 0020_…).
   CREATE TABLE messages (
     id TEXT PRIMARY KEY,
     provider_id INTEGER NOT NULL,
     service_id INTEGER NOT NULL,
     idempotency_key TEXT,
     request_hash TEXT NOT NULL,
     destination TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE UNIQUE INDEX messages_idempotency ON messages (provider_id, idempotency_key)
     WHERE idempotency_key IS NOT NULL;
   CREATE INDEX messages_created ON messages (created_at, id);

   CREATE TABLE deliveries (
     id TEXT PRIMARY KEY,
     message_id TEXT NOT NULL REFERENCES messages (id),
     provider_id INTEGER NOT NULL,
     part TEXT NOT NULL CHECK (part IN ('notification', 'advertisement')),
     channel TEXT NOT NULL CHECK (channel IN ('sms', 'fcm')),
     address TEXT NOT NULL,
     title TEXT NOT NULL,
     body TEXT NOT NULL,
     link TEXT,
     picture_url TEXT,
     status TEXT NOT NULL DEFAULT 'queued'
       CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'dead')),
     attempts INTEGER NOT NULL DEFAULT 0,
     -- While sending: until when the consumer that claimed it holds it (epoch s).
     lease_until INTEGER,
     -- Queued: when it is due (epoch s). Sent by SMS: when to ask the SMS API about it next.
     next_attempt_at INTEGER NOT NULL,
     provider_message_id TEXT,
     last_error TEXT,
     error_code TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
     -- When the delivery first reached each step.
     queued_at TEXT,
     sending_at TEXT,
     sent_at TEXT,
     delivered_at TEXT,
     undelivered_at TEXT,
     failed_at TEXT,
     dead_at TEXT,
     -- The delivery_events row of the last status change (src/storage/delivery-lifecycle.ts).
     last_event_id TEXT,
     -- When the current attempt began, and the earliest attempt whose outcome is unknown.
     attempt_at INTEGER,
     in_doubt_since INTEGER
   );
   CREATE INDEX deliveries_message ON deliveries (message_id);
   CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
   CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id)
     WHERE provider_message_id IS NOT NULL;

   CREATE TABLE delivery_events (
     id TEXT PRIMARY KEY,
     delivery_id TEXT NOT NULL REFERENCES deliveries (id),
     message_id TEXT NOT NULL,
     provider_id INTEGER NOT NULL,
     status TEXT NOT NULL
       CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'dead')),
     occurred_at TEXT NOT NULL,
     attempt INTEGER NOT NULL DEFAULT 0,
     error_code TEXT,
     detail TEXT
   );
   CREATE INDEX delivery_events_message ON delivery_events (message_id, occurred_at);

   -- SMS receipts that arrived before their MessageSid was recorded (decisions.md D27).
   CREATE TABLE early_receipts (
     message_sid TEXT PRIMARY KEY,
     status TEXT NOT NULL CHECK (status IN ('delivered', 'undelivered', 'failed')),
     api_status TEXT NOT NULL,
     error_code TEXT,
     reason TEXT,
     opted_out INTEGER NOT NULL DEFAULT 0 CHECK (opted_out IN (0, 1)),
     received_at TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX early_receipts_expires ON early_receipts (expires_at);

   -- Webhook events of status changes, waiting for the alarm to hand them to D1's webhook_events
   -- (for the endpoints subscribed to them) and to the webhook queue.
   CREATE TABLE webhook_outbox (
     id TEXT PRIMARY KEY,
     provider_id INTEGER NOT NULL,
     type TEXT NOT NULL,
     payload TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );

   -- Messages whose row of D1's message_index the alarm is to write (new) or bring up to date. A
   -- change marks its message again under a new seq, so the alarm forgets only the marks it wrote.
   CREATE TABLE index_outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     message_id TEXT NOT NULL UNIQUE
   );`,
  `-- Sandbox messages (docs/sending.md "Sandbox"): sent to no channel, their statuses simulated.
   ALTER TABLE messages ADD COLUMN sandbox INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1));
   ALTER TABLE deliveries ADD COLUMN sandbox INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1));

   -- The receipt the sandbox gives each SMS it accepted, applied by the alarm once due.
   CREATE TABLE sandbox_receipts (
     message_sid TEXT PRIMARY KEY,
     status TEXT NOT NULL CHECK (status IN ('delivered', 'undelivered', 'failed')),
     api_status TEXT NOT NULL,
     error_code TEXT,
     reason TEXT,
     due_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX sandbox_receipts_due ON sandbox_receipts (due_at);`,

  `-- The overview's hourly counts of this shard's messages (decisions.md D42), written in the
   -- transaction of each acceptance and status change; the alarm hands the rows marked pending to
   -- D1's overview_hours (migrations/0030_overview_hours.sql, which names the metrics).
   -- hour: the hour's start in epoch seconds.
   CREATE TABLE overview_hours (
     hour INTEGER NOT NULL,
     metric TEXT NOT NULL,
     key TEXT NOT NULL DEFAULT '',
     count INTEGER NOT NULL,
     pending INTEGER NOT NULL DEFAULT 1 CHECK (pending IN (0, 1)),
     PRIMARY KEY (hour, metric, key)
   ) WITHOUT ROWID;
   CREATE INDEX overview_hours_pending ON overview_hours (hour) WHERE pending = 1;`,

  `-- Scheduled sends (decisions.md D44, docs/sending.md "Scheduled sends and quiet hours"): a
   -- queued delivery POST /Services did not enqueue, because it is due later (send_at, or the end
   -- of the recipient's quiet hours). next_attempt_at is then its due time (epoch s) and
   -- scheduled_for the same; the alarm enqueues it once due and clears scheduled_for. A scheduled
   -- delivery that is cancelled keeps it, to show when it would have gone.
   ALTER TABLE deliveries ADD COLUMN scheduled_for INTEGER;
   CREATE INDEX deliveries_scheduled ON deliveries (next_attempt_at)
     WHERE status = 'queued' AND scheduled_for IS NOT NULL;`,

  `-- The send facts (decisions.md D48): copies of the D1 rows /Services and the dispatch consumer
   -- check a message against, under D1's own table and column names, so that the storage modules'
   -- reads run here unchanged. Only this shard's provider's rows (and every service, and the
   -- suppressions of every provider); of a provider's several shards, each copies the recipients
   -- its destinations are routed to and those who opted out of SMS, and the first copies them all.
   -- facts_state: the last D1 fact_changes row applied (cursor), when the copy was last brought up
   -- to date (synced_at, epoch s), and the provider's number of shards it was copied for.
   CREATE TABLE providers (
     id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL, quota_per_minute INTEGER,
     quota_per_day INTEGER, quota_per_destination_hour INTEGER, send_shards INTEGER NOT NULL,
     sandbox INTEGER NOT NULL
   );
   CREATE TABLE services (
     id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
     required_parameters TEXT NOT NULL, allowed_channels TEXT NOT NULL, enabled INTEGER NOT NULL,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL, direct_numbers INTEGER NOT NULL,
     direct_number_country_codes TEXT, quiet_hours TEXT
   );
   CREATE TABLE subscriptions (
     provider_id INTEGER NOT NULL, service_id INTEGER NOT NULL,
     service_token TEXT NOT NULL UNIQUE, status TEXT NOT NULL, created_at TEXT NOT NULL,
     PRIMARY KEY (provider_id, service_id)
   );
   CREATE TABLE recipients (
     provider_id INTEGER NOT NULL, user_id TEXT NOT NULL, phone TEXT, fcm_tokens TEXT NOT NULL,
     sms_opt_out INTEGER NOT NULL, fcm_opt_out INTEGER NOT NULL, created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL, fcm_token_registered_at TEXT NOT NULL, fcm_token_oldest_at TEXT,
     time_zone TEXT, quiet_hours TEXT,
     PRIMARY KEY (provider_id, user_id)
   );
   CREATE INDEX recipients_sms_opt_out ON recipients (provider_id, phone) WHERE sms_opt_out = 1;
   CREATE TABLE suppressions (
     provider_id INTEGER NOT NULL, phone TEXT NOT NULL, source TEXT NOT NULL,
     created_at TEXT NOT NULL,
     PRIMARY KEY (phone, provider_id, source)
   ) WITHOUT ROWID;
   CREATE TABLE facts_state (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     cursor INTEGER NOT NULL,
     synced_at INTEGER NOT NULL,
     shards INTEGER NOT NULL
   );`,
  // WhatsApp (decisions.md D47): a third channel, and the template a WhatsApp delivery may carry
  // (content_sid, content_variables: Twilio's ContentSid and ContentVariables as JSON). SQLite
  // cannot change a CHECK constraint, so deliveries is rebuilt with every column, index and row it
  // had, in this entry's one transaction. delivery_events is rebuilt beside it, referring to the
  // new table, so that no row ever refers to a dropped one (foreign keys are enforced, and a
  // deferred violation is not undone by a rename): renaming deliveries_new renames the reference.
  `CREATE TABLE deliveries_new (
     id TEXT PRIMARY KEY,
     message_id TEXT NOT NULL REFERENCES messages (id),
     provider_id INTEGER NOT NULL,
     part TEXT NOT NULL CHECK (part IN ('notification', 'advertisement')),
     channel TEXT NOT NULL CHECK (channel IN ('sms', 'fcm', 'whatsapp')),
     address TEXT NOT NULL,
     title TEXT NOT NULL,
     body TEXT NOT NULL,
     link TEXT,
     picture_url TEXT,
     status TEXT NOT NULL DEFAULT 'queued'
       CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'dead')),
     attempts INTEGER NOT NULL DEFAULT 0,
     lease_until INTEGER,
     next_attempt_at INTEGER NOT NULL,
     provider_message_id TEXT,
     last_error TEXT,
     error_code TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
     queued_at TEXT,
     sending_at TEXT,
     sent_at TEXT,
     delivered_at TEXT,
     undelivered_at TEXT,
     failed_at TEXT,
     dead_at TEXT,
     last_event_id TEXT,
     attempt_at INTEGER,
     in_doubt_since INTEGER,
     sandbox INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1)),
     scheduled_for INTEGER,
     content_sid TEXT,
     content_variables TEXT
   );
   INSERT INTO deliveries_new (id, message_id, provider_id, part, channel, address, title, body,
     link, picture_url, status, attempts, lease_until, next_attempt_at, provider_message_id,
     last_error, error_code, created_at, updated_at, queued_at, sending_at, sent_at, delivered_at,
     undelivered_at, failed_at, dead_at, last_event_id, attempt_at, in_doubt_since, sandbox,
     scheduled_for)
   SELECT id, message_id, provider_id, part, channel, address, title, body,
     link, picture_url, status, attempts, lease_until, next_attempt_at, provider_message_id,
     last_error, error_code, created_at, updated_at, queued_at, sending_at, sent_at, delivered_at,
     undelivered_at, failed_at, dead_at, last_event_id, attempt_at, in_doubt_since, sandbox,
     scheduled_for
   FROM deliveries;
   CREATE TABLE delivery_events_new (
     id TEXT PRIMARY KEY,
     delivery_id TEXT NOT NULL REFERENCES deliveries_new (id),
     message_id TEXT NOT NULL,
     provider_id INTEGER NOT NULL,
     status TEXT NOT NULL
       CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'dead')),
     occurred_at TEXT NOT NULL,
     attempt INTEGER NOT NULL DEFAULT 0,
     error_code TEXT,
     detail TEXT
   );
   INSERT INTO delivery_events_new (id, delivery_id, message_id, provider_id, status, occurred_at,
     attempt, error_code, detail)
   SELECT id, delivery_id, message_id, provider_id, status, occurred_at, attempt, error_code, detail
   FROM delivery_events;
   DROP TABLE delivery_events;
   DROP TABLE deliveries;
   ALTER TABLE deliveries_new RENAME TO deliveries;
   ALTER TABLE delivery_events_new RENAME TO delivery_events;
   CREATE INDEX delivery_events_message ON delivery_events (message_id, occurred_at);
   CREATE INDEX deliveries_message ON deliveries (message_id);
   CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
   CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id)
     WHERE provider_message_id IS NOT NULL;
   CREATE INDEX deliveries_scheduled ON deliveries (next_attempt_at)
     WHERE status = 'queued' AND scheduled_for IS NOT NULL;`,

  `-- Fallback between channels (decisions.md D46, docs/sending.md "Fallback between channels"): a
   -- push that may fall back to SMS keeps the phone to send to (fallback_address) and, when it
   -- must be acknowledged, how many seconds after sending (fallback_after); fallback_due is then
   -- set when it is sent. fallback_delivery_id names the SMS delivery it fell back to, written
   -- once (the guard of the statement that creates it), and that delivery names its push in
   -- fallback_of, unique: a push falls back at most once.
   ALTER TABLE deliveries ADD COLUMN fallback_address TEXT;
   ALTER TABLE deliveries ADD COLUMN fallback_after INTEGER;
   ALTER TABLE deliveries ADD COLUMN fallback_due INTEGER;
   ALTER TABLE deliveries ADD COLUMN fallback_delivery_id TEXT;
   ALTER TABLE deliveries ADD COLUMN fallback_of TEXT;
   CREATE UNIQUE INDEX deliveries_fallback_of ON deliveries (fallback_of)
     WHERE fallback_of IS NOT NULL;
   CREATE INDEX deliveries_fallback_due ON deliveries (fallback_due)
     WHERE status = 'sent' AND fallback_due IS NOT NULL AND fallback_delivery_id IS NULL;`,

  `-- The send facts' copies (decisions.md D48) gain the columns D1's tables have gained: the
   -- recipients' WhatsApp opt-in and session window (migrations/0035_whatsapp_recipients.sql,
   -- decisions.md D47), the services' fallback (migrations/0034_service_fallback.sql, D46).
   ALTER TABLE recipients ADD COLUMN whatsapp_opt_in INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE recipients ADD COLUMN whatsapp_opt_in_at TEXT;
   ALTER TABLE recipients ADD COLUMN whatsapp_inbound_at TEXT;
   ALTER TABLE services ADD COLUMN fallback TEXT;
   -- A copy made before lacks their values: the next check copies everything again.
   DELETE FROM facts_state;`,
  `-- The SMS route of a delivery's attempts (decisions.md D45): NULL for the primary (every
   -- delivery before a second route existed), 'secondary' once it failed over, written before the
   -- attempt on that route goes out.
   ALTER TABLE deliveries ADD COLUMN route TEXT CHECK (route IN ('primary', 'secondary'));`,
  `-- The send facts' copies (decisions.md D48) gain the provider's webhook endpoints: what each
   -- wants and whether it is on, never its URL or secret (migrations/0037_webhook_endpoint_facts.sql).
   -- The alarm hands D1 only the webhook events one of them wants.
   CREATE TABLE webhook_endpoints (
     id TEXT PRIMARY KEY, provider_id INTEGER NOT NULL, event_types TEXT NOT NULL,
     status TEXT NOT NULL
   );
   -- A copy made before lacks them: the next check copies everything again.
   DELETE FROM facts_state;`,
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
