-- Per-request events reach D1 in batches from the audit queue, and repeated failures in a batch
-- (the same failed login from the same address, the same refused admin call) share one row:
-- `count` events, the first one's occurred_at and request_id, the last one's time in last_at.
ALTER TABLE audit_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1);
ALTER TABLE audit_events ADD COLUMN last_at TEXT;
