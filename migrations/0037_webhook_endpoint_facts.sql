-- The send facts (decisions.md D48) gain the provider's webhook endpoints: what each wants
-- (event_types) and whether it is on (status), so that a send shard hands D1 only the webhook
-- events some endpoint wants, and none for a provider with no endpoint. Only those two columns
-- concern the shards: failure counts and secrets change without a note here. key: the endpoint's
-- id.
CREATE TRIGGER webhook_endpoints_fact_insert AFTER INSERT ON webhook_endpoints BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.provider_id, 'webhook_endpoints', NEW.id);
END;
CREATE TRIGGER webhook_endpoints_fact_update AFTER UPDATE OF status, event_types, provider_id
ON webhook_endpoints BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.provider_id, 'webhook_endpoints', NEW.id);
END;
CREATE TRIGGER webhook_endpoints_fact_delete AFTER DELETE ON webhook_endpoints BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (OLD.provider_id, 'webhook_endpoints', OLD.id);
END;
