// The subscriptions table: a provider's subscription to a service and its service_token
// (decisions.md D9).
import { firstRow, type BatchRead } from './batch.ts'

export type SubscriptionStatus = 'active' | 'revoked'

export type Subscription = {
  providerId: string
  serviceId: number
  serviceToken: string
  status: SubscriptionStatus
  createdAt: string
}

type SubscriptionRow = {
  provider_id: string
  service_id: number
  service_token: string
  status: SubscriptionStatus
  created_at: string
}

function toSubscription(row: SubscriptionRow): Subscription {
  return {
    providerId: row.provider_id,
    serviceId: row.service_id,
    serviceToken: row.service_token,
    status: row.status,
    createdAt: row.created_at,
  }
}

const COLUMNS =
  'CAST(provider_id AS TEXT) AS provider_id, service_id, service_token, status, created_at'
const SELECT_SUBSCRIPTION = `SELECT ${COLUMNS} FROM subscriptions`

/** The subscription a service_token belongs to, if any, as a read for readBatch. */
export function selectSubscriptionByToken(
  db: D1Database,
  serviceToken: string,
): BatchRead<Subscription | null> {
  return {
    statements: [db.prepare(`${SELECT_SUBSCRIPTION} WHERE service_token = ?1`).bind(serviceToken)],
    read: ([result]) => firstRow(result, toSubscription),
  }
}

export async function findSubscription(
  db: D1Database,
  providerId: string,
  serviceId: number,
): Promise<Subscription | null> {
  const row = await db
    .prepare(`${SELECT_SUBSCRIPTION} WHERE provider_id = CAST(?1 AS INTEGER) AND service_id = ?2`)
    .bind(providerId, serviceId)
    .first<SubscriptionRow>()
  return row ? toSubscription(row) : null
}

/** Subscribes a provider to a service with a new service_token; null if already subscribed. */
export async function insertSubscription(
  db: D1Database,
  providerId: string,
  serviceId: number,
  serviceToken: string = crypto.randomUUID(),
): Promise<Subscription | null> {
  const row = await db
    .prepare(
      `INSERT INTO subscriptions (provider_id, service_id, service_token)
       VALUES (CAST(?1 AS INTEGER), ?2, ?3) ON CONFLICT DO NOTHING
       RETURNING ${COLUMNS}`,
    )
    .bind(providerId, serviceId, serviceToken)
    .first<SubscriptionRow>()
  return row ? toSubscription(row) : null
}

/** A page of a provider's subscriptions in service id order, after `after`. */
export async function listSubscriptions(
  db: D1Database,
  providerId: string,
  { after, limit }: { after?: number; limit: number },
): Promise<Subscription[]> {
  const { results } = await db
    .prepare(
      `${SELECT_SUBSCRIPTION} WHERE provider_id = CAST(?1 AS INTEGER) AND service_id > ?2
       ORDER BY service_id LIMIT ?3`,
    )
    .bind(providerId, after ?? 0, limit)
    .all<SubscriptionRow>()
  return results.map(toSubscription)
}

/** Gives the subscription a new service_token (and makes it active); null if there is none. */
export async function rotateSubscriptionToken(
  db: D1Database,
  providerId: string,
  serviceId: number,
  serviceToken: string = crypto.randomUUID(),
): Promise<Subscription | null> {
  const row = await db
    .prepare(
      `UPDATE subscriptions SET service_token = ?3, status = 'active'
       WHERE provider_id = CAST(?1 AS INTEGER) AND service_id = ?2
       RETURNING ${COLUMNS}`,
    )
    .bind(providerId, serviceId, serviceToken)
    .first<SubscriptionRow>()
  return row ? toSubscription(row) : null
}

/** Revokes the subscription: its service_token stops working. False if there is none. */
export async function revokeSubscription(
  db: D1Database,
  providerId: string,
  serviceId: number,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE subscriptions SET status = 'revoked'
       WHERE provider_id = CAST(?1 AS INTEGER) AND service_id = ?2`,
    )
    .bind(providerId, serviceId)
    .run()
  return result.meta.changes > 0
}
