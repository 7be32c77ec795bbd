-- Send quotas are counted by each provider's send shard (a Durable Object, decisions.md D32), inside
-- the transaction that admits the message: the counters leave D1.
DROP TABLE send_counters;
