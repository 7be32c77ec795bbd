// A local stand-in for Twilio, Vonage's SMS API, Google OAuth and FCM HTTP v1: checks requests the way the real APIs
// do, fails on demand and shows what it received. Served by worker.ts; tests call its fetch.
import { Hono } from 'hono'
import { decodeJwt, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose'
import { z } from 'zod'
import { addPlatformIssuers, type PlatformIssuers } from './issuers.ts'
import { createWorkloadIdentity, type WorkloadIdentityOptions } from './workload-identity.ts'
import { addWebhookReceivers, type WebhookReceivers } from './webhooks.ts'
import { addVonage, type VonageStandIn } from './vonage.ts'

export type StandInOptions = {
  twilioAccountSid: string
  twilioAuthToken: string
  /** An API key of the account (SK…): its SID and secret authenticate as the auth token does. */
  twilioApiKey?: { sid: string; secret: string }
  /** The account's Messaging Service (MG…); its sender pool is the one number +15005550006. */
  twilioMessagingServiceSid?: string
  /** The account's WhatsApp sender (E.164): the only `whatsapp:` From it accepts. */
  twilioWhatsAppFrom?: string
  fcmProjectId: string
  serviceAccountEmail: string
  /** RSA public JWK of the service account (a JsonWebKey or jose's exportJWK output). */
  serviceAccountPublicKey: JWK
  /**
   * The exact URL the assertion's `aud` must equal (Google's is
   * https://oauth2.googleapis.com/token).
   */
  tokenUrl: string
  /**
   * Google's STS and IAM Credentials for a workload identity pool whose OIDC provider trusts this
   * issuer (stand-in/workload-identity.ts); absent: those routes answer 404.
   */
  workloadIdentity?: WorkloadIdentityOptions
  /**
   * Sends the status callbacks of a message that named a StatusCallback URL. Default: the global
   * fetch. Tests pass one that hands the request to the Worker under test.
   */
  fetch?: (request: Request) => Promise<Response>
  /** How long after the send answer the `sent` callback goes, and again the final one. */
  callbackDelayMs?: number
  /**
   * Keep callbacks until sendCallbacks() is called, instead of sending them after the answer:
   * tests decide when receipts arrive.
   */
  holdCallbacks?: boolean
  /**
   * The sender's Advanced Opt-Out keywords, beyond Twilio's defaults: when set, an inbound message
   * that is one of them carries `OptOutType` (STOP, START or HELP), as Twilio's webhook does.
   */
  advancedOptOut?: { stop?: string[]; start?: string[]; help?: string[] }
  /**
   * Vonage's SMS API for the secondary SMS route (stand-in/vonage.ts), with its account's key;
   * `fetch` sends its receipts, instead of `fetch` above.
   */
  vonage?: { apiKey: string; apiSecret: string; fetch?: (request: Request) => Promise<Response> }
}

/** A status callback the stand-in sent or holds: where to, the form, and what came back. */
export type StatusCallback = {
  url: string
  form: Record<string, string>
  signature: string
  /** null while held or in flight; the HTTP status, or the network error, once sent. */
  answer: number | string | null
  /** When the answer came (ISO 8601), null until then. */
  answeredAt: string | null
}

/** Lets work outlive the answer (a Worker's ctx.waitUntil). */
export type Deferrer = { waitUntil(promise: Promise<unknown>): void }

export type Target = 'sms' | 'fcm' | 'token'

export type ReceivedRequest = {
  at: string
  method: string
  path: string
  /** Every header except `authorization`. */
  headers: Record<string, string>
  /** The parsed form or JSON (raw text if it did not parse); token assertions decoded, not raw. */
  body: unknown
  status: number
  response: unknown
  /** True when a queued failure answered instead of the emulated API. */
  injected: boolean
}

export type InjectedFailure = {
  target: Target
  status: number
  retryAfter?: number
  /** How many more matching requests this failure answers. */
  remaining: number
  body?: unknown
}

export type StandInState = {
  /** Every request each API route received, oldest first, rejected and injected ones included. */
  sms: ReceivedRequest[]
  fcm: ReceivedRequest[]
  tokens: ReceivedRequest[]
  failures: InjectedFailure[]
  /** Access token → expiry (epoch ms), one entry per token ever issued: `size` is the count. */
  accessTokens: Map<string, number>
  /** Status callbacks, oldest first: sent, in flight, or held (holdCallbacks). */
  callbacks: StatusCallback[]
  /** Inbound-message webhooks sent by receiveSms, oldest first, with the answer each got. */
  inbound: StatusCallback[]
  /** Numbers made undeliverable with POST /_control/undeliverable → the ErrorCode they get. */
  undeliverable: Map<string, number>
  /**
   * The SMS the Twilio API accepted, oldest first, as its message list shows them: the status
   * callbacks move `status` on and set `date_sent` when they are sent.
   */
  messages: TwilioMessage[]
}

/** A Twilio Message resource, as the stand-in answers and lists it. */
export type TwilioMessage = {
  sid: string
  account_sid: string
  api_version: '2010-04-01'
  to: string
  from: string
  body: string
  status: string
  direction: 'outbound-api'
  num_segments: string
  num_media: string
  messaging_service_sid: string | null
  price: null
  price_unit: 'USD'
  error_code: number | null
  error_message: null
  /** RFC 2822, as Twilio writes dates: `Sun, 01 Mar 2026 12:00:00 +0000`. */
  date_created: string
  date_updated: string
  /** Null until the message leaves Twilio's queue (the `sent` status). */
  date_sent: string | null
  uri: string
  subresource_uris: { media: string }
}

export type StandIn = {
  fetch(request: Request, ctx?: Deferrer): Promise<Response>
  state: StandInState
  /** Providers' webhook receivers by name (stand-in/webhooks.ts). */
  webhooks: WebhookReceivers
  /** Workload identity issuers by name (stand-in/issuers.ts). */
  issuers: PlatformIssuers
  /** Vonage's SMS API, when `vonage` is configured. */
  vonage: VonageStandIn | undefined
  /**
   * Sends the held status callbacks (those `which` picks), in order, once all are answered. With
   * `lost`, the messages move on as Twilio moves them, but the callbacks never arrive (the
   * receiver was down: Twilio does not retry them).
   */
  sendCallbacks(
    which?: (callback: StatusCallback) => boolean,
    options?: { lost?: boolean },
  ): Promise<StatusCallback[]>
  /**
   * A person texts `body` from `from` to the sender `to`: Twilio's inbound-message webhook to `url`,
   * signed, with OptOutType under Advanced Opt-Out. Sent at once; resolves with what was sent.
   */
  receiveSms(
    url: string,
    message: { from: string; to: string; body: string },
  ): Promise<StatusCallback>
}

type Answer = {
  status: number
  body: unknown
  headers?: Record<string, string>
  /** What the received log shows instead of `body`, when that holds a credential. */
  logged?: unknown
}

const LOGS = { sms: 'sms', fcm: 'fcm', token: 'tokens' } as const
const E164 = /^\+[1-9]\d{6,14}$/
const MAX_SMS_BODY = 1600
const MAX_APNS_COLLAPSE_ID = 64
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const ACCESS_TOKEN_SECONDS = 3599
const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError'
const SHORT_LIVED =
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. ' +
  'Check your iat and exp values in the JWT claim.'

// Twilio's magic test numbers (https://www.twilio.com/docs/iam/test-credentials): valid E.164,
// refused with a permanent error.
const TWILIO_TEST_NUMBERS: Record<string, [code: number, message: string]> = {
  '+15005550001': [21211, "The 'To' number is not a valid phone number"],
  '+15005550002': [21612, "The 'To' phone number is not currently reachable via SMS."],
  '+15005550003': [
    21408,
    "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
  ],
  '+15005550004': [21610, 'Attempt to send to unsubscribed recipient'],
  '+15005550009': [21614, "'To' number is not a valid mobile number"],
}

// Twilio's magic test senders: a 'From' that is not a valid sender, or not one this account may
// send from, as a misconfigured account's number would be.
const TWILIO_TEST_SENDERS: Record<string, [code: number, message: string]> = {
  '+15005550001': [21212, "The 'From' number +15005550001 is not a valid phone number."],
  '+15005550007': [
    21606,
    "The 'From' phone number provided is not a valid message-capable Twilio phone number.",
  ],
}

// Numbers of the stand-in's own for WhatsApp: a free-form message (Body, no ContentSid) to this
// one is accepted, then reported failed with 63016, as for a person who has not written to the
// sender in the last 24 hours; a template goes through.
const WHATSAPP_OUTSIDE_WINDOW = '+15005550030'
// Twilio's Content API ids, and its error codes for WhatsApp requests.
const CONTENT_SID = /^HX[0-9a-f]{32}$/

/** The one number of the stand-in Messaging Service's sender pool. */
const MESSAGING_SERVICE_SENDER = '+15005550006'

// Twilio's default Advanced Opt-Out keywords, matched against the whole message in any case.
const DEFAULT_OPT_OUT_KEYWORDS = {
  STOP: ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT'],
  START: ['START', 'UNSTOP', 'YES'],
  HELP: ['HELP', 'INFO'],
}

// Numbers of the stand-in's own (not Twilio's): accepted, then reported undelivered by the status
// callback with this ErrorCode, as a handset that is off or a number no longer in service would be.
const UNDELIVERABLE_NUMBERS: Record<string, number> = {
  '+15005550010': 30003, // unreachable destination handset
  '+15005550011': 30005, // unknown destination handset
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

// google.rpc.Code names FCM answers with, by HTTP status.
const RPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
}

const FailureInput = z.object({
  target: z.enum(['sms', 'fcm', 'token']),
  status: z.number().int().min(400).max(599),
  retryAfter: z.number().int().min(0).optional(),
  count: z.number().int().min(1).default(1),
  body: z.unknown().optional(),
})

const UndeliverableInput = z.object({
  to: z.string().regex(E164, 'an E.164 number'),
  // Delivery errors (30001–30010) and 21610, the recipient having replied STOP.
  errorCode: z
    .number()
    .int()
    .refine((code) => code === 21610 || (code >= 30001 && code <= 30010), '30001–30010 or 21610')
    .default(30003),
})

export function createStandIn(options: StandInOptions): StandIn {
  const state: StandInState = {
    sms: [],
    fcm: [],
    tokens: [],
    failures: [],
    accessTokens: new Map(),
    callbacks: [],
    inbound: [],
    undeliverable: new Map(),
    messages: [],
  }
  const held: { callback: StatusCallback; delayMs: number }[] = []
  let publicKey: ReturnType<typeof importJWK> | undefined
  const app = new Hono()

  app.post('/twilio/2010-04-01/Accounts/:sid/Messages.json', async (c) => {
    const form = await readForm(c.req.raw)
    const response = await answer(
      'sms',
      c.req.raw,
      form ? formToObject(form) : await c.req.text(),
      () => sendSms(c.req.raw, c.req.param('sid'), form),
    )
    const callbackUrl = form?.get('StatusCallback')
    if (response.status === 201 && callbackUrl) {
      const message = (await response.clone().json()) as Record<string, string>
      const work = reportStatus(callbackUrl, message)
      const ctx = (c.env as { ctx?: Deferrer } | undefined)?.ctx
      if (ctx) ctx.waitUntil(work)
      else void work
    }
    return response
  })

  app.get('/twilio/2010-04-01/Accounts/:sid/Messages.json', async (c) => {
    const query = new URL(c.req.url).searchParams
    return answer('sms', c.req.raw, formToObject(query), () =>
      listSms(c.req.raw, c.req.param('sid'), query),
    )
  })

  app.get('/twilio/2010-04-01/Accounts/:sid/Messages/:file', async (c) => {
    const query = new URL(c.req.url).searchParams
    return answer('sms', c.req.raw, formToObject(query), () =>
      fetchSms(c.req.raw, c.req.param('sid'), c.req.param('file')),
    )
  })

  app.post('/google/token', async (c) => {
    const form = (await readForm(c.req.raw)) ?? new URLSearchParams()
    return answer('token', c.req.raw, recordedTokenRequest(form), () => issueAccessToken(form))
  })

  const workload = options.workloadIdentity
    ? createWorkloadIdentity(
        options.workloadIdentity,
        options.fetch ?? ((request) => fetch(request)),
        state.accessTokens,
      )
    : undefined

  app.post('/google/sts/v1/token', async (c) => {
    if (!workload) return c.notFound()
    // STS takes a form or JSON.
    const form = isJson(c.req.raw)
      ? new URLSearchParams((parseJson(await c.req.text()) ?? {}) as Record<string, string>)
      : await readForm(c.req.raw)
    const recorded = form ? recordedTokenRequest(form, 'subject_token') : '(not a form)'
    return answer('token', c.req.raw, recorded, () => workload.exchange(form))
  })

  app.post('/google/iamcredentials/v1/projects/-/serviceAccounts/:target', async (c) => {
    const email = /^(.+):generateAccessToken$/.exec(c.req.param('target'))?.[1]
    if (!workload || !email) return c.notFound()
    const text = await c.req.text()
    const body = parseJson(text)
    return answer('token', c.req.raw, body ?? text, () =>
      workload.impersonate(c.req.raw, email, body),
    )
  })

  app.post('/fcm/v1/projects/:project/:action{messages:send}', async (c) => {
    const text = await c.req.text()
    return answer('fcm', c.req.raw, parseJson(text) ?? text, () =>
      sendPush(c.req.raw, c.req.param('project'), text),
    )
  })

  app.post('/_control/failures', async (c) => {
    const parsed = FailureInput.safeParse(parseJson(await c.req.text()))
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.join('.'),
        message: i.message,
      }))
      return c.json({ error: 'invalid_failure', issues }, 400)
    }
    const { count, ...failure } = parsed.data
    state.failures.push({ ...failure, remaining: count })
    return c.json({ queued: state.failures }, 201)
  })
  app.get('/_control/failures', (c) => c.json({ queued: state.failures }))
  app.delete('/_control/failures', (c) => {
    state.failures.length = 0
    return c.body(null, 204)
  })

  app.post('/_control/undeliverable', async (c) => {
    const parsed = UndeliverableInput.safeParse(parseJson(await c.req.text()))
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.join('.'),
        message: i.message,
      }))
      return c.json({ error: 'invalid_number', issues }, 400)
    }
    state.undeliverable.set(parsed.data.to, parsed.data.errorCode)
    return c.json({ undeliverable: Object.fromEntries(state.undeliverable) }, 201)
  })
  app.get('/_control/undeliverable', (c) =>
    c.json({ undeliverable: Object.fromEntries(state.undeliverable) }),
  )
  app.delete('/_control/undeliverable', (c) => {
    state.undeliverable.clear()
    return c.body(null, 204)
  })

  app.get('/_control/received', (c) =>
    c.json({ sms: state.sms, fcm: state.fcm, tokens: state.tokens, callbacks: state.callbacks }),
  )
  app.delete('/_control/received', (c) => {
    state.sms.length = state.fcm.length = state.tokens.length = state.callbacks.length = 0
    return c.body(null, 204)
  })

  const webhooks: WebhookReceivers = new Map()
  addWebhookReceivers(app, webhooks)
  const issuers: PlatformIssuers = new Map()
  addPlatformIssuers(app, issuers)
  const vonage =
    options.vonage &&
    addVonage(app, {
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...options.vonage,
      ...(options.holdCallbacks ? { holdReceipts: true } : {}),
      ...(options.callbackDelayMs === undefined ? {} : { receiptDelayMs: options.callbackDelayMs }),
    })

  app.get('/', (c) => c.html(renderPage(state)))

  /**
   * The callbacks Twilio makes for an accepted message: `sent`, then `delivered`, or `undelivered`
   * with an ErrorCode for an undeliverable number. Each is signed as Twilio signs them.
   */
  async function reportStatus(url: string, message: Record<string, string>): Promise<void> {
    const number = message.to!.replace(/^whatsapp:/, '')
    const whatsapp = message.to!.startsWith('whatsapp:')
    const outsideWindow =
      whatsapp && number === WHATSAPP_OUTSIDE_WINDOW && !message.body!.startsWith('[template ')
    const errorCode = state.undeliverable.get(number) ?? UNDELIVERABLE_NUMBERS[number]
    const base = {
      AccountSid: options.twilioAccountSid,
      ApiVersion: '2010-04-01',
      From: message.from!,
      MessageSid: message.sid!,
      SmsSid: message.sid!,
      SmsStatus: '',
      MessageStatus: '',
      To: message.to!,
    }
    const reports: Record<string, string>[] = outsideWindow
      ? // WhatsApp refuses it once Twilio hands it over: failed, 63016.
        [{ ...base, MessageStatus: 'failed', SmsStatus: 'failed', ErrorCode: '63016' }]
      : [
          { ...base, MessageStatus: 'sent', SmsStatus: 'sent' },
          errorCode === undefined
            ? { ...base, MessageStatus: 'delivered', SmsStatus: 'delivered' }
            : {
                ...base,
                MessageStatus: 'undelivered',
                SmsStatus: 'undelivered',
                ErrorCode: String(errorCode),
              },
        ]
    const delayMs = options.callbackDelayMs ?? 500
    for (const form of reports) {
      const callback: StatusCallback = {
        url,
        form,
        signature: await twilioSignature(options.twilioAuthToken, url, form),
        answer: null,
        answeredAt: null,
      }
      state.callbacks.push(callback)
      if (options.holdCallbacks) held.push({ callback, delayMs })
      else await deliver(callback, delayMs)
    }
  }

  async function deliver(callback: StatusCallback, delayMs: number, lost = false): Promise<void> {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    // Twilio changes the message, then reports the change: the list shows it from now on.
    const message = state.messages.find((m) => m.sid === callback.form.MessageSid)
    if (message) {
      const now = twilioDate(new Date())
      message.status = callback.form.MessageStatus!
      message.date_updated = now
      if (message.status === 'sent') message.date_sent = now
      if (callback.form.ErrorCode) message.error_code = Number(callback.form.ErrorCode)
    }
    if (lost) {
      callback.answer = 'lost: the receiver was down'
      return
    }
    const request = new Request(callback.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': callback.signature,
        'user-agent': 'TwilioProxy/1.1',
      },
      body: new URLSearchParams(callback.form).toString(),
    })
    try {
      const response = await (options.fetch ?? globalThis.fetch)(request)
      await response.body?.cancel()
      callback.answer = response.status
    } catch (error) {
      callback.answer = String(error)
    }
    callback.answeredAt = new Date().toISOString()
  }

  // Twilio's inbound-message webhook:
  // https://www.twilio.com/docs/messaging/guides/webhook-request
  async function receiveSms(
    url: string,
    message: { from: string; to: string; body: string },
  ): Promise<StatusCallback> {
    const sid = `SM${randomHex(16)}`
    const form: Record<string, string> = {
      AccountSid: options.twilioAccountSid,
      ApiVersion: '2010-04-01',
      Body: message.body,
      From: message.from,
      MessageSid: sid,
      NumMedia: '0',
      NumSegments: '1',
      SmsMessageSid: sid,
      SmsSid: sid,
      SmsStatus: 'received',
      To: message.to,
    }
    const keywords = options.advancedOptOut
    if (keywords) {
      const word = message.body.trim().toUpperCase()
      for (const kind of ['STOP', 'START', 'HELP'] as const) {
        const own = keywords[kind.toLowerCase() as 'stop' | 'start' | 'help'] ?? []
        const all = [...DEFAULT_OPT_OUT_KEYWORDS[kind], ...own.map((k) => k.toUpperCase())]
        if (all.includes(word)) form.OptOutType = kind
      }
    }
    const callback: StatusCallback = {
      url,
      form,
      signature: await twilioSignature(options.twilioAuthToken, url, form),
      answer: null,
      answeredAt: null,
    }
    state.inbound.push(callback)
    await deliver(callback, 0)
    return callback
  }

  async function sendCallbacks(
    which: (callback: StatusCallback) => boolean = () => true,
    { lost = false }: { lost?: boolean } = {},
  ): Promise<StatusCallback[]> {
    const sent = held.filter(({ callback }) => which(callback))
    for (const entry of sent) held.splice(held.indexOf(entry), 1)
    for (const { callback } of sent) await deliver(callback, 0, lost)
    return sent.map(({ callback }) => callback)
  }

  /** Answers with a queued failure if one matches, else with `handle`, and records the exchange. */
  async function answer(
    target: Target,
    request: Request,
    body: unknown,
    handle: () => Answer | Promise<Answer>,
  ): Promise<Response> {
    const failure = state.failures.find((f) => f.target === target)
    let result: Answer
    if (failure) {
      if (--failure.remaining === 0) state.failures.splice(state.failures.indexOf(failure), 1)
      result = injectedAnswer(failure)
    } else {
      result = await handle()
    }
    const headers = Object.fromEntries(
      [...request.headers].filter(([name]) => name.toLowerCase() !== 'authorization'),
    )
    state[LOGS[target]].push({
      at: new Date().toISOString(),
      method: request.method,
      path: new URL(request.url).pathname,
      headers,
      body,
      status: result.status,
      response: 'logged' in result ? result.logged : result.body,
      injected: failure !== undefined,
    })
    return Response.json(result.body, { status: result.status, headers: result.headers })
  }

  // Twilio Messages API:
  // https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
  function sendSms(request: Request, sid: string, form: URLSearchParams | undefined): Answer {
    const refused = checkTwilioAccount(request, sid)
    if (refused) return refused
    // Twilio reads only form bodies: with any other type the parameters look absent.
    if (!form) {
      return twilioError(
        400,
        21604,
        "A 'To' phone number is required. (The body must be application/x-www-form-urlencoded.)",
      )
    }
    const to = form.get('To')
    if (to?.startsWith('whatsapp:') || form.get('From')?.startsWith('whatsapp:')) {
      return sendWhatsApp(sid, form)
    }
    const service = form.get('MessagingServiceSid')
    const body = form.get('Body') ?? ''
    const media = form.getAll('MediaUrl')
    if (!to) return twilioError(400, 21604, "A 'To' phone number is required.")
    if (service && !form.get('From')) {
      if (!/^MG[0-9a-f]{32}$/.test(service)) {
        return twilioError(400, 21705, 'The Messaging Service Sid is invalid.')
      }
      if (service !== options.twilioMessagingServiceSid) {
        return twilioError(400, 21701, `The Messaging Service ${service} does not exist.`)
      }
    }
    // A Messaging Service picks the sender from its pool.
    const from = form.get('From') || (service ? MESSAGING_SERVICE_SENDER : null)
    if (!from) {
      return twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
    }
    if (!body && media.length === 0) return twilioError(400, 21602, 'Message body is required.')
    if (!E164.test(to)) {
      return twilioError(400, 21211, "The 'To' number is not a valid phone number")
    }
    if (body.length > MAX_SMS_BODY) {
      return twilioError(
        400,
        21617,
        'The concatenated message body exceeds the 1600 character limit.',
      )
    }
    const testSender = TWILIO_TEST_SENDERS[from]
    if (testSender) return twilioError(400, ...testSender)
    const testNumber = TWILIO_TEST_NUMBERS[to]
    if (testNumber) return twilioError(400, ...testNumber)

    return acceptMessage(sid, `SM${randomHex(16)}`, {
      to,
      from,
      body,
      numSegments: countSegments(body),
      media: media.length,
      messagingServiceSid: form.get('From') ? null : service,
    })
  }

  /** A message Twilio accepted, as its Message resource shows it: kept for the list, answered 201. */
  function acceptMessage(
    sid: string,
    messageSid: string,
    fields: {
      to: string
      from: string
      body: string
      numSegments: number
      media: number
      messagingServiceSid: string | null
    },
  ): Answer {
    const now = twilioDate(new Date())
    const uri = `/2010-04-01/Accounts/${sid}/Messages/${messageSid}`
    const message: TwilioMessage = {
      sid: messageSid,
      account_sid: sid,
      api_version: '2010-04-01',
      to: fields.to,
      from: fields.from,
      body: fields.body,
      status: 'queued',
      direction: 'outbound-api',
      num_segments: String(fields.numSegments),
      num_media: String(fields.media),
      messaging_service_sid: fields.messagingServiceSid,
      price: null,
      price_unit: 'USD',
      error_code: null,
      error_message: null,
      date_created: now,
      date_updated: now,
      date_sent: null,
      uri: `${uri}.json`,
      subresource_uris: { media: `${uri}/Media.json` },
    }
    state.messages.push(structuredClone(message))
    return { status: 201, body: message }
  }

  // WhatsApp through the Messages API: https://www.twilio.com/docs/whatsapp/api, templates through
  // the Content API (https://www.twilio.com/docs/content/send-templates-created-with-the-content-editor).
  function sendWhatsApp(sid: string, form: URLSearchParams): Answer {
    const to = form.get('To') ?? ''
    const from = form.get('From') ?? ''
    const body = form.get('Body') ?? ''
    const contentSid = form.get('ContentSid')
    const variables = form.get('ContentVariables')
    const media = form.getAll('MediaUrl')
    if (!to.startsWith('whatsapp:') || !from.startsWith('whatsapp:')) {
      return twilioError(
        400,
        21910,
        'Invalid From and To pair. From and To should be of the same channel',
      )
    }
    if (!E164.test(to.slice('whatsapp:'.length))) {
      return twilioError(400, 21211, `Invalid 'To' Phone Number: ${to}`)
    }
    if (!options.twilioWhatsAppFrom || from !== `whatsapp:${options.twilioWhatsAppFrom}`) {
      return twilioError(
        400,
        63007,
        'Twilio could not find a Channel with the specified From address',
      )
    }
    if (contentSid === null && !body && media.length === 0) {
      return twilioError(400, 21619, 'A text message body or media urls must be specified.')
    }
    if (contentSid !== null && !CONTENT_SID.test(contentSid)) {
      return twilioError(400, 21655, 'The ContentSid is Invalid.')
    }
    if (variables !== null) {
      const parsed = parseJson(variables)
      const object =
        contentSid !== null &&
        typeof parsed === 'object' &&
        parsed !== null &&
        !Array.isArray(parsed) &&
        Object.values(parsed).every((v) => typeof v === 'string')
      if (!object) return twilioError(400, 21656, 'The ContentVariables Parameter is invalid.')
    }
    if (body.length > MAX_SMS_BODY) {
      return twilioError(
        400,
        21617,
        'The concatenated message body exceeds the 1600 character limit.',
      )
    }
    const prefix = media.length > 0 ? 'MM' : 'SM'
    return acceptMessage(sid, `${prefix}${randomHex(16)}`, {
      to,
      from,
      // Twilio writes a template's text itself; the stand-in names the template instead.
      body: contentSid === null ? body : `[template ${contentSid}]`,
      numSegments: 1,
      media: media.length,
      messagingServiceSid: null,
    })
  }

  // Twilio's List Message resource:
  // https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources
  function listSms(request: Request, sid: string, query: URLSearchParams): Answer {
    const refused = checkTwilioAccount(request, sid)
    if (refused) return refused
    const days: [filter: string, keep: (sent: string, day: string) => boolean][] = [
      ['DateSent', (sent, day) => sent === day],
      // `DateSent<=YYYY-MM-DD` and `DateSent>=YYYY-MM-DD` arrive as the names `DateSent<` and
      // `DateSent>`: on or before, on or after that UTC day.
      ['DateSent<', (sent, day) => sent <= day],
      ['DateSent>', (sent, day) => sent >= day],
    ]
    for (const [filter] of days) {
      const day = query.get(filter)
      if (day !== null && !isIsoDay(day)) return twilioError(400, 20001, 'Invalid date value.')
    }
    const pageSize = query.has('PageSize') ? Number(query.get('PageSize')) : 50
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      return twilioError(400, 20001, 'PageSize must be between 1 and 1000.')
    }
    const page = query.has('Page') ? Number(query.get('Page')) : 0
    if (!Number.isInteger(page) || page < 0) return twilioError(400, 20001, 'Invalid Page.')

    const to = query.get('To')
    const from = query.get('From')
    const matching = state.messages
      .filter((m) => (to === null || m.to === to) && (from === null || m.from === from))
      .filter((m) =>
        days.every(([filter, keep]) => {
          const day = query.get(filter)
          if (day === null) return true
          // Filtered by the date sent: a message still queued has none, so it is not listed.
          return m.date_sent !== null && keep(isoDay(m.date_sent), day)
        }),
      )
      // Newest first by the date sent, or created while it has none; the later one first on a tie.
      .map((m, index) => ({ m, index, at: Date.parse(m.date_sent ?? m.date_created) }))
      .sort((a, b) => b.at - a.at || b.index - a.index)
      .map(({ m }) => m)

    // The token names the last message of the page before, so new messages do not shift pages.
    const token = query.get('PageToken')
    let start = page * pageSize
    if (token !== null) {
      const after = matching.findIndex((m) => `PA${m.sid}` === token)
      if (after < 0) return twilioError(400, 20001, 'Invalid PageToken.')
      start = after + 1
    }
    // A copy: the received log keeps the answer as it was, while callbacks move the messages on.
    const messages = structuredClone(matching.slice(start, start + pageSize))
    const filters = new URLSearchParams(query)
    for (const name of ['PageSize', 'Page', 'PageToken']) filters.delete(name)
    const pageUri = (number: number, pageToken?: string) => {
      const params = new URLSearchParams(filters)
      params.set('PageSize', String(pageSize))
      params.set('Page', String(number))
      if (pageToken) params.set('PageToken', pageToken)
      return `/2010-04-01/Accounts/${sid}/Messages.json?${params}`
    }
    const last = messages.at(-1)
    return {
      status: 200,
      body: {
        first_page_uri: pageUri(0),
        end: start + Math.max(messages.length - 1, 0),
        previous_page_uri: page > 0 ? pageUri(page - 1) : null,
        messages,
        uri: pageUri(page, token ?? undefined),
        page_size: pageSize,
        start,
        next_page_uri:
          last && start + pageSize < matching.length ? pageUri(page + 1, `PA${last.sid}`) : null,
        page,
      },
    }
  }

  // Twilio's Fetch Message resource:
  // https://www.twilio.com/docs/messaging/api/message-resource#fetch-a-message-resource
  function fetchSms(request: Request, sid: string, file: string): Answer {
    const refused = checkTwilioAccount(request, sid)
    if (refused) return refused
    const message = state.messages.find((m) => `${m.sid}.json` === file)
    if (!message) {
      const path = new URL(request.url).pathname.replace(/^\/twilio/, '')
      return twilioError(404, 20404, `The requested resource ${path} was not found`)
    }
    // A copy: the received log keeps the answer as it was, while callbacks move the message on.
    return { status: 200, body: structuredClone(message) }
  }

  /** Twilio's checks of the caller and the account in the path, in its order: 401, then 404. */
  function checkTwilioAccount(request: Request, sid: string): Answer | undefined {
    // The account SID and auth token, or an API key's SID and secret (Twilio, "API keys").
    const credentials = readBasicAuth(request.headers.get('authorization'))
    const key = options.twilioApiKey
    const accepted =
      (credentials?.[0] === options.twilioAccountSid &&
        credentials[1] === options.twilioAuthToken) ||
      (key !== undefined && credentials?.[0] === key.sid && credentials[1] === key.secret)
    if (!accepted) {
      return twilioError(401, 20003, 'Authenticate', {
        'www-authenticate': 'Basic realm="Twilio API"',
      })
    }
    if (sid !== options.twilioAccountSid) {
      const path = new URL(request.url).pathname.replace(/^\/twilio/, '')
      return twilioError(404, 20404, `The requested resource ${path} was not found`)
    }
    return undefined
  }

  // Google OAuth 2.0 for service accounts:
  // https://developers.google.com/identity/protocols/oauth2/service-account#httprest
  async function issueAccessToken(form: URLSearchParams): Promise<Answer> {
    const grantType = form.get('grant_type') ?? ''
    if (grantType !== JWT_BEARER) {
      return googleError('unsupported_grant_type', `Invalid grant_type: ${grantType}`)
    }
    const assertion = form.get('assertion')
    if (!assertion) return googleError('invalid_request', 'Missing required parameter: assertion')

    let claims: JWTPayload
    try {
      publicKey ??= importJWK(options.serviceAccountPublicKey, 'RS256')
      const verified = await jwtVerify(assertion, await publicKey, {
        algorithms: ['RS256'],
        issuer: options.serviceAccountEmail,
        audience: options.tokenUrl,
        requiredClaims: ['iat', 'exp'],
        currentDate: new Date(),
      })
      claims = verified.payload
    } catch (error) {
      return googleError('invalid_grant', describeAssertionError(error))
    }
    const now = Math.floor(Date.now() / 1000)
    if (claims.exp! - claims.iat! > 3600 || claims.iat! > now + 300) {
      return googleError('invalid_grant', SHORT_LIVED)
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : []
    if (!scopes.includes(FCM_SCOPE)) {
      return googleError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.')
    }

    const accessToken = `ya29.${randomHex(48)}`
    state.accessTokens.set(accessToken, Date.now() + ACCESS_TOKEN_SECONDS * 1000)
    const body = {
      access_token: accessToken,
      expires_in: ACCESS_TOKEN_SECONDS,
      token_type: 'Bearer',
    }
    return {
      status: 200,
      body,
      headers: { 'cache-control': 'no-cache, no-store, max-age=0, must-revalidate' },
      logged: { ...body, access_token: 'ya29.(redacted)' },
    }
  }

  function describeAssertionError(error: unknown): string {
    const { code, claim } = error as { code?: string; claim?: string }
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'iss') {
      return 'Invalid grant: account not found'
    }
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'aud') {
      return `Invalid JWT: Failed audience check. The right audience is ${options.tokenUrl}`
    }
    if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return SHORT_LIVED
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' || code === 'ERR_JOSE_ALG_NOT_ALLOWED') {
      return 'Invalid JWT Signature.'
    }
    return 'Invalid JWT: the assertion is not a well-formed signed JWT.'
  }

  // FCM HTTP v1: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
  function sendPush(request: Request, project: string, text: string): Answer {
    const token = /^Bearer (\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]
    const expiresAt = token === undefined ? undefined : state.accessTokens.get(token)
    if (expiresAt === undefined || expiresAt <= Date.now()) {
      const expected =
        'Expected OAuth 2 access token, login cookie or other valid authentication credential.'
      const message =
        token === undefined
          ? `Request is missing required authentication credential. ${expected}`
          : `Request had invalid authentication credentials. ${expected}`
      return fcmError(401, message, undefined, {
        'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
      })
    }
    if (project !== options.fcmProjectId) {
      return fcmError(
        403,
        "Permission 'cloudmessaging.messages.create' denied on resource " +
          `'//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`,
      )
    }
    // Google's front end parses any other body type as form fields, so the JSON is refused.
    const payload = isJson(request) ? parseJson(text) : undefined
    if (payload === undefined) {
      return fcmError(400, 'Invalid JSON payload received.', 'INVALID_ARGUMENT')
    }
    const violation = findViolation(payload)
    if (violation) {
      return fcmError(400, violation.description, 'INVALID_ARGUMENT', undefined, [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [violation] },
      ])
    }
    const registrationToken = pick(payload, 'message', 'token')
    if (typeof registrationToken === 'string' && registrationToken.startsWith('unregistered-')) {
      return fcmError(404, 'Requested entity was not found.', 'UNREGISTERED')
    }
    if (typeof registrationToken === 'string' && registrationToken.startsWith('invalid-')) {
      return fcmError(
        400,
        'The registration token is not a valid FCM registration token',
        'INVALID_ARGUMENT',
      )
    }
    return {
      status: 200,
      body: { name: `projects/${project}/messages/0:${Date.now()}%${randomHex(8)}` },
    }
  }

  return {
    fetch: async (request, ctx) => app.fetch(request, ctx ? { ctx } : undefined),
    state,
    webhooks,
    issuers,
    vonage,
    sendCallbacks,
    receiveSms,
  }
}

/**
 * Twilio's request signature, written here from its documentation ("Webhooks security") rather
 * than taken from Portero: base64 of HMAC-SHA1 keyed with the auth token, over the URL followed
 * by each form field's name and value, sorted by name.
 */
export async function twilioSignature(
  authToken: string,
  url: string,
  form: Record<string, string>,
): Promise<string> {
  const data =
    url +
    Object.keys(form)
      .sort()
      .map((name) => name + form[name])
      .join('')
  const encoder = new TextEncoder()
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(authToken),
    { name: 'HMAC', hash: 'SHA-1' },
    false,
    ['sign'],
  )
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(data)))
  return btoa(String.fromCharCode(...mac))
}

type FieldViolation = { field: string; description: string }

/** The first problem FCM would report in a send body, checking types loosely. */
function findViolation(payload: unknown): FieldViolation | undefined {
  const message = pick(payload, 'message')
  if (!isObject(message)) return { field: 'message', description: 'The message is required.' }
  const targets = (['token', 'topic', 'condition'] as const).filter((t) => message[t] !== undefined)
  if (targets.length === 0) {
    return { field: 'message', description: 'Recipient of the message is not set.' }
  }
  if (targets.length > 1) {
    const description =
      "Invalid value at 'message' (oneof), oneof field 'target' is already set. " +
      `Cannot set '${targets[1]}'`
    return { field: 'message', description }
  }
  const checks: [path: string[], kind: 'string' | 'object' | 'string map'][] = [
    [[targets[0]!], 'string'],
    [['notification'], 'object'],
    [['notification', 'title'], 'string'],
    [['notification', 'body'], 'string'],
    [['notification', 'image'], 'string'],
    [['data'], 'string map'],
    [['android'], 'object'],
    [['android', 'collapse_key'], 'string'],
    [['android', 'notification'], 'object'],
    [['android', 'notification', 'image'], 'string'],
    [['android', 'notification', 'tag'], 'string'],
    [['apns'], 'object'],
    [['apns', 'headers'], 'string map'],
    [['apns', 'payload'], 'object'],
    [['apns', 'fcm_options'], 'object'],
    [['apns', 'fcm_options', 'image'], 'string'],
    [['webpush'], 'object'],
    [['webpush', 'notification'], 'object'],
    [['webpush', 'notification', 'image'], 'string'],
    [['webpush', 'fcm_options'], 'object'],
    [['webpush', 'fcm_options', 'link'], 'string'],
  ]
  for (const [path, kind] of checks) {
    const value = pick(message, ...path)
    const valid =
      value === undefined ||
      (kind === 'string' && typeof value === 'string') ||
      (kind === 'object' && isObject(value)) ||
      (kind === 'string map' &&
        isObject(value) &&
        Object.values(value).every((v) => typeof v === 'string'))
    if (!valid) {
      const field = ['message', ...path].join('.')
      return {
        field,
        description: `Invalid value at '${field}': expected ${kind}, got ${JSON.stringify(value)}`,
      }
    }
  }
  // APNs refuses a longer collapse id; FCM checks it before sending, whatever the device.
  const headers = pick(message, 'apns', 'headers')
  for (const [name, value] of Object.entries(isObject(headers) ? headers : {})) {
    if (name.toLowerCase() === 'apns-collapse-id' && utf8Length(value) > MAX_APNS_COLLAPSE_ID) {
      return {
        field: 'message.apns.headers',
        description:
          'The length of [apns-collapse-id] header must not exceed ' +
          `[${MAX_APNS_COLLAPSE_ID}] bytes.`,
      }
    }
  }
  return undefined
}

function injectedAnswer({ target, status, retryAfter, body }: InjectedFailure): Answer {
  const headers = retryAfter === undefined ? undefined : { 'retry-after': String(retryAfter) }
  const text = STATUS_TEXT[status] ?? 'Injected failure'
  if (body !== undefined) return { status, body, headers }
  if (target === 'sms') {
    return twilioError(status, status === 401 ? 20003 : 20000 + status, text, headers)
  }
  if (target === 'fcm') {
    const errorCode = { 429: 'QUOTA_EXCEEDED', 500: 'INTERNAL', 503: 'UNAVAILABLE' }[status]
    return fcmError(status, text, errorCode, headers)
  }
  const error =
    status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'internal_failure' : 'invalid_request'
  return { ...googleError(error, text), status, headers }
}

// Twilio REST errors:
// https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions
function twilioError(
  status: number,
  code: number,
  message: string,
  headers?: Record<string, string>,
): Answer {
  return {
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
    headers,
  }
}

// RFC 6749 §5.2 as Google's token endpoint sends it: always 400 here.
function googleError(error: string, description: string): Answer {
  return { status: 400, body: { error, error_description: description } }
}

// google.rpc.Status with FCM's FcmError detail:
// https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
function fcmError(
  status: number,
  message: string,
  errorCode?: string,
  headers?: Record<string, string>,
  extraDetails: unknown[] = [],
): Answer {
  const details = errorCode ? [{ '@type': FCM_ERROR, errorCode }, ...extraDetails] : extraDetails
  const error = {
    code: status,
    message,
    status: RPC_STATUS[status] ?? 'UNKNOWN',
    ...(details.length ? { details } : {}),
  }
  return { status, body: { error }, headers }
}

function isJson(request: Request): boolean {
  return mediaType(request) === 'application/json'
}

function mediaType(request: Request): string | undefined {
  return request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
}

async function readForm(request: Request): Promise<URLSearchParams | undefined> {
  if (mediaType(request) !== 'application/x-www-form-urlencoded') return undefined
  return new URLSearchParams(await request.text())
}

/** A form as an object; a repeated field (MediaUrl) becomes an array. */
function formToObject(form: URLSearchParams): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {}
  for (const key of new Set(form.keys())) {
    const values = form.getAll(key)
    result[key] = values.length === 1 ? values[0]! : values
  }
  return result
}

/** The token request as recorded: the assertion's claims instead of the signed credential. */
function recordedTokenRequest(form: URLSearchParams, field = 'assertion'): Record<string, unknown> {
  const { [field]: assertion, ...rest } = formToObject(form)
  if (typeof assertion !== 'string') return rest
  try {
    return { ...rest, [field]: decodeJwt(assertion) }
  } catch {
    return { ...rest, [field]: '(not a JWT)' }
  }
}

function readBasicAuth(header: string | null): [username: string, password: string] | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '')
  if (!match) return undefined
  try {
    const decoded = atob(match[1]!)
    const colon = decoded.indexOf(':')
    return colon < 0 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)]
  } catch {
    return undefined
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function utf8Length(value: unknown): number {
  return new TextEncoder().encode(String(value)).length
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function pick(value: unknown, ...path: string[]): unknown {
  return path.reduce<unknown>(
    (current, key) => (isObject(current) ? current[key] : undefined),
    value,
  )
}

// GSM-7 fits 160 characters in one SMS and 153 per part once split; anything else goes as UCS-2
// (70, 67 per part). Printable ASCII stands in for the GSM-7 alphabet here.
function countSegments(body: string): number {
  const [single, part] = /^[\x20-\x7e\r\n]*$/.test(body) ? [160, 153] : [70, 67]
  return body.length <= single ? 1 : Math.ceil(body.length / part)
}

/** A date as Twilio writes it (RFC 2822): `Sun, 01 Mar 2026 12:00:00 +0000`. */
function twilioDate(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000')
}

/** The UTC day (YYYY-MM-DD) of a Twilio date. */
function isoDay(twilioDate: string): string {
  return new Date(Date.parse(twilioDate)).toISOString().slice(0, 10)
}

function isIsoDay(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`))
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
}

function escapeHtml(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '')
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

function callbackTable(callbacks: StatusCallback[]): string {
  const rows = [...callbacks]
    .reverse()
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.form.MessageSid)}</td><td>${escapeHtml(c.form.To)}</td>` +
        `<td>${escapeHtml(c.form.MessageStatus)}</td><td>${escapeHtml(c.form.ErrorCode ?? '')}</td>` +
        `<td>${escapeHtml(c.answer ?? 'pending')}</td></tr>`,
    )
  return (
    `<h2>Status callbacks (${rows.length})</h2>` +
    (rows.length === 0
      ? '<p>None yet.</p>'
      : '<table><tr><th>MessageSid</th><th>To</th><th>Status</th><th>ErrorCode</th>' +
        `<th>Answer</th></tr>${rows.join('')}</table>`)
  )
}

function renderPage(state: StandInState): string {
  const row = (entry: ReceivedRequest, cells: unknown[]) =>
    `<tr class="${entry.status < 300 ? 'ok' : 'failed'}"><td>${escapeHtml(entry.at)}</td>` +
    `<td>${entry.status}${entry.injected ? ' (injected)' : ''}</td>` +
    cells.map((cell) => `<td>${escapeHtml(cell ?? '')}</td>`).join('') +
    '</tr>'
  const sms = [...state.sms]
    .filter((e) => e.method === 'POST')
    .reverse()
    .map((e) => {
      const body = isObject(e.body) ? e.body : {}
      return row(e, [body.To, body.From, body.Body, body.MediaUrl])
    })
  const pushes = [...state.fcm].reverse().map((e) => {
    const message = pick(e.body, 'message')
    const target = pick(message, 'token') ?? pick(message, 'topic') ?? pick(message, 'condition')
    const link = pick(message, 'webpush', 'fcm_options', 'link')
    return row(e, [
      target,
      pick(message, 'notification', 'title'),
      pick(message, 'notification', 'body'),
      link,
    ])
  })
  const table = (title: string, heads: string[], rows: string[]) =>
    `<h2>${title} (${rows.length})</h2>` +
    (rows.length === 0
      ? '<p>None yet.</p>'
      : '<table><tr><th>Received</th><th>Answer</th>' +
        `${heads.map((h) => `<th>${h}</th>`).join('')}</tr>${rows.join('')}</table>`)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>Portero stand-in</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td {
  border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top;
  white-space: pre-wrap;
}
tr.failed td { color: #a00; }
</style>
</head>
<body>
<h1>Portero stand-in</h1>
<p>${state.accessTokens.size} access token(s) issued,
${state.failures.length} failure rule(s) queued. Refreshes every 2 s.</p>
${table('SMS', ['To', 'From', 'Body', 'Media'], sms)}
${table('Push', ['Target', 'Title', 'Body', 'Link'], pushes)}
${callbackTable(state.callbacks)}
</body>
</html>
`
}
