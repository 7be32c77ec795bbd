// The revoked_tokens table: jti of tokens revoked before their expiry (RFC 7009).
import { epochSeconds } from '../utils/time.ts'

/** Records a revoked token; revoking it again changes nothing. */
export async function insertRevokedToken(
  db: D1Database,
  token: { jti: string; clientId: string; expiresAt: number },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (jti) DO NOTHING`,
    )
    .bind(token.jti, token.clientId, token.expiresAt)
    .run()
}

/** Deletes rows of tokens that have expired anyway; returns how many. */
export async function deleteExpiredRevocations(db: D1Database, now: Date): Promise<number> {
  const result = await db
    .prepare('DELETE FROM revoked_tokens WHERE expires_at < ?1')
    .bind(epochSeconds(now))
    .run()
  return result.meta.changes
}

/** Unexpired revocations whose tombstone has not been confirmed written, oldest first. */
export async function listUntombstoned(
  db: D1Database,
  now: Date,
  limit: number,
): Promise<{ jti: string; expiresAt: number }[]> {
  const { results } = await db
    .prepare(
      `SELECT jti, expires_at FROM revoked_tokens WHERE tombstoned = 0 AND expires_at > ?1
       ORDER BY revoked_at LIMIT ?2`,
    )
    .bind(epochSeconds(now), limit)
    .all<{ jti: string; expires_at: number }>()
  return results.map((r) => ({ jti: r.jti, expiresAt: r.expires_at }))
}

export async function markTombstoned(db: D1Database, jtis: readonly string[]): Promise<void> {
  if (jtis.length === 0) return
  await db
    .prepare(
      'UPDATE revoked_tokens SET tombstoned = 1 WHERE jti IN (SELECT value FROM json_each(?1))',
    )
    .bind(JSON.stringify(jtis))
    .run()
}

/** Which of these jti are revoked, in one query. */
export async function findRevokedJtis(
  db: D1Database,
  jtis: readonly string[],
): Promise<Set<string>> {
  if (jtis.length === 0) return new Set()
  const { results } = await db
    .prepare('SELECT jti FROM revoked_tokens WHERE jti IN (SELECT value FROM json_each(?1))')
    .bind(JSON.stringify(jtis))
    .all<{ jti: string }>()
  return new Set(results.map((r) => r.jti))
}
