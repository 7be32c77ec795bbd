// A provider's directory as the API shows it: the provider's own listing (GET /recipients) and an
// operator's (GET /admin/providers/{id}/recipients) are the same pages.
import { listRecipients, type Recipient } from '../storage/recipients.ts'
import { toPage } from './paging.ts'

/** One provider's recipients by user id, paged: shared by the provider's and the admin listing. */
export async function recipientPage(
  db: D1Database,
  providerId: string,
  limit: number,
  cursor: string | undefined,
  url: URL,
) {
  const rows = await listRecipients(db, providerId, { after: cursor, limit: limit + 1 })
  return toPage(rows, limit, (r) => r.userId, recipientView, url)
}

export function recipientView(r: Recipient) {
  return {
    user_id: r.userId,
    phone: r.phone,
    fcm_tokens: r.fcmTokens,
    fcm_token_registered_at: r.fcmTokenRegisteredAt,
    sms_opt_out: r.smsOptOut,
    fcm_opt_out: r.fcmOptOut,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  }
}
