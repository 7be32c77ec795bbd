-- Message retention (decisions.md D32): the scheduled clean-up deletes a message older than
-- MESSAGE_RETENTION_DAYS together with its deliveries, their timeline and its webhook events, a
-- page of the oldest messages at a time (messages_created, migration 0015, finds them in order).
-- A webhook event names its message only inside its payload; this column reads it from there
-- (virtual: nothing more is stored per row) so its index finds a page's events without a scan.
ALTER TABLE webhook_events ADD COLUMN message_id TEXT
  GENERATED ALWAYS AS (json_extract(payload, '$.data.message_id')) VIRTUAL;

CREATE INDEX webhook_events_message ON webhook_events (message_id);
