-- Delivery receipts that arrive before the MessageSid they name is recorded (the SMS API's status
-- callback racing the send's answer, or the consumer stopping between the two): kept here, applied
-- when a delivery gets that sid, and purged at `expires_at` if none ever does (decisions.md D27).
-- Only signed callbacks of this deployment's account are kept, only their final status, one row a
-- sid, and at most a fixed number of rows at once (src/storage/early-receipts.ts).
CREATE TABLE early_receipts (
  message_sid TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('delivered', 'undelivered', 'failed')),
  -- The SMS API's own status word (MessageStatus) and ErrorCode, as the callback said.
  api_status TEXT NOT NULL,
  error_code TEXT,
  -- What went wrong, for the delivery's last_error; NULL when delivered.
  reason TEXT,
  -- ErrorCode 21610: the recipient replied STOP.
  opted_out INTEGER NOT NULL DEFAULT 0 CHECK (opted_out IN (0, 1)),
  received_at TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE INDEX early_receipts_expires ON early_receipts (expires_at);
