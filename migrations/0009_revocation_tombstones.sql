-- Revoked tokens are judged at the edge by a KV tombstone keyed by their jti. The scheduled
-- clean-up writes the tombstone of every unexpired row not yet marked, then marks it: rows of
-- revocations made before tombstones existed, and any whose tombstone write failed.
ALTER TABLE revoked_tokens ADD COLUMN tombstoned INTEGER NOT NULL DEFAULT 0;

CREATE INDEX revoked_tokens_untombstoned ON revoked_tokens (tombstoned, expires_at);
