// The one interface every delivery channel implements. A provider's answer is data, not an
// exception: only a bug throws.
import type { Channel, WhatsAppTemplate } from '../channel.ts'

/** One delivery: one channel, one address, one content. */
export type OutboundMessage = {
  /**
   * The delivery id. FCM sends it as the Android tag, APNs collapse id and web push Topic, so a
   * repeated push replaces the first on the device.
   */
  id: string
  channel: Channel
  /** E.164 phone number for SMS and WhatsApp; an FCM registration token for FCM. */
  to: string
  title: string
  body: string
  link?: string
  /** Public URL of a picture (decisions.md D19): FCM's notification image, or an MMS MediaUrl. */
  pictureUrl?: string
  /** WhatsApp: the approved template sent instead of the text (decisions.md D47). */
  template?: WhatsAppTemplate
  /**
   * The send shard the delivery lives in (decisions.md D32): the SMS API's status callbacks name
   * it, so each receipt goes straight to it.
   */
  shard?: string
  /** A push's acknowledgement URL (decisions.md D46), sent in its data payload as `portero_ack`. */
  ackUrl?: string
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

/**
 * What a channel says about an attempt whose outcome is unknown (the process died between the
 * channel's answer and recording it): `found` with the channel's id for the message it accepted,
 * `false` when it shows none, `'unknown'` when it could not be asked.
 */
export type FindResult =
  | {
      found: true
      providerMessageId: string
      /** The channel's own status word (the SMS API's `queued`, `sent`, `delivered`, `failed`…). */
      status: string
    }
  | { found: false }
  | {
      found: 'unknown'
      /** 429, 5xx, network errors and timeouts: asking again later may answer. */
      retryable: boolean
      retryAfterSeconds?: number
      reason: string
      /** The operator's credentials or account were refused, as in SendResult. */
      operatorFault?: true
    }

/** What the channel's API says of one message it accepted, read by its id. */
export type StatusResult =
  | {
      found: true
      /** The channel's own status word (the SMS API's `queued`, `sent`, `delivered`, `failed`…). */
      status: string
      /** The channel's error code of an undelivered or failed message. */
      errorCode: string | null
    }
  | { found: false }
  | Extract<FindResult, { found: 'unknown' }>

export type FindOptions = {
  /**
   * Ids the channel gave to other deliveries, already recorded: never taken for this one, so two
   * deliveries of the same text to the same address are not mistaken for each other.
   */
  ignore?: ReadonlySet<string>
}

export interface Notifier {
  readonly channel: Channel
  send(message: OutboundMessage): Promise<SendResult>
  /**
   * Whether the channel already accepted `message` in an attempt begun at `notBefore` (recorded
   * before the attempt went out). Only channels whose API can tell implement it (SMS).
   */
  findAccepted?(
    message: OutboundMessage,
    notBefore: Date,
    options?: FindOptions,
  ): Promise<FindResult>
}
