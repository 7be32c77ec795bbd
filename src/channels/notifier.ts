// The one interface every delivery channel implements. A provider's answer is data, not an
// exception: only a bug throws.
import type { Channel } from '../channel.ts'

/** One delivery: one channel, one address, one content. */
export type OutboundMessage = {
  /** The delivery id. Sent as the FCM collapse key / tag, so a retried push replaces the first. */
  id: string
  channel: Channel
  /** E.164 phone number for SMS; an FCM registration token for FCM. */
  to: string
  title: string
  body: string
  link?: string
  /** Public URL of a picture (decisions.md D19): FCM's notification image, or an MMS MediaUrl. */
  pictureUrl?: string
}

/** Why a permanent failure happened, when the recipient directory should act on it. */
export type PermanentFailure =
  | 'invalid_destination' // bad or non-mobile number, malformed registration token
  | 'unregistered' // FCM: the app was uninstalled; remove the token from the recipient
  | 'opted_out' // SMS: the person replied STOP; mark the recipient opted out of SMS

export type SendResult =
  | { ok: true; providerMessageId: string }
  | {
      ok: false
      /** 429, 5xx, network errors and timeouts are retryable; other 4xx are not. */
      retryable: boolean
      /** From the provider's Retry-After header, in seconds. */
      retryAfterSeconds?: number
      /** No credentials, no tokens; shown to the provider unless `operatorFault`. */
      reason: string
      permanent?: PermanentFailure
      /** The channel's own error code, when it gave one (the SMS API's `code`, e.g. 21610). */
      errorCode?: string
      /**
       * The operator's own account or settings failed (credentials refused, a wrong account or
       * project), not this message: the provider is shown a neutral text, the reason is logged.
       */
      operatorFault?: true
    }

export interface Notifier {
  readonly channel: Channel
  send(message: OutboundMessage): Promise<SendResult>
}
