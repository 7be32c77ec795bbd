-- Trusted issuers (decisions.md D38): a client may authenticate with a token another platform
-- issued to its workload (a CI job, a Kubernetes service account), RFC 7523 §2.1 and §2.2. Each row
-- says which issuer is trusted, how its keys are found, and which of its tokens are this client's.
--
-- issuer: the exact `iss` (an https URL; http only for a localhost issuer in development).
-- jwks: a fixed JWK set (JSON) of the issuer's public keys; NULL: found through OpenID discovery
--   (`{issuer}/.well-known/openid-configuration`, its `jwks_uri`).
-- subject: the exact `sub`, or with subject_is_pattern = 1 a pattern in which `*` stands for one or
--   more characters other than `:` (docs/tokens.md "Federated clients").
-- audience: the `aud` the token must name; NULL: Portero's issuer.
-- claims: further claims the token must carry, each with exactly this string value (JSON object).
-- position keeps the order the operator gave; created_at is seconds since the epoch.
CREATE TABLE client_trusted_issuers (
  client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  issuer TEXT NOT NULL,
  jwks TEXT,
  subject TEXT NOT NULL,
  subject_is_pattern INTEGER NOT NULL DEFAULT 0 CHECK (subject_is_pattern IN (0, 1)),
  audience TEXT,
  claims TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, position)
) WITHOUT ROWID;
