-- Client ids are unique without regard to case: "Demo-Client" beside "demo-client" would pass for
-- the other in logs, the audit log and the management API. Logins still match the id exactly.
-- NOCASE folds ASCII only, which is all an id may hold (letters, digits and . _ ~ -). The index
-- cannot be built while two ids differ only in case: rename or delete one of them first.
CREATE UNIQUE INDEX clients_id_nocase ON clients (id COLLATE NOCASE);
