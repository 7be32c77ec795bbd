-- Inbound STOP and START messages applied (README "Suppression list", decisions.md D28): the SMS
-- API's MessageSid of each, so a replay of a signed request (its signature has no timestamp)
-- applies nothing. Kept for good: a replayed START could lift any later STOP, however late it
-- comes. No number and no text is kept, only the sid, the keyword, when, and the request that
-- applied it.
CREATE TABLE inbound_messages (
  message_sid TEXT PRIMARY KEY,
  keyword TEXT NOT NULL CHECK (keyword IN ('stop', 'start')),
  request_id TEXT NOT NULL,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) WITHOUT ROWID;
