-- Secret rotation with a grace period: the previous secret keeps working until it expires.
ALTER TABLE clients ADD COLUMN previous_secret_digest TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at INTEGER; -- seconds since the epoch

-- The audit log is listed newest first and filtered by action, actor or target.
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
