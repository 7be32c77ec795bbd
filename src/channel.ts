// The delivery channels and a delivery's statuses, which requests, stored messages and notifiers
// all name, and how an SMS carries a message: rules the request's checks and the SMS notifier must agree on.

export type Channel = 'sms' | 'fcm'

/** A delivery's lifecycle (decisions.md D27), in order: the last four are final. */
export const DELIVERY_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'dead',
] as const
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number]

/** Twilio refuses a longer body (error 21617). */
export const MAX_SMS_TEXT_CHARS = 1600

/** Document 001: on SMS the link is part of the message text. */
export function smsText(text: { title: string; body: string; link?: string }): string {
  const { title, body, link } = text
  return link ? `${title}\n${body}\n${link}` : `${title}\n${body}`
}
