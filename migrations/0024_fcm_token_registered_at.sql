-- When each of a recipient's FCM tokens was last registered (sent to Portero by the provider), so
-- tokens the app stopped refreshing are pruned as Firebase's token-management guide advises:
-- FCM refuses a token left unused for 270 days. fcm_token_registered_at maps each token to that
-- time; fcm_token_oldest_at is the oldest of them (NULL without tokens), indexed so the clean-up
-- finds stale tokens without reading every recipient. Tokens stored before this count from their
-- recipient's last change.
ALTER TABLE recipients ADD COLUMN fcm_token_registered_at TEXT NOT NULL DEFAULT '{}';
ALTER TABLE recipients ADD COLUMN fcm_token_oldest_at TEXT;

UPDATE recipients
SET fcm_token_registered_at = (
      SELECT json_group_object(value, recipients.updated_at) FROM json_each(recipients.fcm_tokens)
    ),
    fcm_token_oldest_at = updated_at
WHERE fcm_tokens != '[]';

CREATE INDEX recipients_fcm_token_oldest_at ON recipients (fcm_token_oldest_at)
  WHERE fcm_token_oldest_at IS NOT NULL;
