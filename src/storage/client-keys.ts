// The client_keys table: each client's public keys for private_key_jwt (migration 0013). The keys
// also travel in the client's edge record (storage/clients.ts reads them with the client), so
// /oauth/token verifies an assertion without reading D1.
import type { JWK } from 'jose'

export type ClientKeyAlgorithm = 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256'

export type ClientKey = {
  kid: string
  alg: ClientKeyAlgorithm
  /** The public JWK as registered (public members, kid and alg only). */
  jwk: JWK
  /** Seconds since the epoch. */
  createdAt: number
  /** Assertions signed with this key are refused from then on (epoch seconds); null: no end. */
  expiresAt: number | null
}

/** The columns of a client's keys as one JSON array, for a SELECT of clients. */
export const KEYS_COLUMN = `(SELECT json_group_array(json_object('kid', k.kid, 'alg', k.alg,
    'jwk', json(k.jwk), 'createdAt', k.created_at, 'expiresAt', k.expires_at))
  FROM client_keys k WHERE k.client_id = c.id)`

/** The keys of KEYS_COLUMN, in kid order. */
export function parseKeysColumn(json: string | null): ClientKey[] {
  const keys = json ? (JSON.parse(json) as ClientKey[]) : []
  return keys.sort((a, b) => (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0))
}

/** The statements adding `keys` to a client, for one batch with whatever else changes. */
export function insertKeyStatements(
  db: D1Database,
  clientId: string,
  keys: readonly Omit<ClientKey, 'expiresAt'>[],
): D1PreparedStatement[] {
  return keys.map((key) =>
    db
      .prepare(
        `INSERT INTO client_keys (client_id, kid, jwk, alg, created_at) VALUES (?1, ?2, ?3, ?4, ?5)`,
      )
      .bind(clientId, key.kid, JSON.stringify(key.jwk), key.alg, key.createdAt),
  )
}

/** Adds keys in one batch. */
export async function insertClientKeys(
  db: D1Database,
  clientId: string,
  keys: readonly Omit<ClientKey, 'expiresAt'>[],
): Promise<void> {
  if (keys.length > 0) await db.batch(insertKeyStatements(db, clientId, keys))
}

/**
 * A rotation, in one batch: every key of the client without an earlier end ends at `oldUntil`
 * (deleted at once when that is null), then the new keys are added.
 */
export async function rotateClientKeys(
  db: D1Database,
  clientId: string,
  keys: readonly Omit<ClientKey, 'expiresAt'>[],
  oldUntil: number | null,
): Promise<void> {
  const retire =
    oldUntil === null
      ? db.prepare('DELETE FROM client_keys WHERE client_id = ?1').bind(clientId)
      : db
          .prepare(
            `UPDATE client_keys SET expires_at = ?2
             WHERE client_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)`,
          )
          .bind(clientId, oldUntil)
  await db.batch([retire, ...insertKeyStatements(db, clientId, keys)])
}

/** Removes one key; false when the client has no key with this kid. */
export async function deleteClientKey(
  db: D1Database,
  clientId: string,
  kid: string,
): Promise<boolean> {
  const result = await db
    .prepare('DELETE FROM client_keys WHERE client_id = ?1 AND kid = ?2')
    .bind(clientId, kid)
    .run()
  return result.meta.changes > 0
}

/** Drops keys whose overlap ended before `now` (epoch seconds): they verify nothing any more. */
export async function deleteExpiredClientKeys(
  db: D1Database,
  clientId: string,
  now: number,
): Promise<void> {
  await db
    .prepare('DELETE FROM client_keys WHERE client_id = ?1 AND expires_at <= ?2')
    .bind(clientId, now)
    .run()
}
