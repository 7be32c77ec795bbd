-- Quiet hours (docs/sending.md "Scheduled sends and quiet hours", decisions.md D44): a recipient's
-- IANA time zone and own quiet hours, and a service's default quiet hours.
-- quiet_hours: JSON {"start": "HH:MM", "end": "HH:MM"} (a service's may add "time_zone"), or NULL.
ALTER TABLE recipients ADD COLUMN time_zone TEXT;
ALTER TABLE recipients ADD COLUMN quiet_hours TEXT;
ALTER TABLE services ADD COLUMN quiet_hours TEXT;
