// The clients table: OAuth clients of the providers, with their secret digests.

export type ClientStatus = 'active' | 'disabled'

export type Client = {
  id: string
  /** Decimal string: provider ids are int64 (SPEC 11); null for operator-level clients. */
  providerId: string | null
  name: string
  secretDigest: string
  allowedScopes: string[]
  audiences: string[]
  tokenLifetime: number
  status: ClientStatus
  createdAt: string
  updatedAt: string
}

export type ClientRow = {
  id: string
  provider_id: string | null
  name: string
  secret_digest: string
  allowed_scopes: string
  audiences: string
  token_lifetime: number
  status: ClientStatus
  created_at: string
  updated_at: string
}

export function toClient(row: ClientRow): Client {
  return {
    id: row.id,
    providerId: row.provider_id,
    name: row.name,
    secretDigest: row.secret_digest,
    allowedScopes: row.allowed_scopes.split(' ').filter(Boolean),
    audiences: JSON.parse(row.audiences) as string[],
    tokenLifetime: row.token_lifetime,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

// provider_id is read as text so that int64 ids survive the trip through JavaScript numbers.
const SELECT_CLIENT = `SELECT id, CAST(provider_id AS TEXT) AS provider_id, name, secret_digest,
  allowed_scopes, audiences, token_lifetime, status, created_at, updated_at FROM clients`

export async function findClientById(db: D1Database, id: string): Promise<Client | null> {
  const row = await db.prepare(`${SELECT_CLIENT} WHERE id = ?1`).bind(id).first<ClientRow>()
  return row ? toClient(row) : null
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
}

export async function insertClient(db: D1Database, client: NewClient): Promise<void> {
  await db
    .prepare(
      `INSERT INTO clients (id, provider_id, name, secret_digest, allowed_scopes, audiences,
         token_lifetime, status)
       VALUES (?1, CAST(?2 AS INTEGER), ?3, ?4, ?5, ?6, ?7, ?8)`,
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
    )
    .run()
}

/** Replaces a client's secret digest; true if the client exists. */
export async function updateClientSecretDigest(
  db: D1Database,
  id: string,
  secretDigest: string,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE clients SET secret_digest = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE id = ?1`,
    )
    .bind(id, secretDigest)
    .run()
  return result.meta.changes > 0
}

/** Sets a client's status and the instant before which its tokens are inactive. */
export async function updateClientTokenStanding(
  db: D1Database,
  id: string,
  status: ClientStatus,
  tokensValidAfter: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE clients SET status = ?2, tokens_valid_after = ?3,
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE id = ?1`,
    )
    .bind(id, status, tokensValidAfter)
    .run()
}
