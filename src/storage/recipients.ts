// The recipients table: a provider's end users, their phone and FCM tokens, per-channel opt-outs.
// A phone is stored in its canonical form (src/utils/e164.ts), whatever spelling was given.
import { canonicalPhone } from '../utils/e164.ts'
import { firstRow, readOne, type BatchRead } from './batch.ts'

/**
 * Quiet hours as a request, recipient or service gives them (decisions.md D44): HH:MM on a wall
 * clock, the zone given here or taken from elsewhere (domain/schedule.ts quietHoursFor).
 */
export type QuietHoursRule = { start: string; end: string; timeZone?: string }

export type Recipient = {
  providerId: string
  userId: string
  phone: string | null
  fcmTokens: string[]
  /** When each FCM token was last registered: ISO 8601 in whole seconds, by token. */
  fcmTokenRegisteredAt: Record<string, string>
  smsOptOut: boolean
  fcmOptOut: boolean
  /** An IANA time zone: where the recipient's quiet hours are read (decisions.md D44). */
  timeZone: string | null
  /** The recipient's own quiet hours, in their time zone. */
  quietHours: QuietHoursRule | null
  /** WhatsApp may be sent only with the recipient's opt-in (decisions.md D47). */
  whatsappOptIn: boolean
  /** When the opt-in was recorded (ISO 8601, whole seconds); null without one. */
  whatsappOptInAt: string | null
  /** When the recipient last wrote to the WhatsApp sender: the session window's start. */
  whatsappInboundAt: string | null
  createdAt: string
  updatedAt: string
}

type RecipientRow = {
  provider_id: string
  user_id: string
  phone: string | null
  fcm_tokens: string
  fcm_token_registered_at: string
  sms_opt_out: number
  fcm_opt_out: number
  time_zone: string | null
  quiet_hours: string | null
  whatsapp_opt_in: number
  whatsapp_opt_in_at: string | null
  whatsapp_inbound_at: string | null
  created_at: string
  updated_at: string
}

function toRecipient(row: RecipientRow): Recipient {
  return {
    providerId: row.provider_id,
    userId: row.user_id,
    phone: row.phone,
    fcmTokens: JSON.parse(row.fcm_tokens) as string[],
    fcmTokenRegisteredAt: JSON.parse(row.fcm_token_registered_at) as Record<string, string>,
    smsOptOut: row.sms_opt_out === 1,
    fcmOptOut: row.fcm_opt_out === 1,
    timeZone: row.time_zone,
    quietHours: row.quiet_hours === null ? null : (JSON.parse(row.quiet_hours) as QuietHoursRule),
    whatsappOptIn: row.whatsapp_opt_in === 1,
    whatsappOptInAt: row.whatsapp_opt_in_at,
    whatsappInboundAt: row.whatsapp_inbound_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

const SELECT_RECIPIENT = `SELECT CAST(provider_id AS TEXT) AS provider_id, user_id, phone,
  fcm_tokens, fcm_token_registered_at, sms_opt_out, fcm_opt_out, time_zone, quiet_hours,
  whatsapp_opt_in, whatsapp_opt_in_at, whatsapp_inbound_at, created_at, updated_at
  FROM recipients`

/**
 * A recipient's fields as written. `fcmTokenRegisteredAt` keeps the registration times of tokens
 * sent before; without it (or for a token it lacks) a token counts as registered at the write.
 */
export type RecipientFields = Pick<Recipient, 'phone' | 'fcmTokens' | 'smsOptOut' | 'fcmOptOut'> &
  Partial<Pick<Recipient, 'timeZone' | 'quietHours' | 'whatsappOptIn'>> & {
    fcmTokenRegisteredAt?: Record<string, string>
  }

/** Firebase's guide: FCM refuses a token its app has not refreshed in 270 days. */
export const FCM_TOKEN_MAX_AGE_DAYS = 270

/** Times as D1's strftime writes them (whole seconds), so they compare as text. */
export function toStoredTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function findRecipient(
  db: D1Database,
  providerId: string,
  userId: string,
): Promise<Recipient | null> {
  return readOne(db, selectRecipient(db, providerId, userId))
}

/** findRecipient as a read for readBatch. */
export function selectRecipient(
  db: D1Database,
  providerId: string,
  userId: string,
): BatchRead<Recipient | null> {
  return {
    statements: [
      db
        .prepare(`${SELECT_RECIPIENT} WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2`)
        .bind(providerId, userId),
    ],
    read: ([result]) => firstRow(result, toRecipient),
  }
}

/** Inserts a recipient; false if the provider already has one with this user id. */
export async function insertRecipient(
  db: D1Database,
  providerId: string,
  userId: string,
  fields: RecipientFields,
): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO recipients (provider_id, user_id, phone, fcm_tokens, sms_opt_out, fcm_opt_out,
         fcm_token_registered_at, fcm_token_oldest_at, time_zone, quiet_hours, whatsapp_opt_in,
         whatsapp_opt_in_at)
       VALUES (CAST(?1 AS INTEGER), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
         CASE WHEN ?11 = 1 THEN strftime('%Y-%m-%dT%H:%M:%SZ', 'now') END)
       ON CONFLICT DO NOTHING`,
    )
    .bind(providerId, userId, ...fieldParams(fields))
    .run()
  return result.meta.changes > 0
}

/** A recipient's fields as the statements below bind them, from ?3 on. */
function fieldParams(fields: RecipientFields) {
  const { phone, fcmTokens, smsOptOut, fcmOptOut } = fields
  const now = toStoredTime(new Date())
  const registered = Object.fromEntries(
    fcmTokens.map((token) => [token, fields.fcmTokenRegisteredAt?.[token] ?? now]),
  )
  const oldest = Object.values(registered).sort()[0] ?? null
  return [
    phone === null ? null : canonicalPhone(phone),
    JSON.stringify(fcmTokens),
    +smsOptOut,
    +fcmOptOut,
    JSON.stringify(registered),
    oldest,
    fields.timeZone ?? null,
    fields.quietHours ? JSON.stringify(fields.quietHours) : null,
    +(fields.whatsappOptIn ?? false),
  ] as const
}

/** Replaces a recipient's fields; false if there is no such recipient. */
export async function updateRecipient(
  db: D1Database,
  providerId: string,
  userId: string,
  fields: RecipientFields,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE recipients SET phone = ?3, fcm_tokens = ?4, sms_opt_out = ?5, fcm_opt_out = ?6,
         fcm_token_registered_at = ?7, fcm_token_oldest_at = ?8, time_zone = ?9, quiet_hours = ?10,
         whatsapp_opt_in = ?11,
         -- The time of the opt-in given, kept while it holds; gone with it.
         whatsapp_opt_in_at = CASE WHEN ?11 = 1
           THEN COALESCE(whatsapp_opt_in_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) END,
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2`,
    )
    .bind(providerId, userId, ...fieldParams(fields))
    .run()
  return result.meta.changes > 0
}

export async function deleteRecipient(
  db: D1Database,
  providerId: string,
  userId: string,
): Promise<boolean> {
  const result = await db
    .prepare('DELETE FROM recipients WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2')
    .bind(providerId, userId)
    .run()
  return result.meta.changes > 0
}

/** A page of recipients in user_id order, starting after `after`. */
export async function listRecipients(
  db: D1Database,
  providerId: string,
  { after, limit }: { after?: string; limit: number },
): Promise<Recipient[]> {
  const { results } = await db
    .prepare(
      `${SELECT_RECIPIENT} WHERE provider_id = CAST(?1 AS INTEGER) AND user_id > ?2
       ORDER BY user_id LIMIT ?3`,
    )
    .bind(providerId, after ?? '', limit)
    .all<RecipientRow>()
  return results.map(toRecipient)
}

// The registration times of the tokens a recipient keeps: those at or after ?3, less token ?2.
const KEPT_REGISTRATIONS = `FROM json_each(recipients.fcm_token_registered_at)
  WHERE key != ?2 AND value >= ?3`

/** FCM said UNREGISTERED: the app is gone from that device, so the token is dropped. */
export async function removeFcmToken(
  db: D1Database,
  providerId: string,
  token: string,
): Promise<void> {
  await db
    .prepare(
      `UPDATE recipients SET fcm_tokens = (
           SELECT COALESCE(json_group_array(value), '[]') FROM json_each(recipients.fcm_tokens)
           WHERE value != ?2),
         fcm_token_registered_at = (
           SELECT COALESCE(json_group_object(key, value), '{}') ${KEPT_REGISTRATIONS}),
         fcm_token_oldest_at = (SELECT MIN(value) ${KEPT_REGISTRATIONS}),
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE provider_id = CAST(?1 AS INTEGER)
         AND EXISTS (SELECT 1 FROM json_each(recipients.fcm_tokens) WHERE value = ?2)`,
    )
    .bind(providerId, token, '')
    .run()
}

/**
 * Drops the FCM tokens registered before `cutoff` (Firebase's token-management guide: a token
 * not refreshed in FCM_TOKEN_MAX_AGE_DAYS is expired), from at most `limit` recipients, those
 * with the oldest first. Returns how many recipients lost a token.
 */
export async function pruneStaleFcmTokens(
  db: D1Database,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const result = await db
    .prepare(
      `UPDATE recipients SET fcm_tokens = (
           SELECT COALESCE(json_group_array(t.value), '[]') FROM json_each(recipients.fcm_tokens) t
           WHERE EXISTS (SELECT 1 ${KEPT_REGISTRATIONS} AND key = t.value)),
         fcm_token_registered_at = (
           SELECT COALESCE(json_group_object(key, value), '{}') ${KEPT_REGISTRATIONS}),
         fcm_token_oldest_at = (SELECT MIN(value) ${KEPT_REGISTRATIONS}),
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE rowid IN (
         SELECT rowid FROM recipients WHERE fcm_token_oldest_at < ?3
         ORDER BY fcm_token_oldest_at LIMIT ?1)`,
    )
    // No token is '' (the API refuses one), so ?2 drops none by name.
    .bind(limit, '', toStoredTime(cutoff))
    .run()
  return result.meta.changes
}

/** The SMS provider says this number opted out (replied STOP): stop sending SMS to it. */
export async function markSmsOptOut(
  db: D1Database,
  providerId: string,
  phone: string,
): Promise<void> {
  await db
    .prepare(
      `UPDATE recipients SET sms_opt_out = 1, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE provider_id = CAST(?1 AS INTEGER) AND phone = ?2`,
    )
    .bind(providerId, canonicalPhone(phone))
    .run()
}

/**
 * The phone wrote to the WhatsApp sender at `at` (the inbound webhook): WhatsApp's session window
 * of every recipient with that phone opens, whichever provider's (the sender is the deployment's,
 * as for a STOP, decisions.md D28), and never moves back. With `optOut` (the person wrote STOP),
 * their WhatsApp opt-in is withdrawn too, in the same statement.
 */
export async function recordWhatsAppInbound(
  db: D1Database,
  phone: string,
  at: Date,
  optOut: boolean,
): Promise<void> {
  await db
    .prepare(
      `UPDATE recipients SET
         whatsapp_inbound_at = MAX(COALESCE(whatsapp_inbound_at, ''), ?2),
         whatsapp_opt_in = CASE WHEN ?3 = 1 THEN 0 ELSE whatsapp_opt_in END,
         whatsapp_opt_in_at = CASE WHEN ?3 = 1 THEN NULL ELSE whatsapp_opt_in_at END
       WHERE phone = ?1`,
    )
    .bind(canonicalPhone(phone), toStoredTime(at), +optOut)
    .run()
}
