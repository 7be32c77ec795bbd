-- Phone numbers in their canonical form (README "Phone numbers", decisions.md D37): the stored
-- phones of recipients and suppressions are rewritten as canonicalPhone (src/utils/e164.ts) writes
-- them from now on, so a number stored before in another spelling still matches. The rules are
-- those of canonicalPhone, statement for statement: test/storage/canonical-phones.test.ts runs this
-- file over every spelling the function's own tests use and compares. Messages and deliveries
-- keep the number as it was sent: they are history, and go with the message retention.

-- Every stored phone, and what it becomes (itself, unless a rule below applies).
CREATE TABLE canonical_phones_0021 (
  phone TEXT PRIMARY KEY,
  canonical TEXT NOT NULL
) WITHOUT ROWID;

INSERT OR IGNORE INTO canonical_phones_0021 (phone, canonical)
  SELECT phone, phone FROM recipients WHERE phone IS NOT NULL
  UNION SELECT phone, phone FROM suppressions;

-- The national trunk prefix written after the country code (TRUNK_PREFIXES), with `length` the
-- national number's length without it, where its digit can also start a number.
CREATE TABLE trunk_prefixes_0021 (
  code TEXT PRIMARY KEY,
  prefix TEXT NOT NULL,
  length INTEGER
) WITHOUT ROWID;

INSERT INTO trunk_prefixes_0021 (code, prefix, length) VALUES
  ('1', '1', 10), ('7', '8', 10), ('20', '0', NULL), ('27', '0', NULL), ('31', '0', NULL),
  ('32', '0', NULL), ('33', '0', NULL), ('36', '06', NULL), ('41', '0', NULL), ('43', '0', NULL),
  ('44', '0', NULL), ('46', '0', NULL), ('49', '0', NULL), ('51', '0', NULL), ('55', '0', NULL),
  ('58', '0', NULL), ('61', '0', NULL), ('62', '0', NULL), ('63', '0', NULL), ('64', '0', NULL),
  ('66', '0', NULL), ('81', '0', NULL), ('82', '0', NULL), ('84', '0', NULL), ('86', '0', NULL),
  ('90', '0', NULL), ('91', '0', NULL), ('92', '0', NULL), ('94', '0', NULL), ('234', '0', NULL),
  ('254', '0', NULL), ('353', '0', NULL), ('358', '0', NULL), ('380', '0', NULL),
  ('598', '0', NULL), ('972', '0', NULL);

-- Country calling codes form a prefix code, so a phone matches at most one row, and the result
-- must still be E.164 ("+" and at least 7 digits).
UPDATE canonical_phones_0021
SET canonical = '+' || t.code || substr(phone, 2 + length(t.code) + length(t.prefix))
FROM trunk_prefixes_0021 AS t
WHERE substr(phone, 2, length(t.code)) = t.code
  AND substr(phone, 2 + length(t.code), length(t.prefix)) = t.prefix
  AND (t.length IS NULL OR length(phone) - 1 - length(t.code) - length(t.prefix) = t.length)
  AND length(phone) - length(t.prefix) >= 8;

-- Mexico: "1", "01", "02", "044" or "045" before a 10-digit national number.
UPDATE canonical_phones_0021
SET canonical = '+52' || substr(phone, -10)
WHERE phone GLOB '+52*' AND (
  (length(phone) = 14 AND substr(phone, 4, 1) = '1')
  OR (length(phone) = 15 AND substr(phone, 4, 2) IN ('01', '02'))
  OR (length(phone) = 16 AND substr(phone, 4, 3) IN ('044', '045')));

-- Argentina: without a leading 0 and then a leading 9, and Buenos Aires' 15 after its area code
-- 11, a 10-digit national number is a mobile's, written "+549" and the 10 digits.
UPDATE canonical_phones_0021
SET canonical = '+549' || a.rest
FROM (
  SELECT phone, CASE WHEN length(s2) = 12 AND s2 GLOB '1115*' THEN '11' || substr(s2, 5)
    ELSE s2 END AS rest
  FROM (
    SELECT phone, CASE WHEN s1 GLOB '9*' THEN substr(s1, 2) ELSE s1 END AS s2
    FROM (
      SELECT phone, CASE WHEN substr(phone, 4) GLOB '0*' THEN substr(phone, 5)
        ELSE substr(phone, 4) END AS s1
      FROM canonical_phones_0021 WHERE phone GLOB '+54*'))) AS a
WHERE canonical_phones_0021.phone = a.phone AND length(a.rest) = 10;

UPDATE recipients SET phone = c.canonical
FROM canonical_phones_0021 AS c
WHERE recipients.phone = c.phone AND c.canonical != c.phone;

-- Two spellings of one number suppressed for one provider and source are one suppression: the
-- first rewritten stays, the other (its key taken) is dropped.
UPDATE OR IGNORE suppressions SET phone = c.canonical
FROM canonical_phones_0021 AS c
WHERE suppressions.phone = c.phone AND c.canonical != c.phone;

DELETE FROM suppressions
WHERE phone IN (SELECT phone FROM canonical_phones_0021 WHERE canonical != phone);

DROP TABLE trunk_prefixes_0021;
DROP TABLE canonical_phones_0021;
