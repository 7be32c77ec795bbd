// The subscriptions table: a provider's subscription to a service and its service_token (SPEC 9).

export type Subscription = {
  providerId: string
  serviceId: number
  serviceToken: string
  status: 'active' | 'revoked'
}

/** The subscription a service_token belongs to, if any. */
export async function findSubscriptionByToken(
  db: D1Database,
  serviceToken: string,
): Promise<Subscription | null> {
  const row = await db
    .prepare(
      `SELECT CAST(provider_id AS TEXT) AS provider_id, service_id, service_token, status
       FROM subscriptions WHERE service_token = ?1`,
    )
    .bind(serviceToken)
    .first<{ provider_id: string; service_id: number; service_token: string; status: Subscription['status'] }>()
  if (!row) return null
  return {
    providerId: row.provider_id,
    serviceId: row.service_id,
    serviceToken: row.service_token,
    status: row.status,
  }
}

/** Subscribes a provider to a service with a new service_token, or gives the existing one. */
export async function insertSubscription(
  db: D1Database,
  providerId: string,
  serviceId: number,
  serviceToken: string = crypto.randomUUID(),
): Promise<string> {
  const row = await db
    .prepare(
      `INSERT INTO subscriptions (provider_id, service_id, service_token)
       VALUES (CAST(?1 AS INTEGER), ?2, ?3)
       ON CONFLICT (provider_id, service_id) DO UPDATE SET provider_id = provider_id
       RETURNING service_token`,
    )
    .bind(providerId, serviceId, serviceToken)
    .first<{ service_token: string }>()
  return row!.service_token
}
