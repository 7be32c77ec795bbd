-- Notification dispatch (document 001 /Services): service definitions, providers' subscriptions
-- (service_token), the recipients directory, and the outbox (messages and their deliveries).

-- required_parameters and allowed_channels are JSON arrays ("destination", "notification",
-- "advertisement"; "sms", "fcm").
CREATE TABLE services (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL DEFAULT 'notification',
  required_parameters TEXT NOT NULL DEFAULT '["destination"]',
  allowed_channels TEXT NOT NULL DEFAULT '["sms","fcm"]',
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- A provider's subscription to a service; service_token is the UUID /Services checks
-- (decisions.md D9).
CREATE TABLE subscriptions (
  provider_id INTEGER NOT NULL REFERENCES providers (id),
  service_id INTEGER NOT NULL REFERENCES services (id),
  service_token TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  PRIMARY KEY (provider_id, service_id)
);

-- A provider's end user: user_id is the provider's own id for them (001's destination).
CREATE TABLE recipients (
  provider_id INTEGER NOT NULL REFERENCES providers (id),
  user_id TEXT NOT NULL,
  phone TEXT,
  fcm_tokens TEXT NOT NULL DEFAULT '[]',
  sms_opt_out INTEGER NOT NULL DEFAULT 0 CHECK (sms_opt_out IN (0, 1)),
  fcm_opt_out INTEGER NOT NULL DEFAULT 0 CHECK (fcm_opt_out IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  PRIMARY KEY (provider_id, user_id)
);

-- One accepted /Services request. The unique index makes an Idempotency-Key usable once per
-- provider, so concurrent duplicates cannot both be accepted.
CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  provider_id INTEGER NOT NULL,
  service_id INTEGER NOT NULL,
  idempotency_key TEXT,
  request_hash TEXT NOT NULL,
  destination TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE UNIQUE INDEX messages_idempotency ON messages (provider_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- One send: one part of a message, one channel, one address. The queue carries only the id.
-- status: queued → sending → sent | failed | dead. lease_until (epoch s) guards a send in flight;
-- next_attempt_at (epoch s) is when the queue should deliver it, for the sweeper.
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
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER,
  next_attempt_at INTEGER NOT NULL,
  provider_message_id TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  sent_at TEXT
);

CREATE INDEX deliveries_message ON deliveries (message_id);
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
