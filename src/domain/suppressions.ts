// The suppression list (README "Suppression list", decisions.md D28): numbers no SMS may go to. A
// STOP reply to the shared sender number suppresses the number for every provider and START lifts
// it; operators suppress numbers per provider; /Services refuses a suppressed number however it
// is addressed, and the consumer withholds deliveries to one suppressed after acceptance.
import { conflict, notFound } from '../errors.ts'
import {
  ALL_PROVIDERS,
  deleteSuppressions,
  findSuppressions,
  insertSuppression,
  type Suppression,
} from '../storage/suppressions.ts'
import { E164 } from '../utils/e164.ts'

// The SMS API's standard opt-out and opt-in keywords (Twilio, "Advanced Opt-Out"; REVOKE and
// OPTOUT under the FCC's rule in force since April 2025, in Twilio's defaults since May 2025): the
// whole message, in any case, with surrounding spaces ignored.
const STOP_WORDS = new Set([
  'STOP',
  'STOPALL',
  'UNSUBSCRIBE',
  'CANCEL',
  'END',
  'QUIT',
  'REVOKE',
  'OPTOUT',
])
const START_WORDS = new Set(['START', 'UNSTOP', 'YES'])

/** The sources a recipient's own START lifts: both record a STOP to the sender number. */
const LIFTED_BY_START = ['stop_reply', 'sms_api_error'] as const

export type InboundOutcome = 'suppressed' | 'lifted' | 'ignored'

/**
 * An inbound message the SMS API forwarded (its webhook; the caller has checked the API's
 * signature, src/http/sms-callback.ts): STOP and the other opt-out words suppress the sender's
 * number for every provider, START and the other opt-in words lift that. With Advanced Opt-Out
 * the API names the keyword's kind itself (`optOutType` STOP, START or HELP, the operator's own
 * keywords in any language included), and that decides instead of the word list.
 */
export async function receiveInboundSms(
  db: D1Database,
  message: { from: string; body: string; optOutType?: string | undefined },
): Promise<InboundOutcome> {
  const kind = message.optOutType?.trim().toUpperCase() || undefined
  const word = message.body.trim().toUpperCase()
  if (!E164.test(message.from)) return 'ignored'
  if (kind === 'STOP' || (kind === undefined && STOP_WORDS.has(word))) {
    await insertSuppression(db, ALL_PROVIDERS, message.from, 'stop_reply')
    return 'suppressed'
  }
  if (kind === 'START' || (kind === undefined && START_WORDS.has(word))) {
    await deleteSuppressions(db, ALL_PROVIDERS, message.from, [...LIFTED_BY_START])
    return 'lifted'
  }
  return 'ignored'
}

/** An operator suppresses a number for one provider; 409 `conflict` when it already did. */
export async function suppressNumber(db: D1Database, providerId: string, phone: string) {
  if (!(await insertSuppression(db, providerId, phone, 'admin'))) {
    throw conflict(`The number is already suppressed by an operator for provider ${providerId}.`)
  }
  const own = await findSuppressions(db, providerId, phone)
  return own.find((s) => s.source === 'admin' && s.providerId === providerId)!
}

const NOT_LIFTED_HERE: Record<Exclude<Suppression['source'], 'admin'>, string> = {
  directory: "the recipient's SMS opt-out flag: change it through /recipients",
  stop_reply: 'a STOP reply: only the recipient lifts it, by replying START',
  sms_api_error: 'the SMS API reported a STOP: only the recipient lifts it, by replying START',
}

/**
 * Lifts an operator's suppression of a number for one provider. 404 when the number is not
 * suppressed; 409 `conflict` when it is, but not by an operator (the recipient's own opt-out).
 */
export async function liftSuppression(
  db: D1Database,
  providerId: string,
  phone: string,
): Promise<void> {
  if ((await deleteSuppressions(db, providerId, phone, ['admin'])) > 0) return
  const others = await findSuppressions(db, providerId, phone)
  const other = others.find((s) => s.source !== 'admin')
  if (!other || other.source === 'admin') {
    throw notFound(`The number is not suppressed for provider ${providerId}.`)
  }
  throw conflict(`The number is suppressed by ${NOT_LIFTED_HERE[other.source]}.`)
}
