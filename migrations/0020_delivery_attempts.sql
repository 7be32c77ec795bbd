-- Each attempt is recorded before it goes out (decisions.md D10): `attempt_at` is when the current
-- attempt was claimed (epoch seconds). An attempt whose lease ran out with no outcome recorded may
-- or may not have reached the channel: `in_doubt_since` keeps the start of the earliest such
-- attempt not yet settled, so the next attempt first asks the channel whether it was accepted.
ALTER TABLE deliveries ADD COLUMN attempt_at INTEGER;
ALTER TABLE deliveries ADD COLUMN in_doubt_since INTEGER;
