-- decisions.md D19: the public URL of a delivery's picture (an uploaded picture or a generated QR
-- code), sent as FCM's notification image or as an MMS MediaUrl. NULL when the part has no picture.
ALTER TABLE deliveries ADD COLUMN picture_url TEXT;
