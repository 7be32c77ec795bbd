// The suppressions table: phone numbers no SMS may go to, per provider or for every provider
// (docs/sending.md "Suppression list", decisions.md D28), and the inbound STOP and START messages applied
// to it (inbound_messages: each MessageSid once). A recipient's own SMS opt-out flag in the
// directory counts as a suppression too: it is read from the recipients table, never copied here.
// Every number is written and compared in its canonical form (src/utils/e164.ts), however it was
// given, so one phone is one suppression.
import { firstRow, type BatchRead } from './batch.ts'
import { canonicalPhone } from '../utils/e164.ts'
import { markSmsOptOut } from './recipients.ts'

/** Where a suppression came from; `directory` is a recipient's SMS opt-out flag. */
export type SuppressionSource = 'directory' | 'stop_reply' | 'sms_api_error' | 'admin'

/** The provider_id of a suppression that binds every provider (the shared sender number's). */
export const ALL_PROVIDERS = '0'

export type Suppression = {
  /** Null: every provider. */
  providerId: string | null
  phone: string
  source: SuppressionSource
  createdAt: string
}

type SuppressionRow = {
  provider_id: string
  phone: string
  source: SuppressionSource
  created_at: string
}

function toSuppression(row: SuppressionRow): Suppression {
  return {
    providerId: row.provider_id === ALL_PROVIDERS ? null : row.provider_id,
    phone: row.phone,
    source: row.source,
    createdAt: row.created_at,
  }
}

// Every suppression that applies to provider ?1: its own rows, those of every provider, and the
// phones of its recipients who opted out of SMS.
const APPLYING = `
  SELECT CAST(provider_id AS TEXT) AS provider_id, phone, source, created_at FROM suppressions
  WHERE provider_id IN (CAST(?1 AS INTEGER), 0)
  UNION ALL
  SELECT CAST(provider_id AS TEXT), phone, 'directory', updated_at FROM recipients
  WHERE provider_id = CAST(?1 AS INTEGER) AND sms_opt_out = 1 AND phone IS NOT NULL`

/**
 * The first suppression of the number a destination stands for (the recipient's phone for a user
 * id of the directory, else the destination itself, canonical), for readBatch: /Services refuses
 * it.
 */
export function selectSuppression(
  db: D1Database,
  providerId: string,
  destination: string,
): BatchRead<Suppression | null> {
  return {
    statements: [
      db
        .prepare(
          `WITH target (phone) AS (SELECT COALESCE((SELECT phone FROM recipients
             WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2), ?3))
           SELECT * FROM (${APPLYING}) WHERE phone = (SELECT phone FROM target) LIMIT 1`,
        )
        .bind(providerId, destination, canonicalPhone(destination)),
    ],
    read: ([result]) => firstRow(result, toSuppression),
  }
}

/** The suppressions that apply to a provider's sends to `phone`. */
export async function findSuppressions(
  db: D1Database,
  providerId: string,
  phone: string,
): Promise<Suppression[]> {
  const { results } = await db
    .prepare(`SELECT * FROM (${APPLYING}) WHERE phone = ?2 ORDER BY source, provider_id`)
    .bind(providerId, canonicalPhone(phone))
    .all<SuppressionRow>()
  return results.map(toSuppression)
}

/** A page of the suppressions that apply to a provider, by phone, source and scope. */
export async function listSuppressions(
  db: D1Database,
  providerId: string,
  { after, limit }: { after?: [string, string, string]; limit: number },
): Promise<Suppression[]> {
  const [phone, source, scope] = after ?? ['', '', '']
  const { results } = await db
    .prepare(
      `SELECT * FROM (${APPLYING})
       WHERE (phone, source, provider_id) > (?2, ?3, ?4)
       ORDER BY phone, source, provider_id LIMIT ?5`,
    )
    .bind(providerId, phone, source, scope, limit)
    .all<SuppressionRow>()
  return results.map(toSuppression)
}

/** Suppresses a number; false when it already was, for this provider (or all) and source. */
export async function insertSuppression(
  db: D1Database,
  providerId: string,
  phone: string,
  source: Exclude<SuppressionSource, 'directory'>,
): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO suppressions (provider_id, phone, source) VALUES (CAST(?1 AS INTEGER), ?2, ?3)
       ON CONFLICT DO NOTHING`,
    )
    .bind(providerId, canonicalPhone(phone), source)
    .run()
  return result.meta.changes > 0
}

/** An opt-out or opt-in keyword sent to the shared sender number. */
export type InboundKeyword = 'stop' | 'start'

/** The sources a recipient's own START lifts: both record a STOP to the sender number. */
const LIFTED_BY_START = ['stop_reply', 'sms_api_error'] as const

/**
 * Applies an inbound STOP (suppresses `phone` for every provider) or START (lifts the suppressions
 * a STOP made) unless a message with this sid was applied before: the signature of the SMS API's
 * request has no timestamp, so a copy of it is as valid years later, and a replayed START would
 * lift a later STOP. The sid is recorded in the same batch (one transaction), and the change is
 * made only by the request whose id the sid's row holds, so two copies racing apply it once. True
 * when this request applied it.
 */
export async function applyInboundKeyword(
  db: D1Database,
  message: { sid: string; phone: string; keyword: InboundKeyword; requestId: string },
): Promise<boolean> {
  const { sid, keyword, requestId } = message
  const phone = canonicalPhone(message.phone)
  const first = `EXISTS (SELECT 1 FROM inbound_messages WHERE message_sid = ?1 AND request_id = ?3)`
  const change =
    keyword === 'stop'
      ? db
          .prepare(
            `INSERT INTO suppressions (provider_id, phone, source)
             SELECT 0, ?2, 'stop_reply' WHERE ${first} ON CONFLICT DO NOTHING`,
          )
          .bind(sid, phone, requestId)
      : db
          .prepare(
            `DELETE FROM suppressions WHERE provider_id = 0 AND phone = ?2
               AND source IN (SELECT value FROM json_each(?4)) AND ${first}`,
          )
          .bind(sid, phone, requestId, JSON.stringify(LIFTED_BY_START))
  const [, , applied] = await db.batch<{ applied: number }>([
    db
      .prepare(
        `INSERT INTO inbound_messages (message_sid, keyword, request_id) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING`,
      )
      .bind(sid, keyword, requestId),
    change,
    db
      .prepare(`SELECT request_id = ?2 AS applied FROM inbound_messages WHERE message_sid = ?1`)
      .bind(sid, requestId),
  ])
  return applied!.results[0]?.applied === 1
}

/**
 * The SMS API reports that `phone` unsubscribed (its error 21610, a STOP to the shared sender
 * number), at send time or in a delivery receipt: the provider's recipient with that phone is
 * marked opted out of SMS, and the number is suppressed for every provider until its START.
 */
export async function recordSmsApiOptOut(
  db: D1Database,
  providerId: string,
  phone: string,
): Promise<void> {
  await Promise.all([
    markSmsOptOut(db, providerId, phone),
    insertSuppression(db, ALL_PROVIDERS, phone, 'sms_api_error'),
  ])
}

/** Lifts the suppressions of `phone` from these sources for this provider (or all); how many. */
export async function deleteSuppressions(
  db: D1Database,
  providerId: string,
  phone: string,
  sources: Exclude<SuppressionSource, 'directory'>[],
): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM suppressions WHERE provider_id = CAST(?1 AS INTEGER) AND phone = ?2
         AND source IN (SELECT value FROM json_each(?3))`,
    )
    .bind(providerId, canonicalPhone(phone), JSON.stringify(sources))
    .run()
  return result.meta.changes
}
