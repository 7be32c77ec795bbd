-- RFC 7009 revocation: a revoked token's jti is kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
  jti TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL, -- the token's exp, in seconds since the epoch
  revoked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- Tokens of a client issued before this instant (seconds since the epoch) are inactive: set when
-- the client is disabled, deleted, or its secret is rotated with "revoke existing tokens".
ALTER TABLE clients ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;
