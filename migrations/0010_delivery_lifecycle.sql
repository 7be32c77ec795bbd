-- Delivery lifecycle (decisions.md D27): queued → sending → sent → delivered | undelivered | failed
-- | dead. `sent` is the channel's API accepting the send; `delivered` and `undelivered` come from
-- the SMS API's status callbacks. Each step a delivery reached has its own timestamp, and every
-- status change writes a row of delivery_events (the timeline) in the same batch.
-- SQLite cannot change a CHECK constraint, so deliveries is rebuilt with every column, index and
-- row it had.
PRAGMA defer_foreign_keys = true;

CREATE TABLE deliveries_new (
  id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL REFERENCES messages (id),
  provider_id INTEGER NOT NULL,
  part TEXT NOT NULL CHECK (part IN ('notification', 'advertisement')),
  channel TEXT NOT NULL CHECK (channel IN ('sms', 'fcm')),
  address TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  link TEXT,
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER,
  next_attempt_at INTEGER NOT NULL,
  provider_message_id TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  sent_at TEXT,
  picture_url TEXT,
  -- The channel's own error code of the last failure (the SMS API's ErrorCode, e.g. 30003).
  error_code TEXT,
  -- When the delivery first reached each step (sending: its first attempt).
  queued_at TEXT,
  sending_at TEXT,
  delivered_at TEXT,
  undelivered_at TEXT,
  failed_at TEXT,
  dead_at TEXT,
  -- The delivery_events row of the last status change: the timeline insert of a change is written
  -- only if the guarded UPDATE before it in the same batch took effect (src/storage/
  -- delivery-lifecycle.ts).
  last_event_id TEXT
);

INSERT INTO deliveries_new (id, message_id, provider_id, part, channel, address, title, body, link,
  status, attempts, lease_until, next_attempt_at, provider_message_id, last_error, created_at,
  updated_at, sent_at, picture_url, queued_at, failed_at, dead_at)
SELECT id, message_id, provider_id, part, channel, address, title, body, link, status, attempts,
  lease_until, next_attempt_at, provider_message_id, last_error, created_at, updated_at, sent_at,
  picture_url, created_at,
  CASE status WHEN 'failed' THEN updated_at END,
  CASE status WHEN 'dead' THEN updated_at END
FROM deliveries;

DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;

CREATE INDEX deliveries_message ON deliveries (message_id);
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
-- A status callback names the delivery by the SMS API's MessageSid.
CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id)
  WHERE provider_message_id IS NOT NULL;

-- The timeline: one row per status change of a delivery. attempt is the delivery's attempt count
-- at the change; error_code and detail say why a delivery failed or was retried.
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
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, occurred_at);

-- The timeline of the deliveries already written: their queueing and the status they are at.
INSERT INTO delivery_events (id, delivery_id, message_id, provider_id, status, occurred_at)
SELECT lower(hex(randomblob(16))), id, message_id, provider_id, 'queued', created_at
FROM deliveries;
INSERT INTO delivery_events (id, delivery_id, message_id, provider_id, status, occurred_at,
  attempt, detail)
SELECT lower(hex(randomblob(16))), id, message_id, provider_id, status,
  COALESCE(sent_at, updated_at), attempts, last_error
FROM deliveries WHERE status <> 'queued';
