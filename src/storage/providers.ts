// The providers table: the service providers of the ecosystem (document 001's provider_id), with
// their send quotas.
import { firstRow, type BatchRead } from './batch.ts'

export type ProviderStatus = 'active' | 'disabled'

/** A provider's own send quotas (docs/sending.md "Send quotas"); null: the deployment's default. */
export type QuotaOverrides = {
  perMinute: number | null
  perDay: number | null
  perDestinationHour: number | null
}

export type Provider = {
  id: string
  name: string
  status: ProviderStatus
  quotas: QuotaOverrides
  /** How many send shards admit its messages (decisions.md D32). */
  sendShards: number
  /** Its messages go to no channel, their statuses simulated (docs/sending.md "Sandbox"). */
  sandbox: boolean
  createdAt: string
  updatedAt: string
}

type QuotaRow = {
  quota_per_minute: number | null
  quota_per_day: number | null
  quota_per_destination_hour: number | null
}

type ProviderRow = QuotaRow & {
  id: string
  name: string
  status: ProviderStatus
  send_shards: number
  sandbox: number
  created_at: string
  updated_at: string
}

function toQuotas(row: QuotaRow): QuotaOverrides {
  return {
    perMinute: row.quota_per_minute,
    perDay: row.quota_per_day,
    perDestinationHour: row.quota_per_destination_hour,
  }
}

function toProvider(row: ProviderRow): Provider {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    quotas: toQuotas(row),
    sendShards: row.send_shards,
    sandbox: row.sandbox === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

const QUOTA_COLUMNS = 'quota_per_minute, quota_per_day, quota_per_destination_hour'

// The id is read as text: provider ids are int64 and must survive JavaScript numbers
// (decisions.md D11).
const SELECT_PROVIDER = `SELECT CAST(id AS TEXT) AS id, name, status, ${QUOTA_COLUMNS},
  send_shards, sandbox, created_at, updated_at FROM providers`

export type NewProvider = { id?: string; name: string; sandbox?: boolean }

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
      `INSERT INTO providers (id, name, sandbox) VALUES (CAST(?1 AS INTEGER), ?2, ?3)
       ON CONFLICT DO NOTHING RETURNING CAST(id AS TEXT) AS id`,
    )
    .bind(provider.id ?? null, provider.name, provider.sandbox ? 1 : 0)
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
  changes: Partial<Pick<Provider, 'name' | 'status' | 'sandbox'>>,
): Promise<boolean> {
  const sandbox = changes.sandbox === undefined ? null : changes.sandbox ? 1 : 0
  const result = await db
    .prepare(
      `UPDATE providers SET name = COALESCE(?2, name), status = COALESCE(?3, status),
         sandbox = COALESCE(?4, sandbox), updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE id = CAST(?1 AS INTEGER)`,
    )
    .bind(id, changes.name ?? null, changes.status ?? null, sandbox)
    .run()
  return result.meta.changes > 0
}

/** What /Services needs of a provider to send: its quota overrides, shard count and sandbox. */
export type SendSettings = { quotas: QuotaOverrides; sendShards: number; sandbox: boolean }

/**
 * A provider's send settings, for readBatch (no overrides and one shard when there is no such
 * provider).
 */
export function selectSendSettings(db: D1Database, id: string): BatchRead<SendSettings> {
  const none = {
    quotas: { perMinute: null, perDay: null, perDestinationHour: null },
    sendShards: 1,
    sandbox: false,
  }
  return {
    statements: [
      db
        .prepare(
          `SELECT ${QUOTA_COLUMNS}, send_shards, sandbox FROM providers
           WHERE id = CAST(?1 AS INTEGER)`,
        )
        .bind(id),
    ],
    read: ([result]) =>
      firstRow(result, (row: QuotaRow & { send_shards: number; sandbox: number }) => ({
        quotas: toQuotas(row),
        sendShards: row.send_shards,
        sandbox: row.sandbox === 1,
      })) ?? none,
  }
}

/** Replaces a provider's quota overrides; false if there is no such provider. */
export async function setProviderQuotas(
  db: D1Database,
  id: string,
  quotas: QuotaOverrides,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE providers SET quota_per_minute = ?2, quota_per_day = ?3,
         quota_per_destination_hour = ?4, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE id = CAST(?1 AS INTEGER)`,
    )
    .bind(id, quotas.perMinute, quotas.perDay, quotas.perDestinationHour)
    .run()
  return result.meta.changes > 0
}

/** Sets how many send shards admit a provider's messages; false if there is no such provider. */
export async function setProviderSendShards(
  db: D1Database,
  id: string,
  sendShards: number,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE providers SET send_shards = ?2,
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE id = CAST(?1 AS INTEGER)`,
    )
    .bind(id, sendShards)
    .run()
  return result.meta.changes > 0
}

/**
 * Deletes a provider and, in the same transaction, everything of it D1 holds: its messages' index
 * rows, recipients, suppressions, subscriptions and clients. The caller has made its clients'
 * tokens inactive, and has its send shards forget their messages (decisions.md D32).
 */
export async function deleteProviderCascade(db: D1Database, id: string): Promise<boolean> {
  const statements = [
    'DELETE FROM message_index WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM recipients WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM suppressions WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM subscriptions WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM clients WHERE provider_id = CAST(?1 AS INTEGER)',
    'DELETE FROM providers WHERE id = CAST(?1 AS INTEGER)',
  ].map((sql) => db.prepare(sql).bind(id))
  const results = await db.batch(statements)
  return results.at(-1)!.meta.changes > 0
}
