-- What /Services and the dispatch consumer check a message against (decisions.md D48): the
-- provider, the service catalogue, its subscriptions, its recipients directory and the suppression
-- list. D1 stays their authority; each send shard keeps a copy of its provider's rows and brings it
-- up to date from this log of changes, which the triggers below write in the statement of every
-- change, however it was made. provider_id: the provider whose copies the change concerns, 0 for
-- every provider (a service; a suppression of every provider). tbl and key: the table and the row's
-- key within the provider (services: the id; subscriptions: the service id; recipients: the user
-- id; suppressions: the phone; providers: ''). changed_at: epoch seconds, for the purge after a day
-- (a shard that has not caught up for that long copies everything again).
CREATE TABLE fact_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  provider_id INTEGER NOT NULL,
  tbl TEXT NOT NULL,
  key TEXT NOT NULL,
  changed_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX fact_changes_provider ON fact_changes (provider_id, seq);
CREATE INDEX fact_changes_changed_at ON fact_changes (changed_at);

CREATE TRIGGER providers_fact_insert AFTER INSERT ON providers BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.id, 'providers', '');
END;
CREATE TRIGGER providers_fact_update AFTER UPDATE ON providers BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.id, 'providers', '');
END;
CREATE TRIGGER providers_fact_delete AFTER DELETE ON providers BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (OLD.id, 'providers', '');
END;

CREATE TRIGGER services_fact_insert AFTER INSERT ON services BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (0, 'services', CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER services_fact_update AFTER UPDATE ON services BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (0, 'services', CAST(NEW.id AS TEXT));
END;
CREATE TRIGGER services_fact_delete AFTER DELETE ON services BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (0, 'services', CAST(OLD.id AS TEXT));
END;

CREATE TRIGGER subscriptions_fact_insert AFTER INSERT ON subscriptions BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key)
  VALUES (NEW.provider_id, 'subscriptions', CAST(NEW.service_id AS TEXT));
END;
CREATE TRIGGER subscriptions_fact_update AFTER UPDATE ON subscriptions BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key)
  VALUES (NEW.provider_id, 'subscriptions', CAST(NEW.service_id AS TEXT));
END;
CREATE TRIGGER subscriptions_fact_delete AFTER DELETE ON subscriptions BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key)
  VALUES (OLD.provider_id, 'subscriptions', CAST(OLD.service_id AS TEXT));
END;

CREATE TRIGGER recipients_fact_insert AFTER INSERT ON recipients BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.provider_id, 'recipients', NEW.user_id);
END;
CREATE TRIGGER recipients_fact_update AFTER UPDATE ON recipients BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.provider_id, 'recipients', NEW.user_id);
END;
CREATE TRIGGER recipients_fact_delete AFTER DELETE ON recipients BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (OLD.provider_id, 'recipients', OLD.user_id);
END;

CREATE TRIGGER suppressions_fact_insert AFTER INSERT ON suppressions BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.provider_id, 'suppressions', NEW.phone);
END;
CREATE TRIGGER suppressions_fact_delete AFTER DELETE ON suppressions BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (OLD.provider_id, 'suppressions', OLD.phone);
END;
CREATE TRIGGER suppressions_fact_update AFTER UPDATE ON suppressions BEGIN
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (NEW.provider_id, 'suppressions', NEW.phone);
  INSERT INTO fact_changes (provider_id, tbl, key) VALUES (OLD.provider_id, 'suppressions', OLD.phone);
END;
