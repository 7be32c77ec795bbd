-- How many send shards admit a provider's messages (decisions.md D32, README "A provider that sends
-- a lot"): 1, the default, is one Durable Object; more spread its /Services calls by destination,
-- each drawing blocks of the minute and day quotas from the provider's first shard.
ALTER TABLE providers ADD COLUMN send_shards INTEGER NOT NULL DEFAULT 1
  CHECK (send_shards BETWEEN 1 AND 64);
