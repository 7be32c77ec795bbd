// The revoked_tokens table: jti of tokens revoked before their expiry (RFC 7009).

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
    .bind(Math.floor(now.getTime() / 1000))
    .run()
  return result.meta.changes
}

export type TokenStanding = {
  clientName: string
  /** Disabled when the client or its provider is. */
  clientStatus: 'active' | 'disabled'
  /** Tokens of the client issued before this (seconds since the epoch) are inactive. */
  tokensValidAfter: number
  revoked: boolean
}

/** What D1 says about a token: its client's state and whether its jti is revoked. One query. */
export async function findTokenStanding(
  db: D1Database,
  clientId: string,
  jti: string,
): Promise<TokenStanding | null> {
  const row = await db
    .prepare(
      `SELECT c.name, CASE WHEN p.status = 'disabled' THEN 'disabled' ELSE c.status END AS status,
         c.tokens_valid_after, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?2) AS revoked
       FROM clients c LEFT JOIN providers p ON p.id = c.provider_id WHERE c.id = ?1`,
    )
    .bind(clientId, jti)
    .first<{ name: string; status: 'active' | 'disabled'; tokens_valid_after: number; revoked: number }>()
  if (!row) return null
  return {
    clientName: row.name,
    clientStatus: row.status,
    tokensValidAfter: row.tokens_valid_after,
    revoked: row.revoked === 1,
  }
}
