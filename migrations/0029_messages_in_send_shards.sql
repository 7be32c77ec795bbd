-- Messages, deliveries, their timelines and early receipts live in each provider's send shards
-- (decisions.md D32); D1 keeps an index of every message for the admin search and the console,
-- written by the shards' alarms, many rows a statement. There is no production deployment: the
-- old tables are dropped, not copied (decisions.md D32 "The old tables").
DROP TABLE early_receipts;
DROP TABLE delivery_events;
DROP TABLE deliveries;
DROP TABLE messages;

-- One row a message: where it lives (its provider's shard) and what the search filters on.
-- status: the message's one status (src/domain/dispatch.ts messageStatus) when last written.
CREATE TABLE message_index (
  id TEXT PRIMARY KEY,
  provider_id INTEGER NOT NULL,
  shard TEXT NOT NULL,
  destination TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- Newest first (created_at, then id), in all or by provider or by destination, each walking its
-- own index in that order and stopping at the page's end instead of sorting the table.
CREATE INDEX message_index_created ON message_index (created_at, id);
CREATE INDEX message_index_provider_created ON message_index (provider_id, created_at, id);
CREATE INDEX message_index_destination_created ON message_index (destination, created_at, id);
