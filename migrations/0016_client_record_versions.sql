-- Edge records that catch up (decisions.md D32).
--
-- credential_generations: the 16 newest generations of the client's credentials and rights (a
-- JSON array), each the time (epoch milliseconds) it began. Every secret or key rotation, key removal,
-- narrowing, DPoP requirement and ending of tokens begins one; a token carries the generation it
-- was minted under (claim `gen`) and is inactive once it was minted after the next one began. Rows
-- from before this migration are in generation 0.
ALTER TABLE clients ADD COLUMN credential_generations TEXT NOT NULL DEFAULT '[0]';
