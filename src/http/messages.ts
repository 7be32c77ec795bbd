// A message as the API shows it: the provider's status view (GET /Services/messages/{id}) and an
// operator's (GET /admin/messages…) are the same, destinations masked in both.
import { messageStatus } from '../domain/dispatch.ts'
import type { DeliveryEvent } from '../storage/delivery-lifecycle.ts'
import type { Delivery, Message } from '../storage/messages.ts'
import { E164 } from '../utils/e164.ts'
import { mask, maskAddress } from '../utils/mask.ts'

/**
 * The message as GET /Services/messages/{id} shows it. Without `events`, the timeline is left out:
 * POST /Services answers before anything happened, and a list leaves it to the message's own page.
 */
export function messageView(message: Message, deliveries: Delivery[], events?: DeliveryEvent[]) {
  // A push that fell back to SMS is summed up by its SMS (decisions.md D46).
  const status = messageStatus(deliveries.filter((d) => d.fallbackDeliveryId === null))
  const due = Math.max(...deliveries.map((d) => d.scheduledFor ?? 0))
  return {
    id: message.id,
    status,
    provider_id: message.providerId,
    service_id: message.serviceId,
    destination: E164.test(message.destination) ? mask(message.destination) : message.destination,
    created_at: message.createdAt,
    scheduled_for: status === 'scheduled' ? isoOf(due) : null,
    sandbox: message.sandbox,
    deliveries: deliveries.map((d) => ({
      id: d.id,
      part: d.part,
      channel: d.channel,
      to: maskAddress(d.channel, d.address),
      status: d.status,
      attempts: d.attempts,
      last_error: d.lastError,
      error_code: d.errorCode,
      provider_message_id: d.providerMessageId,
      picture_url: d.pictureUrl,
      content_sid: d.template?.contentSid ?? null,
      updated_at: d.updatedAt,
      sent_at: d.sentAt,
      scheduled_for:
        d.status === 'queued' && d.scheduledFor !== null ? isoOf(d.scheduledFor) : null,
      fallback_delivery_id: d.fallbackDeliveryId,
      fallback_of: d.fallbackOf,
      reached: d.reached,
      route: d.route,
      ...(events
        ? {
            events: events
              .filter((e) => e.deliveryId === d.id)
              .map((e) => ({
                status: e.status,
                at: e.occurredAt,
                attempt: e.attempt,
                error_code: e.errorCode,
                detail: e.detail,
              })),
          }
        : {}),
    })),
  }
}

const isoOf = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString()
