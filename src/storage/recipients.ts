// The recipients table: a provider's end users, their phone and FCM tokens, per-channel opt-outs.
// A phone is stored in its canonical form (src/utils/e164.ts), whatever spelling was given.
import { canonicalPhone } from '../utils/e164.ts'
import { firstRow, readOne, type BatchRead } from './batch.ts'

export type Recipient = {
  providerId: string
  userId: string
  phone: string | null
  fcmTokens: string[]
  smsOptOut: boolean
  fcmOptOut: boolean
  createdAt: string
  updatedAt: string
}

type RecipientRow = {
  provider_id: string
  user_id: string
  phone: string | null
  fcm_tokens: string
  sms_opt_out: number
  fcm_opt_out: number
  created_at: string
  updated_at: string
}

function toRecipient(row: RecipientRow): Recipient {
  return {
    providerId: row.provider_id,
    userId: row.user_id,
    phone: row.phone,
    fcmTokens: JSON.parse(row.fcm_tokens) as string[],
    smsOptOut: row.sms_opt_out === 1,
    fcmOptOut: row.fcm_opt_out === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

const SELECT_RECIPIENT = `SELECT CAST(provider_id AS TEXT) AS provider_id, user_id, phone,
  fcm_tokens, sms_opt_out, fcm_opt_out, created_at, updated_at FROM recipients`

export type RecipientFields = Pick<Recipient, 'phone' | 'fcmTokens' | 'smsOptOut' | 'fcmOptOut'>

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
      `INSERT INTO recipients (provider_id, user_id, phone, fcm_tokens, sms_opt_out, fcm_opt_out)
       VALUES (CAST(?1 AS INTEGER), ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING`,
    )
    .bind(providerId, userId, ...fieldParams(fields))
    .run()
  return result.meta.changes > 0
}

/** A recipient's fields as the statements below bind them, from ?3 on. */
function fieldParams(fields: RecipientFields) {
  const { phone, fcmTokens, smsOptOut, fcmOptOut } = fields
  const stored = phone === null ? null : canonicalPhone(phone)
  return [stored, JSON.stringify(fcmTokens), +smsOptOut, +fcmOptOut] as const
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
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE provider_id = CAST(?1 AS INTEGER)
         AND EXISTS (SELECT 1 FROM json_each(recipients.fcm_tokens) WHERE value = ?2)`,
    )
    .bind(providerId, token)
    .run()
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
