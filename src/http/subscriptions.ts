// One provider's subscriptions as the API answers them: the admin's listing of a provider's and the
// provider's own (GET /subscriptions) are the same pages.
import * as z from 'zod'
import { listSubscriptions, type Subscription } from '../storage/subscriptions.ts'
import { pageQuery, toPage } from './paging.ts'

/** Pages of a provider's subscriptions: the cursor is the last service id. */
export const SubscriptionPageQuery = pageQuery(
  z
    .string()
    .regex(/^\d{1,10}$/)
    .transform(Number),
)

/** One provider's subscriptions, paged: shared by the admin and the provider's own listing. */
export async function subscriptionPage(
  db: D1Database,
  providerId: string,
  limit: number,
  cursor: number | undefined,
  url: URL,
) {
  const rows = await listSubscriptions(db, providerId, { after: cursor, limit: limit + 1 })
  return toPage(rows, limit, (s) => String(s.serviceId), subscriptionView, url)
}

export function subscriptionView(s: Subscription) {
  return {
    provider_id: s.providerId,
    service_id: s.serviceId,
    service_token: s.serviceToken,
    status: s.status,
    created_at: s.createdAt,
  }
}
