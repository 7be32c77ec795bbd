-- Clients' public keys for private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9; README
-- "private_key_jwt"). jwk is the public JWK as registered (JSON, never a private member); alg is
-- the one algorithm the key signs with (ES256, EdDSA or Ed25519, RS256); created_at and
-- expires_at are seconds since the epoch. expires_at is set when a rotation keeps the key working
-- for an overlap: from then on assertions signed with it are refused. NULL: no end.
CREATE TABLE client_keys (
  client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
  kid TEXT NOT NULL,
  jwk TEXT NOT NULL,
  alg TEXT NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'Ed25519', 'RS256')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (client_id, kid)
) WITHOUT ROWID;

-- An empty secret_digest means the client has no secret: it authenticates with its keys only.
-- No digest of a secret is empty, so no secret can ever match it.
