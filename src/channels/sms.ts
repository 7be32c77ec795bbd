// SMS delivery through an HTTP API shaped like Twilio's Messages API (decisions.md D12), and
// WhatsApp through the same API and account (decisions.md D47: `whatsapp:` addresses, templates).
// The base URL comes from config, so tests and the local stand-in redirect it without a code path
// of their own.
import { smsText, type Channel } from '../channel.ts'
import { fetchWithTimeout, field, parseRetryAfter, readJson, truncate } from './http.ts'
import type {
  FindResult,
  Notifier,
  PermanentFailure,
  SendResult,
  StatusResult,
} from './notifier.ts'

export type SmsNotifierConfig = {
  /** `whatsapp`: the same API, every address written `whatsapp:+E164` (decisions.md D47). */
  channel?: Extract<Channel, 'sms' | 'whatsapp'>
  /** `https://api.twilio.com` in production. */
  baseUrl: string
  accountSid: string
  /** Authenticates the REST calls (HTTP Basic, account SID : auth token) unless `apiKey` is set. */
  authToken: string
  /** A Twilio API key (SK…): the REST calls authenticate as key SID : key secret instead. */
  apiKey?: { sid: string; secret: string } | undefined
  /** The sender: an E.164 number, a short code or an alphanumeric sender id (WhatsApp: E.164). */
  from?: string | undefined
  /** Instead of `from`: a Messaging Service (MG…) that picks the sender from its pool. */
  messagingServiceSid?: string | undefined
  fetch?: typeof globalThis.fetch
  timeoutMs?: number
  /**
   * Where the SMS API posts the message's status changes (StatusCallback): Portero's
   * /callbacks/sms/status under ISSUER (decisions.md D27).
   */
  statusCallbackUrl: string
  /** Only used to turn a Retry-After HTTP date into seconds. */
  now?: () => Date
}

// Twilio error codes that blame the recipient rather than the request.
export const PERMANENT_BY_CODE: Record<number, PermanentFailure> = {
  21211: 'invalid_destination', // invalid 'To' phone number
  21612: 'invalid_destination', // no route to that number
  21614: 'invalid_destination', // 'To' is not a mobile number
  21610: 'opted_out', // the recipient replied STOP
}

/**
 * Twilio error codes that blame the operator's own account setup, not the message or its recipient
 * (decisions.md D12): the provider sees a neutral text, the operator a log line naming the code.
 */
export const OPERATOR_FAULT_CODES: ReadonlySet<number> = new Set([
  21212, // the sender ('From') is not a valid number, short code or alphanumeric id
  21408, // the account's Geo Permissions do not allow the 'To' number's region
  21606, // the sender is not one of the account's numbers, or cannot send SMS
  21659, // the sender is not a Twilio number, or not this account's
  21660, // the sender does not belong to this account (mismatch between From and the account)
  21701, // the Messaging Service does not exist, or is not this account's
  21705, // the Messaging Service sid is not one (MG…)
])

/**
 * An SMS notifier can also ask the message list whether an attempt was accepted, and read one
 * message's status by its sid (Twilio's Fetch Message resource).
 */
export type SmsNotifier = Notifier & {
  findAccepted: NonNullable<Notifier['findAccepted']>
  fetchStatus(messageSid: string): Promise<StatusResult>
}

/**
 * How far before `notBefore` a listed message still counts: Twilio's clock against ours, and its
 * `date_created` in whole seconds. Wider would take more earlier messages of the same text.
 */
export const FIND_CLOCK_SKEW_MS = 30_000
/** At most 3 pages of 50: more messages than that to one number since the attempt is `unknown`. */
export const FIND_PAGE_SIZE = 50
export const FIND_MAX_PAGES = 3

export function createSmsNotifier({
  channel = 'sms',
  baseUrl,
  accountSid,
  authToken,
  apiKey,
  from,
  messagingServiceSid,
  statusCallbackUrl,
  fetch = globalThis.fetch,
  timeoutMs = 10_000,
  now = () => new Date(),
}: SmsNotifierConfig): SmsNotifier {
  const account = encodeURIComponent(accountSid)
  const base = baseUrl.replace(/\/+$/, '')
  const path = `/2010-04-01/Accounts/${account}/Messages.json`
  const url = `${base}${path}`
  // Twilio takes an API key's SID and secret where it takes the account SID and auth token; the
  // URL keeps the account SID either way.
  const [user, password] = apiKey ? [apiKey.sid, apiKey.secret] : [accountSid, authToken]
  const authorization = `Basic ${btoa(`${user}:${password}`)}`
  // Exactly one of them names the sender (config.ts checks it): a service picks its own number.
  // WhatsApp: Twilio tells the channel by the `whatsapp:` prefix of both addresses.
  const address = (number: string) => (channel === 'whatsapp' ? `whatsapp:${number}` : number)
  const vendor = channel === 'whatsapp' ? 'WhatsApp provider' : 'SMS provider'
  const sender: Record<string, string> = messagingServiceSid
    ? { MessagingServiceSid: messagingServiceSid }
    : { From: address(from ?? '') }
  const secrets = [authToken, apiKey?.secret ?? ''].filter((secret) => secret !== '')

  // Belt and braces: no reason may carry a secret, whatever a provider or fetch echoes back.
  function redact<T extends SendResult | FindResult>(result: T): T {
    if (!('reason' in result)) return result
    let reason = result.reason
    for (const secret of secrets) reason = reason.replaceAll(secret, '[redacted]')
    return reason === result.reason ? result : { ...result, reason }
  }

  /**
   * Twilio's List Message resource, newest first: messages from our sender to that number sent
   * on or after the UTC day of `since` (DateSent filters by day only, so an attempt just after
   * midnight asks from the day before), read page by page through `next_page_uri`.
   */
  async function findInList(
    to: string,
    /** null: a template, whose text Twilio writes; any message to `to` since then matches. */
    text: string | null,
    since: Date,
    ignore: ReadonlySet<string>,
  ): Promise<FindResult> {
    // A Messaging Service's messages may come from any number of its pool: matched by its sid.
    const query = new URLSearchParams({
      To: to,
      ...(messagingServiceSid ? {} : { From: address(from ?? '') }),
      // On the wire `DateSent%3E=2026-03-01`, Twilio's `DateSent>=YYYY-MM-DD`.
      'DateSent>': since.toISOString().slice(0, 10),
      PageSize: String(FIND_PAGE_SIZE),
    })
    let next: string | undefined = `${url}?${query}`
    let found: { sid: string; status: string } | undefined
    for (let page = 0; next !== undefined && page < FIND_MAX_PAGES; page++) {
      const outcome = await fetchWithTimeout(
        fetch,
        next,
        { method: 'GET', headers: { authorization, accept: 'application/json' } },
        timeoutMs,
      )
      if (!outcome.ok) {
        return { found: 'unknown', retryable: true, reason: `SMS provider ${outcome.reason}` }
      }
      const listed = await toMessagePage(outcome.response, now())
      if (!('messages' in listed)) return listed
      let older = false
      for (const message of listed.messages) {
        if (message.dateSent !== undefined && message.dateSent < since.getTime()) {
          // The list is sorted by date sent, newest first: the rest were all sent before.
          older = true
          break
        }
        if (
          canonicalNumber(message.to) === to &&
          (text === null || message.body === text) &&
          // A date that does not parse cannot rule the message out.
          !(message.dateCreated < since.getTime()) &&
          (messagingServiceSid === undefined ||
            message.messagingServiceSid === messagingServiceSid) &&
          !ignore.has(message.sid)
        ) {
          // The oldest match is the attempt's: a later one may be another delivery's.
          found = { sid: message.sid, status: message.status }
        }
      }
      next = undefined
      if (older || listed.nextPageUri === null) break
      // Credentials go only to our own account's list, whatever the answer names.
      if (!listed.nextPageUri.startsWith(`${path}?`)) {
        return {
          found: 'unknown',
          retryable: false,
          reason: 'SMS provider answered with a next page outside the message list',
        }
      }
      next = `${base}${listed.nextPageUri}`
    }
    if (found) return { found: true, providerMessageId: found.sid, status: found.status }
    if (next !== undefined) {
      return {
        found: 'unknown',
        retryable: false,
        reason:
          `SMS provider lists more than ${FIND_MAX_PAGES * FIND_PAGE_SIZE} messages ` +
          'to that number since the attempt',
      }
    }
    return { found: false }
  }

  return {
    channel,
    async send(message) {
      // WhatsApp outside the session window: an approved template, its text Twilio's to write.
      const content: Record<string, string> = message.template
        ? {
            ContentSid: message.template.contentSid,
            ...(message.template.variables
              ? { ContentVariables: JSON.stringify(message.template.variables) }
              : {}),
          }
        : { Body: smsText(message) }
      const outcome = await fetchWithTimeout(
        fetch,
        url,
        {
          method: 'POST',
          headers: {
            authorization,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({
            To: address(message.to),
            ...sender,
            ...content,
            StatusCallback: statusCallbackFor(statusCallbackUrl, message.shard),
            // Twilio sends an MMS (or WhatsApp media) when MediaUrl is set (decisions.md D19); it
            // fetches the URL itself. A template brings its own.
            ...(message.pictureUrl && !message.template ? { MediaUrl: message.pictureUrl } : {}),
          }).toString(),
        },
        timeoutMs,
      )
      if (!outcome.ok) {
        return redact({ ok: false, retryable: true, reason: `${vendor} ${outcome.reason}` })
      }
      return redact(await toSendResult(outcome.response, now(), vendor))
    },
    /**
     * Matches the number in canonical form and the text exactly as `send` writes it, on a message
     * created at or after `notBefore` less FIND_CLOCK_SKEW_MS. `found: false` is what the list
     * shows, not proof: Twilio lists a message under its date sent, which it has only once the
     * message left its queue.
     */
    async findAccepted(message, notBefore, { ignore = new Set<string>() } = {}) {
      const since = new Date(notBefore.getTime() - FIND_CLOCK_SKEW_MS)
      const text = message.template ? null : smsText(message)
      return redact(await findInList(address(canonicalNumber(message.to)), text, since, ignore))
    },
    /** `GET …/Messages/{sid}.json`: the message's status now; `found: false` on Twilio's 404. */
    async fetchStatus(messageSid) {
      const outcome = await fetchWithTimeout(
        fetch,
        `${base}/2010-04-01/Accounts/${account}/Messages/${encodeURIComponent(messageSid)}.json`,
        { method: 'GET', headers: { authorization, accept: 'application/json' } },
        timeoutMs,
      )
      if (!outcome.ok) {
        return { found: 'unknown', retryable: true, reason: `SMS provider ${outcome.reason}` }
      }
      const { response } = outcome
      // Twilio's 20404: it has no such message in the account (deleted, or never this account's).
      if (response.status === 404) {
        await response.body?.cancel()
        return { found: false }
      }
      if (!response.ok) {
        // Refusals read as the list's do: 429 and 5xx retryable, 401 and 403 the operator's.
        const refused = await toMessagePage(response, now())
        if (!('messages' in refused)) return redact(refused)
      }
      const body = await readJson(response)
      const status = field(body, 'status')
      const code = field(body, 'error_code')
      if (typeof status !== 'string' || status === '') {
        return {
          found: 'unknown',
          retryable: false,
          reason: `SMS provider answered ${response.status} without a message status`,
        }
      }
      const errorCode = typeof code === 'number' || typeof code === 'string' ? String(code) : null
      return { found: true, status, errorCode }
    },
  }
}

/** A listed message, as far as findAccepted reads it; dates in epoch ms. */
type ListedMessage = {
  sid: string
  to: string
  body: string
  status: string
  /** The Messaging Service that sent it, if one did. */
  messagingServiceSid: string | undefined
  /** NaN when missing or unreadable. */
  dateCreated: number
  /** Undefined until the message has left Twilio's queue. */
  dateSent: number | undefined
}

type MessagePage = { messages: ListedMessage[]; nextPageUri: string | null }

/** One page of the message list, or the `unknown` answer its failure means. */
async function toMessagePage(
  response: Response,
  now: Date,
): Promise<MessagePage | Extract<FindResult, { found: 'unknown' }>> {
  const body = await readJson(response)
  const { status } = response
  if (!response.ok) {
    const code = field(body, 'code')
    const detail = describeTwilioError(
      status,
      typeof code === 'number' ? code : undefined,
      field(body, 'message'),
    )
    if (status === 429 || status >= 500) {
      const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), now)
      return {
        found: 'unknown',
        retryable: true,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
        reason: `SMS provider is unavailable (${detail})`,
      }
    }
    if (status === 401 || status === 403 || status === 404) {
      return {
        found: 'unknown',
        retryable: false,
        reason: `SMS provider refused to list Portero's messages (${detail})`,
        operatorFault: true,
      }
    }
    return {
      found: 'unknown',
      retryable: false,
      reason: `SMS provider refused to list messages (${detail})`,
    }
  }
  const messages = field(body, 'messages')
  const nextPageUri = field(body, 'next_page_uri') ?? null
  if (!Array.isArray(messages) || !(nextPageUri === null || typeof nextPageUri === 'string')) {
    return {
      found: 'unknown',
      retryable: false,
      reason: `SMS provider answered ${status} without a message list`,
    }
  }
  const listed: ListedMessage[] = []
  for (const message of messages) {
    const sid = field(message, 'sid')
    if (typeof sid !== 'string' || sid === '') continue
    const text = (name: string) => {
      const value = field(message, name)
      return typeof value === 'string' ? value : ''
    }
    const sent = field(message, 'date_sent')
    const dateSent = typeof sent === 'string' ? Date.parse(sent) : Number.NaN
    listed.push({
      sid,
      to: text('to'),
      body: text('body'),
      status: text('status'),
      messagingServiceSid: text('messaging_service_sid') || undefined,
      dateCreated: Date.parse(text('date_created')),
      dateSent: Number.isNaN(dateSent) ? undefined : dateSent,
    })
  }
  return { messages: listed, nextPageUri: nextPageUri === '' ? null : nextPageUri }
}

/** E.164 as Twilio writes it: the spaces, dots, dashes and brackets people type left out. */
function canonicalNumber(number: string): string {
  return number.replace(/[\s().-]/g, '')
}

async function toSendResult(response: Response, now: Date, vendor: string): Promise<SendResult> {
  const body = await readJson(response)
  const { status } = response
  if (response.ok) {
    const sid = field(body, 'sid')
    if (typeof sid === 'string' && sid !== '') return { ok: true, providerMessageId: sid }
    return {
      ok: false,
      retryable: false,
      reason: `${vendor} answered ${status} without a message sid`,
    }
  }
  const code = field(body, 'code')
  const twilioCode = typeof code === 'number' ? code : undefined
  const detail = describeTwilioError(status, twilioCode, field(body, 'message'))
  if (status === 429 || status >= 500) {
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), now)
    return {
      ok: false,
      retryable: true,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      reason: `${vendor} is unavailable (${detail})`,
    }
  }
  if (status === 401 || status === 403) {
    // Our account, not this message: retrying it cannot help until the secret is fixed.
    return {
      ok: false,
      retryable: false,
      reason: `${vendor} rejected Portero's credentials (${detail})`,
      operatorFault: true,
    }
  }
  if (status === 404) {
    // The Messages resource of our account does not exist: a wrong account SID or base URL.
    return {
      ok: false,
      retryable: false,
      reason: `${vendor} does not know Portero's account (${detail})`,
      operatorFault: true,
    }
  }
  if (twilioCode !== undefined && OPERATOR_FAULT_CODES.has(twilioCode)) {
    // Retrying cannot help until the operator changes the account's settings; no error code is
    // recorded either, so nothing of the setup reaches the provider.
    return {
      ok: false,
      retryable: false,
      reason: `${vendor} refused Portero's sender or region settings (${detail})`,
      operatorFault: true,
    }
  }
  const permanent = twilioCode === undefined ? undefined : PERMANENT_BY_CODE[twilioCode]
  return {
    ok: false,
    retryable: false,
    reason: `${vendor} refused the message (${detail})`,
    ...(permanent ? { permanent } : {}),
    ...(twilioCode === undefined ? {} : { errorCode: String(twilioCode) }),
  }
}

function describeTwilioError(status: number, code: number | undefined, message: unknown): string {
  let detail = `HTTP ${status}`
  if (code !== undefined) detail += `, Twilio error ${code}`
  if (typeof message === 'string' && message !== '') detail += `: ${truncate(message)}`
  return detail
}

/** The status-callback URL of one SMS: the receipts route, naming the send shard of its delivery. */
export function statusCallbackFor(url: string, shard: string | undefined): string {
  return shard === undefined ? url : `${url}?shard=${encodeURIComponent(shard)}`
}
