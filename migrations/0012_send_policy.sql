-- Send policy (README "Send quotas", "Direct numbers", "Suppression list"; decisions.md D28):
-- what a provider may send, to whom, and how much.

-- Per-provider quotas: NULL is the deployment's default (the SEND_QUOTA_* vars).
ALTER TABLE providers ADD COLUMN quota_per_minute INTEGER CHECK (quota_per_minute > 0);
ALTER TABLE providers ADD COLUMN quota_per_day INTEGER CHECK (quota_per_day > 0);
ALTER TABLE providers ADD COLUMN quota_per_destination_hour INTEGER
  CHECK (quota_per_destination_hour > 0);

-- Accepted /Services messages counted per fixed window: one row per provider and span (and per
-- destination for the hourly span), restarted when a request of a later window arrives.
-- span: 'minute' | 'day' | 'destination_hour'; subject: the destination's phone number or user id
-- for 'destination_hour', '' otherwise; starts_at: the window's start in epoch seconds.
CREATE TABLE send_counters (
  provider_id INTEGER NOT NULL,
  span TEXT NOT NULL CHECK (span IN ('minute', 'day', 'destination_hour')),
  subject TEXT NOT NULL DEFAULT '',
  starts_at INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (provider_id, span, subject)
) WITHOUT ROWID;

-- The scheduled clean-up drops counters of windows long over.
CREATE INDEX send_counters_starts_at ON send_counters (starts_at);

-- Sending to an E.164 number outside the recipients directory is opt-in per service, optionally
-- limited to country calling codes (a JSON array such as ["54","598"]; NULL: any).
ALTER TABLE services ADD COLUMN direct_numbers INTEGER NOT NULL DEFAULT 0
  CHECK (direct_numbers IN (0, 1));
ALTER TABLE services ADD COLUMN direct_number_country_codes TEXT;

-- Numbers no SMS may go to. provider_id 0 means every provider: a STOP sent to the shared sender
-- number, or the SMS API's refusal of an unsubscribed recipient (error 21610), binds them all.
-- The directory's own SMS opt-out flag counts too; it is read from recipients, not copied here.
CREATE TABLE suppressions (
  provider_id INTEGER NOT NULL CHECK (provider_id >= 0),
  phone TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('stop_reply', 'sms_api_error', 'admin')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  PRIMARY KEY (phone, provider_id, source)
) WITHOUT ROWID;

CREATE INDEX suppressions_provider ON suppressions (provider_id, phone);

-- An opted-out recipient's phone is suppressed however it is addressed: found by number.
CREATE INDEX recipients_sms_opt_out ON recipients (provider_id, phone) WHERE sms_opt_out = 1;
