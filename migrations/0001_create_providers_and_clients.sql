-- Service providers (document 001: provider_id is an Int64) and their OAuth clients.
CREATE TABLE providers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- secret_digest is HMAC-SHA-256(pepper, secret) in hex: the secret itself is never stored.
-- allowed_scopes is space-separated (RFC 6749 §3.3); audiences is a JSON array of strings.
CREATE TABLE clients (
  id TEXT PRIMARY KEY,
  provider_id INTEGER REFERENCES providers (id),
  name TEXT NOT NULL,
  secret_digest TEXT NOT NULL,
  allowed_scopes TEXT NOT NULL DEFAULT '',
  audiences TEXT NOT NULL DEFAULT '[]',
  token_lifetime INTEGER NOT NULL DEFAULT 3600 CHECK (token_lifetime BETWEEN 60 AND 86400),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE UNIQUE INDEX clients_provider_name ON clients (provider_id, name);
