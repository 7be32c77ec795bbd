// SMS delivery through an HTTP API shaped like Twilio's Messages API (decisions.md D12). The base
// URL comes from config, so tests and the local stand-in redirect it without a code path of their
// own.
import { smsText } from '../channel.ts'
import { fetchWithTimeout, field, parseRetryAfter, readJson, truncate } from './http.ts'
import type { Notifier, PermanentFailure, SendResult } from './notifier.ts'

export type SmsNotifierConfig = {
  /** `https://api.twilio.com` in production. */
  baseUrl: string
  accountSid: string
  authToken: string
  /** The sender: an E.164 number, a short code or an alphanumeric sender id. */
  from: string
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
  21408: 'invalid_destination', // sending to that region is not enabled
  21612: 'invalid_destination', // no route to that number
  21614: 'invalid_destination', // 'To' is not a mobile number
  21610: 'opted_out', // the recipient replied STOP
}

export function createSmsNotifier({
  baseUrl,
  accountSid,
  authToken,
  from,
  statusCallbackUrl,
  fetch = globalThis.fetch,
  timeoutMs = 10_000,
  now = () => new Date(),
}: SmsNotifierConfig): Notifier {
  const account = encodeURIComponent(accountSid)
  const url = `${baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${account}/Messages.json`
  const authorization = `Basic ${btoa(`${accountSid}:${authToken}`)}`

  // Belt and braces: no reason may carry the auth token, whatever a provider or fetch echoes back.
  function redact(result: SendResult): SendResult {
    if (result.ok || authToken === '') return result
    return { ...result, reason: result.reason.replaceAll(authToken, '[redacted]') }
  }

  return {
    channel: 'sms',
    async send(message) {
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
            To: message.to,
            From: from,
            Body: smsText(message),
            StatusCallback: statusCallbackUrl,
            // Twilio sends an MMS when MediaUrl is set (decisions.md D19); it fetches the URL
            // itself.
            ...(message.pictureUrl ? { MediaUrl: message.pictureUrl } : {}),
          }).toString(),
        },
        timeoutMs,
      )
      if (!outcome.ok) {
        return redact({ ok: false, retryable: true, reason: `SMS provider ${outcome.reason}` })
      }
      return redact(await toSendResult(outcome.response, now()))
    },
  }
}

async function toSendResult(response: Response, now: Date): Promise<SendResult> {
  const body = await readJson(response)
  const { status } = response
  if (response.ok) {
    const sid = field(body, 'sid')
    if (typeof sid === 'string' && sid !== '') return { ok: true, providerMessageId: sid }
    return {
      ok: false,
      retryable: false,
      reason: `SMS provider answered ${status} without a message sid`,
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
      reason: `SMS provider is unavailable (${detail})`,
    }
  }
  if (status === 401 || status === 403) {
    // Our account, not this message: retrying it cannot help until the secret is fixed.
    return {
      ok: false,
      retryable: false,
      reason: `SMS provider rejected Portero's credentials (${detail})`,
      operatorFault: true,
    }
  }
  if (status === 404) {
    // The Messages resource of our account does not exist: a wrong account SID or base URL.
    return {
      ok: false,
      retryable: false,
      reason: `SMS provider does not know Portero's account (${detail})`,
      operatorFault: true,
    }
  }
  const permanent = twilioCode === undefined ? undefined : PERMANENT_BY_CODE[twilioCode]
  return {
    ok: false,
    retryable: false,
    reason: `SMS provider refused the message (${detail})`,
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
