// The delivery channels and a delivery's and a message's statuses, which requests, stored messages and notifiers
// all name, and how an SMS carries a message: rules the request's checks and the SMS notifier must agree on.

/** The delivery channels, in the order of their numeric codes (1, 2, 3: dispatch-request.ts). */
export const CHANNELS = ['sms', 'fcm', 'whatsapp'] as const
export type Channel = (typeof CHANNELS)[number]

/** How answers and messages name each channel. */
export const CHANNEL_LABELS: Record<Channel, string> = {
  sms: 'SMS',
  fcm: 'FCM',
  whatsapp: 'WhatsApp',
}

/**
 * A WhatsApp template (decisions.md D47): the Content API's id (HX + 32 hex digits) and the values
 * of its placeholders, sent instead of the text outside the 24-hour session window.
 */
export type WhatsAppTemplate = { contentSid: string; variables: Record<string, string> | null }

/** WhatsApp's customer service window: free-form messages only this long after the last inbound. */
export const WHATSAPP_SESSION_HOURS = 24

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

/** One status for a whole message, summed up from its deliveries' (domain/dispatch.ts). */
export const MESSAGE_STATUSES = [
  'scheduled',
  'queued',
  'sending',
  'sent',
  'delivered',
  'partially_delivered',
  'partially_sent',
  'undelivered',
  'failed',
  'dead',
  'cancelled',
] as const
export type MessageStatus = (typeof MESSAGE_STATUSES)[number]

/**
 * What a channel reports about a sent delivery (the SMS API's status callback, read by
 * channels/sms-status.ts): a final outcome, or `progress` for the statuses on the way (accepted,
 * queued, sending, sent), which change nothing.
 */
export type DeliveryReceipt = {
  messageSid: string
  outcome: 'delivered' | 'undelivered' | 'failed' | 'progress'
  /** The API's own status word (MessageStatus), for the answer. */
  apiStatus: string
  errorCode: string | null
  /** What went wrong, for the delivery's last_error; null when delivered or on the way. */
  reason: string | null
  /** ErrorCode 21610: the recipient replied STOP. */
  optedOut: boolean
}

/** Twilio refuses a longer body (error 21617). */
export const MAX_SMS_TEXT_CHARS = 1600

/** Document 001: on SMS the link is part of the message text. */
export function smsText(text: { title: string; body: string; link?: string }): string {
  const { title, body, link } = text
  return link ? `${title}\n${body}\n${link}` : `${title}\n${body}`
}

/**
 * The SMS routes (decisions.md D45): the SMS API of SMS_* (Twilio's Messages API), and the
 * optional second vendor's (Vonage's SMS API, VONAGE_*) that takes over when the first fails.
 */
export const SMS_ROUTES = ['primary', 'secondary'] as const
export type SmsRoute = (typeof SMS_ROUTES)[number]

/**
 * What one send by the primary SMS route says of its health: it answered (`ok`, accepted or
 * refused for the message's own sake), it failed for now (`transient`: 429, 5xx, no answer), or it
 * refused Portero's own account or settings (`misconfigured`).
 */
export type RouteOutcome = 'ok' | 'transient' | 'misconfigured'
