-- A sandbox provider (docs/sending.md "Sandbox"): its messages go through every acceptance rule,
-- are counted apart from real ones, sent to no channel, and get statuses simulated from their
-- destinations, with the same receipts and webhooks.
ALTER TABLE providers ADD COLUMN sandbox INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1));
