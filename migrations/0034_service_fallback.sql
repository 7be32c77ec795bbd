-- Fallback between channels (docs/sending.md "Fallback between channels", decisions.md D46): a
-- service's default for its messages' pushes when the request has none of its own.
-- fallback: JSON {"channel": "sms", "afterSeconds": N or null}, or NULL (no fallback).
ALTER TABLE services ADD COLUMN fallback TEXT;
