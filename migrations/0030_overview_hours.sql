-- The console's overview (decisions.md D42): counts per hour and per provider, written as events
-- happen, so that a range is read from a few rows whatever the number of messages in it.
-- hour: the hour's start in epoch seconds. provider_id: 0 when none (an operator's token, a login
-- with an unknown client id). source: the send shard that counted the row (its alarm writes the
-- shard's totals, replacing what it wrote before), or 'audit' for tokens issued and failed logins
-- (counted by the trigger below). metric: accepted, sent, delivered, undelivered, failed,
-- dead, error (key: the channel's error code), latency (key: the bucket, src/storage/
-- overview-hours.ts LATENCY_BOUNDS), tokens_issued, failed_logins.
CREATE TABLE overview_hours (
  hour INTEGER NOT NULL,
  provider_id INTEGER NOT NULL,
  source TEXT NOT NULL,
  metric TEXT NOT NULL,
  key TEXT NOT NULL DEFAULT '',
  count INTEGER NOT NULL,
  PRIMARY KEY (hour, provider_id, source, metric, key)
) WITHOUT ROWID;
CREATE INDEX overview_hours_provider ON overview_hours (provider_id, hour);

-- Tokens issued and failed logins are counted as the audit consumer inserts their rows (a batch a
-- statement): the trigger adds each row's count to its hour, under the provider of the client it
-- names, in that same statement.
CREATE TRIGGER audit_events_overview AFTER INSERT ON audit_events
WHEN NEW.action IN ('token.issued', 'login.failed')
BEGIN
  INSERT INTO overview_hours (hour, provider_id, source, metric, key, count)
  VALUES (
    CAST(strftime('%s', NEW.occurred_at) AS INTEGER) / 3600 * 3600,
    COALESCE((SELECT provider_id FROM clients WHERE id = NEW.target), 0),
    'audit',
    CASE NEW.action WHEN 'token.issued' THEN 'tokens_issued' ELSE 'failed_logins' END,
    '',
    NEW.count
  )
  ON CONFLICT (hour, provider_id, source, metric, key) DO UPDATE SET count = count + excluded.count;
END;
