// The providers table: the service providers of the ecosystem (document 001's provider_id).

export type NewProvider = { id: string; name: string }

/** Inserts a provider; `id` is a decimal int64 string (SPEC 11). False if the id is taken. */
export async function insertProvider(db: D1Database, provider: NewProvider): Promise<boolean> {
  const result = await db
    .prepare('INSERT INTO providers (id, name) VALUES (CAST(?1 AS INTEGER), ?2) ON CONFLICT DO NOTHING')
    .bind(provider.id, provider.name)
    .run()
  return result.meta.changes > 0
}
