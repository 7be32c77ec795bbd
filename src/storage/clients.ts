// The clients table: OAuth clients of the providers, with their secret digests and public keys.
import { KEYS_COLUMN, parseKeysColumn, type ClientKey } from './client-keys.ts'
import {
  parseTrustedIssuersColumn,
  TRUSTED_ISSUERS_COLUMN,
  type TrustedIssuer,
} from './trusted-issuers.ts'

export type ClientStatus = 'active' | 'disabled'

export type Client = {
  id: string
  /** Decimal string: provider ids are int64 (decisions.md D11); null for operator-level clients. */
  providerId: string | null
  name: string
  /** Empty when the client has no secret and authenticates with its keys only. */
  secretDigest: string
  /** The secret before the last rotation, accepted until `previousSecretExpiresAt`. */
  previousSecretDigest: string | null
  previousSecretExpiresAt: number | null
  allowedScopes: string[]
  audiences: string[]
  tokenLifetime: number
  status: ClientStatus
  /**
   * RFC 9449 §5.2: the client gets DPoP-bound tokens only, with a server nonce (migration 0014).
   * An edge record published before that migration lacks it: read as false.
   */
  dpopBoundAccessTokens: boolean
  /** Tokens issued before this (epoch seconds) are inactive (decisions.md D8). */
  tokensValidAfter: number
  /** The provider's status: a disabled provider's clients cannot log in. */
  providerStatus: 'active' | 'disabled' | null
  /**
   * The provider's number of send shards, which /Services routes by (decisions.md D48). Absent from
   * edge records published before: read as 1.
   */
  providerSendShards?: number
  /**
   * Public keys for private_key_jwt (migration 0013). Absent from edge records published before
   * keys existed: read as none.
   */
  keys?: ClientKey[]
  /**
   * Platforms whose tokens authenticate the client (migration 0025, decisions.md D38). Absent from
   * edge records published before: read as none.
   */
  trustedIssuers?: TrustedIssuer[]
  /**
   * The newest generations of its credentials and rights, each the time it began in epoch
   * milliseconds (migration 0016, decisions.md D34). Absent from edge records published before
   * generations existed: read as [0].
   */
  credentialGenerations?: number[]
  createdAt: string
  updatedAt: string
}

type ClientRow = {
  id: string
  provider_id: string | null
  name: string
  secret_digest: string
  previous_secret_digest: string | null
  previous_secret_expires_at: number | null
  allowed_scopes: string
  audiences: string
  token_lifetime: number
  status: ClientStatus
  dpop_bound_access_tokens: number
  tokens_valid_after: number
  provider_status: 'active' | 'disabled' | null
  provider_send_shards: number | null
  key_set: string | null
  trusted_issuers: string | null
  credential_generations: string
  created_at: string
  updated_at: string
}

function toClient(row: ClientRow): Client {
  return {
    id: row.id,
    providerId: row.provider_id,
    name: row.name,
    secretDigest: row.secret_digest,
    previousSecretDigest: row.previous_secret_digest,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    allowedScopes: row.allowed_scopes.split(' ').filter(Boolean),
    audiences: JSON.parse(row.audiences) as string[],
    tokenLifetime: row.token_lifetime,
    status: row.status,
    dpopBoundAccessTokens: row.dpop_bound_access_tokens === 1,
    tokensValidAfter: row.tokens_valid_after,
    providerStatus: row.provider_status,
    providerSendShards: row.provider_send_shards ?? 1,
    keys: parseKeysColumn(row.key_set),
    trustedIssuers: parseTrustedIssuersColumn(row.trusted_issuers),
    credentialGenerations: JSON.parse(row.credential_generations) as number[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

// provider_id is read as text so that int64 ids survive the trip through JavaScript numbers.
const SELECT_CLIENT = `SELECT c.id, CAST(c.provider_id AS TEXT) AS provider_id, c.name,
  c.secret_digest, c.previous_secret_digest, c.previous_secret_expires_at, c.allowed_scopes,
  c.audiences, c.token_lifetime, c.status, c.dpop_bound_access_tokens, c.tokens_valid_after,
  p.status AS provider_status, p.send_shards AS provider_send_shards, ${KEYS_COLUMN} AS key_set,
  ${TRUSTED_ISSUERS_COLUMN} AS trusted_issuers, c.credential_generations, c.created_at, c.updated_at
  FROM clients c LEFT JOIN providers p ON p.id = c.provider_id`

const NOW = `strftime('%Y-%m-%dT%H:%M:%SZ', 'now')`

export async function findClientById(db: D1Database, id: string): Promise<Client | null> {
  const row = await db.prepare(`${SELECT_CLIENT} WHERE c.id = ?1`).bind(id).first<ClientRow>()
  return row ? toClient(row) : null
}

/** The clients with these ids that exist, in one query. */
export async function findClientsByIds(db: D1Database, ids: readonly string[]): Promise<Client[]> {
  if (ids.length === 0) return []
  const { results } = await db
    .prepare(`${SELECT_CLIENT} WHERE c.id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(ids))
    .all<ClientRow>()
  return results.map(toClient)
}

/** A page of clients in id order after `after`, optionally of one provider. */
export async function listClients(
  db: D1Database,
  { providerId, after, limit }: { providerId?: string; after?: string; limit: number },
): Promise<Client[]> {
  const { results } = await db
    .prepare(
      `${SELECT_CLIENT} WHERE c.id > ?1 AND (?2 IS NULL OR c.provider_id = CAST(?2 AS INTEGER))
       ORDER BY c.id LIMIT ?3`,
    )
    .bind(after ?? '', providerId ?? null, limit)
    .all<ClientRow>()
  return results.map(toClient)
}

export async function listClientIdsOfProvider(
  db: D1Database,
  providerId: string,
): Promise<string[]> {
  const { results } = await db
    .prepare('SELECT id FROM clients WHERE provider_id = CAST(?1 AS INTEGER)')
    .bind(providerId)
    .all<{ id: string }>()
  return results.map((r) => r.id)
}

export type NewClient = {
  id: string
  providerId: string | null
  name: string
  secretDigest: string
  allowedScopes: readonly string[]
  audiences: readonly string[]
  tokenLifetime?: number
  status?: ClientStatus
  /** Tokens naming this id issued before this (epoch seconds) are inactive; 0 by default. */
  tokensValidAfter?: number
  dpopBoundAccessTokens?: boolean
  /** Its first generation (decisions.md D34); [0] by default. */
  credentialGenerations?: readonly number[]
}

/** Inserts a client; false when its id, or its name within the provider, is taken. */
export async function insertClient(db: D1Database, client: NewClient): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO clients (id, provider_id, name, secret_digest, allowed_scopes, audiences,
         token_lifetime, status, tokens_valid_after, dpop_bound_access_tokens,
         credential_generations)
       VALUES (?1, CAST(?2 AS INTEGER), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
       ON CONFLICT DO NOTHING`,
    )
    .bind(
      client.id,
      client.providerId,
      client.name,
      client.secretDigest,
      client.allowedScopes.join(' '),
      JSON.stringify(client.audiences),
      client.tokenLifetime ?? 3600,
      client.status ?? 'active',
      client.tokensValidAfter ?? 0,
      client.dpopBoundAccessTokens ? 1 : 0,
      JSON.stringify(client.credentialGenerations ?? [0]),
    )
    .run()
  return result.meta.changes > 0
}

export type ClientChanges = Partial<
  Pick<
    Client,
    'name' | 'allowedScopes' | 'audiences' | 'tokenLifetime' | 'status' | 'dpopBoundAccessTokens'
  >
>

/**
 * Applies the given changes: 'updated', 'not_found', or 'conflict' when another client of the
 * same provider has the new name (nothing is changed then).
 */
export async function updateClient(
  db: D1Database,
  id: string,
  changes: ClientChanges,
): Promise<'updated' | 'not_found' | 'conflict'> {
  // The NOT EXISTS asks what the unique index clients_provider_name would refuse (names are
  // unique per provider; operator clients, whose provider_id is NULL, may share one).
  const result = await db
    .prepare(
      `UPDATE clients SET
         name = COALESCE(?2, name),
         allowed_scopes = COALESCE(?3, allowed_scopes),
         audiences = COALESCE(?4, audiences),
         token_lifetime = COALESCE(?5, token_lifetime),
         status = COALESCE(?6, status),
         dpop_bound_access_tokens = COALESCE(?7, dpop_bound_access_tokens),
         updated_at = ${NOW}
       WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM clients AS other
         WHERE other.provider_id = clients.provider_id AND other.name = ?2 AND other.id <> ?1)`,
    )
    .bind(
      id,
      changes.name ?? null,
      changes.allowedScopes?.join(' ') ?? null,
      changes.audiences ? JSON.stringify(changes.audiences) : null,
      changes.tokenLifetime ?? null,
      changes.status ?? null,
      changes.dpopBoundAccessTokens === undefined ? null : Number(changes.dpopBoundAccessTokens),
    )
    .run()
  if (result.meta.changes > 0) return 'updated'
  return (await findClientById(db, id)) ? 'conflict' : 'not_found'
}

/**
 * Replaces a client's secret digest. With `graceUntil` (epoch seconds) the old secret keeps
 * working until then; without, it stops at once. True if the client exists.
 */
export async function updateClientSecretDigest(
  db: D1Database,
  id: string,
  secretDigest: string,
  graceUntil: number | null = null,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE clients SET
         previous_secret_digest = CASE WHEN ?3 IS NULL THEN NULL ELSE secret_digest END,
         previous_secret_expires_at = ?3,
         secret_digest = ?2,
         updated_at = ${NOW}
       WHERE id = ?1`,
    )
    .bind(id, secretDigest, graceUntil)
    .run()
  return result.meta.changes > 0
}

/** Tokens of these clients issued before `tokensValidAfter` (epoch seconds) become inactive. */
export async function setTokensValidAfter(
  db: D1Database,
  ids: string[],
  tokensValidAfter: number,
): Promise<void> {
  if (ids.length === 0) return
  await db.batch(
    ids.map((id) =>
      db
        .prepare('UPDATE clients SET tokens_valid_after = ?2 WHERE id = ?1')
        .bind(id, tokensValidAfter),
    ),
  )
}

/** How many generations a client keeps: older ones' tokens are inactive (decisions.md D34). */
export const MAX_CREDENTIAL_GENERATIONS = 16

/**
 * Begins a new generation of these clients' credentials at `nowMs` (epoch milliseconds), or just
 * after their newest one if that is later, so that generations always grow.
 */
export async function beginCredentialGeneration(
  db: D1Database,
  ids: readonly string[],
  nowMs: number,
): Promise<void> {
  if (ids.length === 0) return
  await db
    .prepare(
      `UPDATE clients SET credential_generations = (
         SELECT json_group_array(value) FROM (
           SELECT value FROM (
             SELECT MAX(?2, (SELECT MAX(value) FROM json_each(clients.credential_generations)) + 1)
               AS value
             UNION ALL SELECT value FROM json_each(clients.credential_generations))
           ORDER BY value DESC LIMIT ?3))
       WHERE id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(ids), nowMs, MAX_CREDENTIAL_GENERATIONS)
    .run()
}

export async function deleteClient(db: D1Database, id: string): Promise<boolean> {
  const result = await db.prepare('DELETE FROM clients WHERE id = ?1').bind(id).run()
  return result.meta.changes > 0
}
