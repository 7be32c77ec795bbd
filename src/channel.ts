// The delivery channels, which requests, stored messages and notifiers all name, and how an SMS
// carries a message: rules the request's checks and the SMS notifier must agree on.

export type Channel = 'sms' | 'fcm'

/** Twilio refuses a longer body (error 21617). */
export const MAX_SMS_TEXT_CHARS = 1600

/** Document 001: on SMS the link is part of the message text. */
export function smsText(text: { title: string; body: string; link?: string }): string {
  const { title, body, link } = text
  return link ? `${title}\n${body}\n${link}` : `${title}\n${body}`
}
