-- Edge records that catch up (decisions.md D34) and heal (decisions.md D35).
--
-- credential_generations: the 16 newest generations of the client's credentials and rights (a
-- JSON array), each the time (epoch milliseconds) it began. Every secret or key rotation, key removal,
-- narrowing, DPoP requirement and ending of tokens begins one; a token carries the generation it
-- was minted under (claim `gen`) and is inactive once it was minted after the next one began. Rows
-- from before this migration are in generation 0.
ALTER TABLE clients ADD COLUMN credential_generations TEXT NOT NULL DEFAULT '[0]';

-- Which clients' edge records D1 has changed and KV may not hold yet (decisions.md D35). Every
-- admin change bumps `version` before it writes and again before it publishes; a publish that KV
-- took records the version it read as `published_version`; the scheduled job republishes every
-- row that lags. A row outlives its client: a deleted client's record keeps `tokens_valid_after`
-- (epoch seconds).
CREATE TABLE client_record_versions (
  client_id TEXT NOT NULL PRIMARY KEY,
  version INTEGER NOT NULL,
  published_version INTEGER NOT NULL DEFAULT 0,
  tokens_valid_after INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX client_record_versions_lagging ON client_record_versions (client_id)
  WHERE published_version < version;
