// A provider's directory as the API shows it: the provider's own listing (GET /recipients) and an
// operator's (GET /admin/providers/{id}/recipients) are the same pages.
import * as z from 'zod'
import { quietHoursView } from '../domain/dispatch-request.ts'
import { listRecipients, type Recipient } from '../storage/recipients.ts'
import { pageQuery, toPage } from './paging.ts'

/** What a provider's id for a recipient may be. */
export const UserId = z
  .string({ error: 'user_id is required' })
  .min(1, 'user_id must not be empty')
  .max(128, 'user_id must be at most 128 characters')
  .regex(/^[^\s/?#]+$/, 'user_id must not contain spaces, /, ? or #')
  // RFC 3986 §5.2.4: URL parsers remove "." and ".." segments (WHATWG URL even decodes %2E), so
  // /recipients/.. can never reach such a recipient.
  .refine((id) => id !== '.' && id !== '..', 'user_id must not be . or ..')

/** The 404 of a recipient the directory does not hold. */
export const noRecipient = (userId: string) =>
  `No recipient "${userId}" in this provider's directory.`

/**
 * A recipient's user id in a path (URL-encoded), and the cursor of its pages: any text, since a
 * directory may hold ids stored before UserId's rules (an import), which must stay reachable.
 */
export const UserIdPath = z
  .string()
  .meta({ description: "The provider's id for the recipient (URL-encoded)." })

/** Pages of recipients by user id: the cursor is the last one's. */
export const RecipientPageQuery = pageQuery(z.string())

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
    time_zone: r.timeZone,
    quiet_hours: quietHoursView(r.quietHours),
    whatsapp_opt_in: r.whatsappOptIn,
    whatsapp_opt_in_at: r.whatsappOptInAt,
    whatsapp_last_inbound_at: r.whatsappInboundAt,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  }
}
