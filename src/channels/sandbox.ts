// The sandbox channel (docs/sending.md "Sandbox"): what a provider marked sandbox sends through
// instead of the SMS API and FCM. Nothing leaves Portero; each send is answered, and each SMS's
// delivery receipt simulated, from the destination, so a provider's own tests see every status its
// integration must handle, through the same lifecycle, receipts and webhooks as real messages.
import type { Channel } from '../channel.ts'
import type { Notifier, OutboundMessage, SendResult } from './notifier.ts'

/** A receipt the sandbox gives an SMS it accepted: its final status, and how long it takes. */
export type SandboxReceipt = {
  outcome: 'delivered' | 'undelivered' | 'failed'
  /** The SMS API's own status word, as a real receipt carries it. */
  apiStatus: string
  errorCode: string | null
  reason: string | null
  afterSeconds: number
}

/** How long a `slow` SMS takes to be delivered. */
export const SLOW_SECONDS = 60
/** How long every other SMS takes to get its receipt: about what the SMS API takes. */
const RECEIPT_SECONDS = 1

/**
 * The magic destinations: an SMS to one of these numbers (Twilio's test range) or a push to a
 * token with one of these prefixes gets the outcome named; anything else is accepted, and an SMS
 * delivered.
 */
export const MAGIC_SMS = {
  /** Refused at send time: not a valid mobile number (the SMS API's 21211). */
  failed: '+15005550001',
  /** Accepted, then reported undelivered: the handset is unreachable (30003). */
  undelivered: '+15005550010',
  /** Accepted, and delivered a minute later. */
  slow: '+15005550020',
} as const

export const MAGIC_FCM = {
  /** Refused: the app was uninstalled (FCM's UNREGISTERED); the token leaves the recipient. */
  unregistered: 'sandbox-unregistered',
  /** Refused: not a registration token (FCM's INVALID_ARGUMENT). */
  invalid: 'sandbox-invalid',
} as const

/** The sandbox's answer to a send, as the real channel would answer it. */
function sandboxSend(message: OutboundMessage): SendResult {
  const id = crypto.randomUUID().replaceAll('-', '')
  // WhatsApp goes through the same API as SMS, to the same numbers: the same magic destinations.
  if (message.channel !== 'fcm') {
    if (message.to === MAGIC_SMS.failed) {
      const reason = "sandbox: the 'To' number is not a valid phone number (21211)"
      return {
        ok: false,
        retryable: false,
        reason,
        errorCode: '21211',
        permanent: 'invalid_destination',
      }
    }
    // A sid as the SMS API writes one, marked as the sandbox's.
    return { ok: true, providerMessageId: `SM${id}` }
  }
  if (message.to.startsWith(MAGIC_FCM.unregistered)) {
    const reason = 'sandbox: the registration token is no longer registered (UNREGISTERED)'
    return {
      ok: false,
      retryable: false,
      reason,
      errorCode: 'UNREGISTERED',
      permanent: 'unregistered',
    }
  }
  if (message.to.startsWith(MAGIC_FCM.invalid)) {
    const reason = 'sandbox: not a valid registration token (INVALID_ARGUMENT)'
    return {
      ok: false,
      retryable: false,
      reason,
      errorCode: 'INVALID_ARGUMENT',
      permanent: 'invalid_destination',
    }
  }
  return { ok: true, providerMessageId: `projects/sandbox/messages/${id}` }
}

/** The receipt the sandbox gives an SMS it accepted to `to`; pushes get none, as from FCM. */
export function sandboxReceiptFor(to: string): SandboxReceipt {
  if (to === MAGIC_SMS.undelivered) {
    return {
      outcome: 'undelivered',
      apiStatus: 'undelivered',
      errorCode: '30003',
      reason:
        'sandbox: SMS provider reported the message undelivered, error 30003: the handset is unreachable',
      afterSeconds: RECEIPT_SECONDS,
    }
  }
  return {
    outcome: 'delivered',
    apiStatus: 'delivered',
    errorCode: null,
    reason: null,
    afterSeconds: to === MAGIC_SMS.slow ? SLOW_SECONDS : RECEIPT_SECONDS,
  }
}

/** The sandbox as a notifier of each channel. */
export const SANDBOX_NOTIFIERS: Record<Channel, Notifier> = {
  sms: { channel: 'sms', send: async (message) => sandboxSend(message) },
  fcm: { channel: 'fcm', send: async (message) => sandboxSend(message) },
  whatsapp: { channel: 'whatsapp', send: async (message) => sandboxSend(message) },
}
