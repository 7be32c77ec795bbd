-- Webhooks to providers (Standard Webhooks): the endpoints a provider registers, the events
-- outbox, each event's state per endpoint, and every attempt to deliver one (decisions.md D26).

-- A provider's receiving endpoint. event_types is a JSON array ("message.delivered", …). The
-- signing secrets are stored encrypted (AES-GCM under a key derived from SECRET_PEPPER): `secret`
-- signs every request; `previous_secret` signs too until previous_secret_until (epoch s), the
-- overlap of a rotation. failing_since is the first failed attempt since the last success.
CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  provider_id INTEGER NOT NULL REFERENCES providers (id),
  url TEXT NOT NULL,
  event_types TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
  disabled_reason TEXT,
  disabled_at TEXT,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  failing_since INTEGER,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_until INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX webhook_endpoints_provider ON webhook_endpoints (provider_id, id);

-- The outbox: one row per event, written in the same batch as the change that causes it.
-- enqueued_at: when the sweeper last handed it to the queue; fanned_out_at: when the consumer
-- created its per-endpoint deliveries (NULL: still to do).
CREATE TABLE webhook_events (
  id TEXT PRIMARY KEY,
  provider_id INTEGER NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  enqueued_at INTEGER,
  fanned_out_at INTEGER
);

CREATE INDEX webhook_events_pending ON webhook_events (created_at) WHERE fanned_out_at IS NULL;

-- One event for one endpoint: status pending → succeeded | dead. Once succeeded it is never sent
-- again. lease_until (epoch s) guards an attempt in flight; next_attempt_at is for the sweeper.
CREATE TABLE webhook_deliveries (
  event_id TEXT NOT NULL REFERENCES webhook_events (id),
  endpoint_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER,
  next_attempt_at INTEGER NOT NULL,
  PRIMARY KEY (event_id, endpoint_id)
);

CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (status, next_attempt_at);

-- Every HTTP attempt: the answer's status or the network error, how long it took, and when the
-- next one is due (NULL: none, because it succeeded or the event is dead for this endpoint).
CREATE TABLE webhook_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  attempted_at TEXT NOT NULL,
  http_status INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('succeeded', 'retrying', 'dead')),
  next_attempt_at TEXT
);

CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id);
