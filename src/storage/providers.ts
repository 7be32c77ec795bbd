// The providers table: the service providers of the ecosystem (document 001's provider_id).

export type ProviderStatus = 'active' | 'disabled'

export type Provider = {
  id: string
  name: string
  status: ProviderStatus
  createdAt: string
  updatedAt: string
}

type ProviderRow = {
  id: string
  name: string
  status: ProviderStatus
  created_at: string
  updated_at: string
}

function toProvider(row: ProviderRow): Provider {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

// The id is read as text: provider ids are int64 and must survive JavaScript numbers
// (decisions.md D11).
const SELECT_PROVIDER = `SELECT CAST(id AS TEXT) AS id, name, status, created_at, updated_at
  FROM providers`

export type NewProvider = { id?: string; name: string }

/**
 * Inserts a provider and returns its id (`id` is a decimal int64 string; without one the next
 * free id is taken). Null if the id is taken.
 */
export async function insertProvider(
  db: D1Database,
  provider: NewProvider,
): Promise<string | null> {
  const row = await db
    .prepare(
      `INSERT INTO providers (id, name) VALUES (CAST(?1 AS INTEGER), ?2) ON CONFLICT DO NOTHING
       RETURNING CAST(id AS TEXT) AS id`,
    )
    .bind(provider.id ?? null, provider.name)
    .first<{ id: string }>()
  return row?.id ?? null
}

export async function findProviderById(db: D1Database, id: string): Promise<Provider | null> {
  const row = await db
    .prepare(`${SELECT_PROVIDER} WHERE id = CAST(?1 AS INTEGER)`)
    .bind(id)
    .first<ProviderRow>()
  return row ? toProvider(row) : null
}

/** A page of providers in id order, after the id `after`. */
export async function listProviders(
  db: D1Database,
  { after, limit }: { after?: string; limit: number },
) {
  // ORDER BY the column, not the `id` alias: the alias is text, and '10' sorts before '9'.
  const { results } = await db
    .prepare(
      `${SELECT_PROVIDER} WHERE providers.id > CAST(?1 AS INTEGER) ORDER BY providers.id LIMIT ?2`,
    )
    .bind(after ?? '-9223372036854775808', limit)
    .all<ProviderRow>()
  return results.map(toProvider)
}

export async function updateProvider(
  db: D1Database,
  id: string,
  changes: Partial<Pick<Provider, 'name' | 'status'>>,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE providers SET name = COALESCE(?2, name), status = COALESCE(?3, status),
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE id = CAST(?1 AS INTEGER)`,
    )
    .bind(id, changes.name ?? null, changes.status ?? null)
    .run()
  return result.meta.changes > 0
}

/**
 * Deletes a provider and, in the same transaction, everything that belongs to it: the deliveries'
 * timeline, deliveries, messages, recipients, subscriptions and clients. The caller has made its clients' tokens
 * inactive.
 */
export async function deleteProviderCascade(db: D1Database, id: string): Promise<boolean> {
  const statements = [
    'DELETE FROM delivery_events WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM deliveries WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM messages WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM recipients WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM subscriptions WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM clients WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM providers WHERE id = CAST(?1 AS INTEGER)',
  ].map((sql) => db.prepare(sql).bind(id))
  const results = await db.batch(statements)
  return results.at(-1)!.meta.changes > 0
}
