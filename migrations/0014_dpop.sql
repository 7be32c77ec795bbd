-- DPoP-bound access tokens (RFC 9449; README "DPoP"): a client with
-- dpop_bound_access_tokens = 1 (RFC 9449 §5.2's client metadata name) gets tokens only with a DPoP
-- proof carrying a server nonce, from /oauth/token; never a bearer token.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0
  CHECK (dpop_bound_access_tokens IN (0, 1));
