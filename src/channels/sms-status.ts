// The SMS API's status callbacks (Twilio's StatusCallback requests): what a MessageStatus and an
// ErrorCode mean for a delivery. The request's signature is checked by sms-signature.ts first.
import type { DeliveryReceipt } from '../channel.ts'
import { PERMANENT_BY_CODE } from './sms.ts'

/** The fields of a status callback Portero reads; the API sends more (To, From, ApiVersion…). */
export type SmsStatusFields = {
  MessageSid: string
  MessageStatus: string
  AccountSid: string
  ErrorCode?: string | undefined
}

// Twilio's delivery error codes (https://www.twilio.com/docs/api/errors), the common ones.
const ERROR_TEXT: Record<string, string> = {
  '21610': 'the recipient replied STOP (unsubscribed)',
  '30003': 'the handset is unreachable (switched off or out of coverage)',
  '30004': 'the message was blocked by the recipient or the carrier',
  '30005': 'the number is unknown or no longer in service',
  '30006': 'a landline or an unreachable carrier',
  '30007': 'filtered by the carrier as spam',
  '30008': 'an unknown error at the carrier',
  '63016': "outside WhatsApp's 24-hour session window: only a template may be sent",
  '63024': 'not a WhatsApp user, or the number is invalid',
}

const FINAL = new Set(['delivered', 'undelivered', 'failed'])

export function readSmsStatus(fields: SmsStatusFields): DeliveryReceipt {
  const apiStatus = fields.MessageStatus.toLowerCase()
  const errorCode = fields.ErrorCode?.trim() || null
  // WhatsApp's `read` comes after (or instead of) `delivered`: the message reached the person.
  const final = apiStatus === 'read' ? 'delivered' : apiStatus
  const outcome = FINAL.has(final) ? (final as 'delivered' | 'undelivered' | 'failed') : 'progress'
  let reason: string | null = null
  if (outcome === 'undelivered' || outcome === 'failed') {
    const code = errorCode ? `, error ${errorCode}` : ''
    const text = errorCode ? ERROR_TEXT[errorCode] : undefined
    reason = `SMS provider reported the message ${outcome}${code}${text ? `: ${text}` : ''}`
  }
  const optedOut = errorCode !== null && PERMANENT_BY_CODE[Number(errorCode)] === 'opted_out'
  return { messageSid: fields.MessageSid, outcome, apiStatus, errorCode, reason, optedOut }
}
