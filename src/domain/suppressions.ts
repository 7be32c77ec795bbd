// The suppression list (docs/sending.md "Suppression list", decisions.md D28): numbers no SMS may go to. A
// STOP reply to the shared sender number suppresses the number for every provider and START lifts
// it; operators suppress numbers per provider; /Services refuses a suppressed number however it
// is addressed, and the consumer withholds deliveries to one suppressed after acceptance.
import { conflict, notFound } from '../errors.ts'
import {
  applyInboundKeyword,
  deleteSuppressions,
  findSuppressions,
  insertSuppression,
  type InboundKeyword,
  type Suppression,
} from '../storage/suppressions.ts'
import { recordWhatsAppInbound } from '../storage/recipients.ts'
import { E164 } from '../utils/e164.ts'

// The SMS API's standard opt-out and opt-in keywords (Twilio, "Advanced Opt-Out"; REVOKE and
// OPTOUT under the FCC's rule in force since April 2025, in Twilio's defaults since May 2025): the
// whole message, in any case, with surrounding spaces ignored.
const KEYWORDS = new Map<string, InboundKeyword>([
  ...['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT'].map(
    (w) => [w, 'stop'] as const,
  ),
  ...['START', 'UNSTOP', 'YES'].map((w) => [w, 'start'] as const),
])

/**
 * A WhatsApp message a person wrote to the deployment's WhatsApp sender (the same webhook, `From`
 * written `whatsapp:+E164`; decisions.md D47): it opens WhatsApp's 24-hour session window for
 * every recipient with that phone, and an opt-out word withdraws their WhatsApp opt-in. SMS
 * suppressions are not touched: WhatsApp's consent is its own. A replay opens the window again,
 * which at worst lets a free-form message be tried and refused by WhatsApp (error 63016).
 */
export async function receiveInboundWhatsApp(
  db: D1Database,
  message: { from: string; body: string },
  now: Date,
): Promise<'recorded' | 'ignored'> {
  const phone = message.from.replace(/^whatsapp:/, '')
  if (!E164.test(phone)) return 'ignored'
  const optOut = KEYWORDS.get(message.body.trim().toUpperCase()) === 'stop'
  await recordWhatsAppInbound(db, phone, now, optOut)
  return 'recorded'
}

/** `replayed`: a message with this MessageSid was applied before, so this one changes nothing. */
export type InboundOutcome = 'suppressed' | 'lifted' | 'replayed' | 'ignored'

/**
 * An inbound message the SMS API forwarded (its webhook; the caller has checked the API's
 * signature, src/http/sms-callback.ts): STOP and the other opt-out words suppress the sender's
 * number for every provider, START and the other opt-in words lift that. With Advanced Opt-Out
 * the API names the keyword's kind itself (`optOutType` STOP, START or HELP, the operator's own
 * keywords in any language included), and that decides instead of the word list. Each MessageSid
 * is applied once (decisions.md D28): a signed request replayed later, after the recipient has
 * sent the opposite word, must not undo it. `requestId` names the request that applied it: a
 * fresh id made for each request (src/http/request-id.ts), never read from it, so a copy cannot
 * pass for the request that applied the original.
 */
export async function receiveInboundSms(
  db: D1Database,
  message: { from: string; body: string; messageSid: string; optOutType?: string | undefined },
  requestId: string,
): Promise<InboundOutcome> {
  const kind = message.optOutType?.trim().toUpperCase() || undefined
  const keyword =
    kind === undefined
      ? KEYWORDS.get(message.body.trim().toUpperCase())
      : kind === 'STOP'
        ? 'stop'
        : kind === 'START'
          ? 'start'
          : undefined
  if (!keyword || !E164.test(message.from)) return 'ignored'
  const applied = await applyInboundKeyword(db, {
    sid: message.messageSid,
    phone: message.from,
    keyword,
    requestId,
  })
  if (!applied) return 'replayed'
  return keyword === 'stop' ? 'suppressed' : 'lifted'
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
