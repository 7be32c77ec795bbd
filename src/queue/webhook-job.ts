// The bodies of webhook queue messages: an event to fan out to its endpoints, or the delivery of
// an event to one endpoint. D1 holds the event and the delivery's state (decisions.md D26).
import * as z from 'zod'

export const WebhookFanOutJob = z.strictObject({ eventId: z.string().min(1).max(100) })
export const WebhookDeliveryJob = z.strictObject({
  eventId: z.string().min(1).max(100),
  endpointId: z.string().min(1).max(100),
})
export type WebhookFanOutJob = z.infer<typeof WebhookFanOutJob>
export type WebhookDeliveryJob = z.infer<typeof WebhookDeliveryJob>
export const WebhookJob = z.union([WebhookDeliveryJob, WebhookFanOutJob])
export type WebhookJob = z.infer<typeof WebhookJob>
