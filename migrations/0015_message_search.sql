-- Searching messages (GET /admin/messages): newest first by created_at (the id breaks ties), in all
-- or by provider or by destination, each walking its own index in that order and stopping at the
-- page's end instead of sorting the table.
CREATE INDEX messages_created ON messages (created_at, id);
CREATE INDEX messages_provider_created ON messages (provider_id, created_at, id);
CREATE INDEX messages_destination_created ON messages (destination, created_at, id);
