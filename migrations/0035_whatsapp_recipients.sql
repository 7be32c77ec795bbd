-- WhatsApp (decisions.md D47): a recipient's opt-in to WhatsApp messages, when it was given, and
-- when the recipient last wrote to the WhatsApp sender (the inbound webhook), which opens
-- WhatsApp's 24-hour session window for free-form messages.
ALTER TABLE recipients ADD COLUMN whatsapp_opt_in INTEGER NOT NULL DEFAULT 0
  CHECK (whatsapp_opt_in IN (0, 1));
ALTER TABLE recipients ADD COLUMN whatsapp_opt_in_at TEXT;
ALTER TABLE recipients ADD COLUMN whatsapp_inbound_at TEXT;
-- The inbound webhook updates every recipient with the sender's phone.
CREATE INDEX recipients_phone ON recipients (phone) WHERE phone IS NOT NULL;
