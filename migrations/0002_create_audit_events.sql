-- Who did what, when, with what outcome. Never a secret, a token or a secret digest.
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  occurred_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  action TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
  actor TEXT,
  target TEXT,
  request_id TEXT,
  ip TEXT,
  detail TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
CREATE INDEX audit_events_target ON audit_events (target, occurred_at);
