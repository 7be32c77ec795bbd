// How an address is shown to a provider (the status view, webhook events): phone numbers and
// registration tokens masked, for neither needs the personal data.
import type { Channel } from '../channel.ts'

/** The first 3 and last 4 characters, the rest as dots. */
export function mask(address: string): string {
  const hidden = '•'.repeat(Math.max(0, address.length - 7))
  return `${address.slice(0, 3)}${hidden}${address.slice(-4)}`
}

/** A delivery's address: a phone (SMS, WhatsApp) masked, an FCM registration token cut short. */
export function maskAddress(channel: Channel, address: string): string {
  return channel === 'fcm' ? `${address.slice(0, 6)}…` : mask(address)
}
