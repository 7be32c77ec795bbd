import { undeliverableRequest } from '../helpers/stand-in.ts'
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createStandIn, type StandIn, type StandInOptions } from '../../stand-in/app.ts'

const BASE = 'http://stand-in.test'
const ACCOUNT_SID = 'ACtest0000000000000000000000000000'
const AUTH_TOKEN = 'test-auth-token'
const PROJECT = 'portero-test'
const SERVICE_ACCOUNT = 'portero-test@portero-test.iam.gserviceaccount.com'
const TOKEN_URL = `${BASE}/google/token`
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const SMS_PATH = `/twilio/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`
const FCM_PATH = `/fcm/v1/projects/${PROJECT}/messages:send`

const serviceAccount = await generateKeyPair('RS256', { extractable: true })
const otherKey = await generateKeyPair('RS256', { extractable: true })

const NOW = new Date('2026-03-01T12:00:00Z')
const NOW_SECONDS = NOW.getTime() / 1000

let standIn: StandIn

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: NOW })
  standIn = createStandIn({
    twilioAccountSid: ACCOUNT_SID,
    twilioAuthToken: AUTH_TOKEN,
    fcmProjectId: PROJECT,
    serviceAccountEmail: SERVICE_ACCOUNT,
    serviceAccountPublicKey: await exportJWK(serviceAccount.publicKey),
    tokenUrl: TOKEN_URL,
  })
})

afterEach(() => {
  vi.useRealTimers()
})

function call(path: string, init?: RequestInit): Promise<Response> {
  return standIn.fetch(new Request(BASE + path, init))
}

function twilioAuth(username = ACCOUNT_SID, password = AUTH_TOKEN): string {
  return `Basic ${btoa(`${username}:${password}`)}`
}

function postSms(
  fields: Record<string, string | string[]>,
  { path = SMS_PATH, headers = {} }: { path?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const form = new URLSearchParams()
  for (const [key, value] of Object.entries(fields)) {
    for (const item of [value].flat()) form.append(key, item)
  }
  return call(path, {
    method: 'POST',
    headers: {
      authorization: twilioAuth(),
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: form.toString(),
  })
}

const SMS = { To: '+14155550100', From: '+15005550006', Body: 'Your code is 123456' }

async function expectTwilioError(response: Response, status: number, code: number) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  const body = (await response.json()) as Record<string, unknown>
  expect(body).toEqual({
    code,
    message: expect.any(String),
    more_info: `https://www.twilio.com/docs/errors/${code}`,
    status,
  })
  return body
}

/** Claims of a valid service-account assertion, overridable per test. */
function assertionClaims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: SERVICE_ACCOUNT,
    scope: FCM_SCOPE,
    aud: TOKEN_URL,
    iat: NOW_SECONDS,
    exp: NOW_SECONDS + 3600,
    ...overrides,
  }
}

function signAssertion(claims: JWTPayload = assertionClaims(), key = serviceAccount.privateKey) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(key)
}

function postToken(fields: Record<string, string>): Promise<Response> {
  return call('/google/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  })
}

async function accessToken(): Promise<string> {
  const response = await postToken({ grant_type: JWT_BEARER, assertion: await signAssertion() })
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

async function expectGoogleError(response: Response, error: string) {
  expect(response.status).toBe(400)
  const body = (await response.json()) as Record<string, unknown>
  expect(body).toEqual({ error, error_description: expect.any(String) })
  return body.error_description as string
}

async function postPush(body: unknown, token?: string, path = FCM_PATH): Promise<Response> {
  return call(path, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token ?? (await accessToken())}`,
      'content-type': 'application/json',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

const PUSH = {
  message: {
    token: 'device-token-1',
    notification: { title: 'Hello', body: 'A new message' },
    android: { collapse_key: 'delivery-1', priority: 'high' },
    apns: { headers: { 'apns-collapse-id': 'delivery-1', 'apns-priority': '10' } },
    webpush: { fcm_options: { link: 'https://example.com/inbox' } },
    data: { deliveryId: 'delivery-1' },
  },
}

type FcmErrorBody = {
  error: { code: number; message: string; status: string; details?: Record<string, unknown>[] }
}

async function expectFcmError(
  response: Response,
  status: number,
  rpcStatus: string,
  errorCode?: string,
) {
  expect(response.status).toBe(status)
  const { error } = (await response.json()) as FcmErrorBody
  expect(error).toMatchObject({ code: status, status: rpcStatus, message: expect.any(String) })
  if (errorCode) {
    expect(error.details).toContainEqual({
      '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError',
      errorCode,
    })
  }
  return error
}

function queueFailure(failure: Record<string, unknown>): Promise<Response> {
  return call('/_control/failures', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(failure),
  })
}

describe('POST /twilio/2010-04-01/Accounts/:sid/Messages.json', () => {
  it('answers 201 with a queued Twilio message and records the request', async () => {
    const response = await postSms(SMS)
    expect(response.status).toBe(201)
    const message = (await response.json()) as Record<string, unknown>
    expect(message).toMatchObject({
      account_sid: ACCOUNT_SID,
      to: SMS.To,
      from: SMS.From,
      body: SMS.Body,
      status: 'queued',
      num_segments: '1',
      num_media: '0',
      date_created: 'Sun, 01 Mar 2026 12:00:00 +0000',
    })
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/)
    expect(standIn.state.sms).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: SMS_PATH,
        body: SMS,
        status: 201,
        injected: false,
      }),
    ])
    expect(standIn.state.sms[0]!.headers).not.toHaveProperty('authorization')
  })

  it('accepts a repeated MediaUrl in place of Body and records every URL', async () => {
    const media = ['https://example.com/a.png', 'https://example.com/b.png']
    const response = await postSms({ To: SMS.To, From: SMS.From, MediaUrl: media })
    expect(response.status).toBe(201)
    expect(await response.json()).toMatchObject({ body: '', num_media: '2' })
    expect(standIn.state.sms[0]!.body).toEqual({ To: SMS.To, From: SMS.From, MediaUrl: media })
  })

  it('counts GSM-7 and UCS-2 segments as Twilio does', async () => {
    const segments = async (Body: string) =>
      ((await (await postSms({ ...SMS, Body })).json()) as { num_segments: string }).num_segments
    expect(await segments('a'.repeat(160))).toBe('1')
    expect(await segments('a'.repeat(161))).toBe('2')
    expect(await segments('a'.repeat(1600))).toBe('11')
    expect(await segments('é'.repeat(70))).toBe('1')
    expect(await segments('é'.repeat(71))).toBe('2')
  })

  it.each([
    ['a wrong auth token', twilioAuth(ACCOUNT_SID, 'wrong')],
    ['another account', twilioAuth('ACother', AUTH_TOKEN)],
    ['a bearer token', 'Bearer abc'],
    ['garbage', 'Basic !!!'],
  ])('answers 401 code 20003 for %s', async (_, authorization) => {
    const response = await postSms(SMS, { headers: { authorization } })
    await expectTwilioError(response, 401, 20003)
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="Twilio API"')
  })

  it('answers 401 code 20003 without credentials', async () => {
    const response = await call(SMS_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(SMS).toString(),
    })
    await expectTwilioError(response, 401, 20003)
  })

  it('answers 404 code 20404 for another account in the path', async () => {
    const response = await postSms(SMS, {
      path: '/twilio/2010-04-01/Accounts/ACother/Messages.json',
    })
    const body = await expectTwilioError(response, 404, 20404)
    expect(body.message).toContain('/2010-04-01/Accounts/ACother/Messages.json')
  })

  it('answers 400 code 21604 for a JSON body', async () => {
    const response = await call(SMS_PATH, {
      method: 'POST',
      headers: { authorization: twilioAuth(), 'content-type': 'application/json' },
      body: JSON.stringify(SMS),
    })
    const body = await expectTwilioError(response, 400, 21604)
    expect(body.message).toContain('application/x-www-form-urlencoded')
    expect(standIn.state.sms[0]!.body).toBe(JSON.stringify(SMS))
  })

  it.each([
    ['To', 21604],
    ['From', 21603],
    ['Body', 21602],
  ])('answers 400 when %s is missing (code %i)', async (field, code) => {
    const { [field as keyof typeof SMS]: _missing, ...fields } = SMS
    await expectTwilioError(await postSms(fields), 400, code)
  })

  it('answers 400 code 21602 for an empty Body without media', async () => {
    await expectTwilioError(await postSms({ ...SMS, Body: '' }), 400, 21602)
  })

  it.each(['4155550100', '+04155550100', '+1 415 555 0100', '+123', '+1415555010012345'])(
    'answers 400 code 21211 for the non-E.164 number %s',
    async (To) => {
      const body = await expectTwilioError(await postSms({ ...SMS, To }), 400, 21211)
      expect(body.message).toBe("The 'To' number is not a valid phone number")
    },
  )

  it('answers 400 code 21617 for a body over 1600 characters', async () => {
    await expectTwilioError(await postSms({ ...SMS, Body: 'a'.repeat(1601) }), 400, 21617)
  })

  it.each([
    ['+15005550009', 21614],
    ['+15005550004', 21610],
    ['+15005550001', 21211],
    ['+15005550002', 21612],
    ['+15005550003', 21408],
  ])('answers 400 for the Twilio test number %s (code %i)', async (To, code) => {
    await expectTwilioError(await postSms({ ...SMS, To }), 400, code)
    expect(standIn.state.sms[0]).toMatchObject({ status: 400, response: { code } })
  })

  describe('with a Messaging Service and an API key', () => {
    const SERVICE = `MG${'ab'.repeat(16)}`
    const KEY = { sid: `SK${'cd'.repeat(16)}`, secret: 'key-secret' }
    const account = () =>
      createStandIn({
        twilioAccountSid: ACCOUNT_SID,
        twilioAuthToken: AUTH_TOKEN,
        twilioApiKey: KEY,
        twilioMessagingServiceSid: SERVICE,
        fcmProjectId: PROJECT,
        serviceAccountEmail: SERVICE_ACCOUNT,
        serviceAccountPublicKey: { kty: 'RSA' },
        tokenUrl: TOKEN_URL,
      })
    const post = (target: StandIn, fields: Record<string, string>, auth = twilioAuth()) =>
      target.fetch(
        new Request(BASE + SMS_PATH, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields).toString(),
        }),
      )
    const { From: _from, ...withoutFrom } = SMS

    it('sends from the service’s pool, authenticated by the API key', async () => {
      const response = await post(
        account(),
        { ...withoutFrom, MessagingServiceSid: SERVICE },
        twilioAuth(KEY.sid, KEY.secret),
      )
      expect(response.status).toBe(201)
      expect(await response.json()).toMatchObject({
        from: '+15005550006',
        messaging_service_sid: SERVICE,
      })
    })

    it('answers 401 code 20003 to an API key with the wrong secret', async () => {
      const response = await post(account(), SMS, twilioAuth(KEY.sid, AUTH_TOKEN))
      await expectTwilioError(response, 401, 20003)
    })

    it.each([
      [`MG${'ef'.repeat(16)}`, 21701],
      ['MG-not-a-sid', 21705],
    ])('answers 400 to the Messaging Service %s (code %i)', async (service, code) => {
      const response = await post(account(), { ...withoutFrom, MessagingServiceSid: service })
      await expectTwilioError(response, 400, code)
    })

    it('answers 400 code 21603 without a From or a Messaging Service', async () => {
      await expectTwilioError(await post(account(), withoutFrom), 400, 21603)
    })
  })

  it.each([
    ['+15005550001', 21212],
    ['+15005550007', 21606],
  ])('answers 400 for the Twilio test sender %s (code %i)', async (From, code) => {
    await expectTwilioError(await postSms({ ...SMS, From }), 400, code)
  })
})

describe('GET /twilio/2010-04-01/Accounts/:sid/Messages.json', () => {
  const CALLBACK = 'https://portero.test/callbacks/sms/status'

  /** A stand-in that holds its status callbacks: `sendCallbacks()` marks messages sent. */
  async function holdingStandIn(account: Partial<StandInOptions> = {}) {
    return createStandIn({
      ...account,
      twilioAccountSid: ACCOUNT_SID,
      twilioAuthToken: AUTH_TOKEN,
      fcmProjectId: PROJECT,
      serviceAccountEmail: SERVICE_ACCOUNT,
      serviceAccountPublicKey: await exportJWK(serviceAccount.publicKey),
      tokenUrl: TOKEN_URL,
      holdCallbacks: true,
      fetch: async () => new Response(null, { status: 204 }),
    })
  }

  async function send(target: StandIn, fields: Record<string, string>) {
    const response = await target.fetch(
      new Request(BASE + SMS_PATH, {
        method: 'POST',
        headers: {
          authorization: twilioAuth(),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ ...SMS, StatusCallback: CALLBACK, ...fields }).toString(),
      }),
    )
    expect(response.status).toBe(201)
    return ((await response.json()) as { sid: string }).sid
  }

  type MessagePage = {
    messages: { sid: string; to: string; body: string; status: string; date_sent: string | null }[]
    page: number
    page_size: number
    next_page_uri: string | null
    first_page_uri: string
    uri: string
  }

  async function list(
    target: StandIn,
    query: Record<string, string> | string,
    authorization = twilioAuth(),
    path = SMS_PATH,
  ) {
    const search = typeof query === 'string' ? query : new URLSearchParams(query).toString()
    return target.fetch(new Request(`${BASE}${path}?${search}`, { headers: { authorization } }))
  }

  async function listed(target: StandIn, query: Record<string, string> | string) {
    const response = await list(target, query)
    expect(response.status).toBe(200)
    return (await response.json()) as MessagePage
  }

  it('lists the accepted messages newest first, by To and From, in Twilio’s page shape', async () => {
    const target = await holdingStandIn()
    const first = await send(target, { Body: 'first' })
    const second = await send(target, { Body: 'second' })
    await send(target, { To: '+14155550199' })
    await send(target, { From: '+15005550008' })
    const page = await listed(target, { To: SMS.To, From: SMS.From })
    expect(page.messages.map((m) => [m.sid, m.body, m.status, m.date_sent])).toEqual([
      [second, 'second', 'queued', null],
      [first, 'first', 'queued', null],
    ])
    expect(page).toMatchObject({ page: 0, page_size: 50, next_page_uri: null })
    expect(page.uri).toMatch(/^\/2010-04-01\/Accounts\/AC\w+\/Messages\.json\?/)
    expect(target.state.sms.at(-1)).toMatchObject({
      method: 'GET',
      status: 200,
      body: { To: SMS.To, From: SMS.From },
    })
  })

  it('lists under a DateSent filter only messages sent that UTC day, once sent', async () => {
    const target = await holdingStandIn()
    const sid = await send(target, {})
    const sids = async (query: string) => (await listed(target, query)).messages.map((m) => m.sid)
    // Still in the queue: no date sent, so no DateSent filter lists it.
    expect(await sids('DateSent%3E=2026-03-01')).toEqual([])
    await target.sendCallbacks()
    expect(target.state.messages[0]).toMatchObject({
      sid,
      status: 'delivered',
      date_sent: 'Sun, 01 Mar 2026 12:00:00 +0000',
    })
    expect(await sids('DateSent%3E=2026-03-01')).toEqual([sid])
    expect(await sids('DateSent%3E=2026-02-28')).toEqual([sid])
    expect(await sids('DateSent%3E=2026-03-02')).toEqual([])
    expect(await sids('DateSent%3C=2026-03-01')).toEqual([sid])
    expect(await sids('DateSent%3C=2026-02-28')).toEqual([])
    expect(await sids('DateSent=2026-03-01')).toEqual([sid])
    expect(await sids('DateSent=2026-03-02')).toEqual([])
  })

  it('pages PageSize at a time through next_page_uri', async () => {
    const target = await holdingStandIn()
    const sent = []
    for (let i = 0; i < 5; i++) sent.push(await send(target, { Body: `n${i}` }))
    await target.sendCallbacks()
    const seen: string[] = []
    let next: string | null =
      `${SMS_PATH.replace(/^\/twilio/, '')}?DateSent%3E=2026-03-01&PageSize=2`
    while (next) {
      const page = await listed(target, next.split('?')[1]!)
      expect(page.page_size).toBe(2)
      seen.push(...page.messages.map((m) => m.sid))
      next = page.next_page_uri
      if (next) expect(next).toMatch(/^\/2010-04-01\/Accounts\/\w+\/Messages\.json\?.*PageToken=PA/)
    }
    expect(seen).toEqual(sent.reverse())
  })

  it.each([
    ['a wrong auth token', twilioAuth(ACCOUNT_SID, 'wrong')],
    ['another account', twilioAuth('ACother', AUTH_TOKEN)],
  ])('answers 401 code 20003 for %s', async (_, authorization) => {
    const response = await list(standIn, {}, authorization)
    await expectTwilioError(response, 401, 20003)
  })

  it('answers 404 code 20404 for another account in the path', async () => {
    const path = '/twilio/2010-04-01/Accounts/ACother/Messages.json'
    const body = await expectTwilioError(await list(standIn, {}, twilioAuth(), path), 404, 20404)
    expect(body.message).toContain('/2010-04-01/Accounts/ACother/Messages.json')
  })

  it.each([
    ['an inequality in the value', 'DateSent=%3E%3D2026-03-01'],
    ['a date that is not YYYY-MM-DD', 'DateSent%3E=01%2F03%2F2026'],
    ['a PageSize of 0', 'PageSize=0'],
    ['a PageSize over 1000', 'PageSize=1001'],
    ['an unknown PageToken', 'PageToken=PAnothing'],
  ])('answers 400 code 20001 for %s', async (_, query) => {
    await expectTwilioError(await list(standIn, query), 400, 20001)
  })

  it('answers a queued sms failure, as the API is down for lists too', async () => {
    await queueFailure({ target: 'sms', status: 503, retryAfter: 4 })
    const response = await list(standIn, {})
    await expectTwilioError(response, 503, 20503)
    expect(response.headers.get('retry-after')).toBe('4')
    expect((await list(standIn, {})).status).toBe(200)
  })

  it('answers the SMS adapter’s findAccepted: found once sent, not while queued', async () => {
    const target = await holdingStandIn()
    const { createSmsNotifier } = await import('../../src/channels/sms.ts')
    const sms = createSmsNotifier({
      baseUrl: `${BASE}/twilio`,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: SMS.From,
      statusCallbackUrl: CALLBACK,
      fetch: async (input, init) => target.fetch(new Request(input, init)),
    })
    const message = { id: 'd-1', channel: 'sms' as const, to: SMS.To, title: 'Hola', body: 'Cita' }
    const sent = await sms.send(message)
    expect(sent).toMatchObject({ ok: true })
    // The process died here, before recording the sid.
    expect(await sms.findAccepted(message, NOW)).toEqual({ found: false })
    await target.sendCallbacks()
    expect(await sms.findAccepted(message, NOW)).toEqual({
      found: true,
      providerMessageId: sent.ok ? sent.providerMessageId : '',
      status: 'delivered',
    })
    expect(await sms.findAccepted({ ...message, body: 'Otra' }, NOW)).toEqual({ found: false })
  })

  it('serves one message by its sid as Twilio’s Fetch Message does, auth checked', async () => {
    const target = await holdingStandIn()
    const sid = await send(target, {})
    const path = `/twilio/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${sid}.json`
    const get = (p: string, authorization = twilioAuth()) =>
      target.fetch(new Request(BASE + p, { headers: { authorization } }))
    const queued = await get(path)
    expect(queued.status).toBe(200)
    expect(await queued.json()).toMatchObject({ sid, status: 'queued', error_code: null })
    await target.sendCallbacks(undefined, { lost: true })
    expect(await (await get(path)).json()).toMatchObject({ sid, status: 'delivered' })
    expect(target.state.callbacks.map((c) => c.answer)).toEqual([
      'lost: the receiver was down',
      'lost: the receiver was down',
    ])
    await expectTwilioError(await get(path, twilioAuth(ACCOUNT_SID, 'wrong')), 401, 20003)
    await expectTwilioError(await get(path.replace(sid, `SM${'0'.repeat(32)}`)), 404, 20404)
  })

  it('answers findAccepted for a Messaging Service through an API key, by To alone', async () => {
    const service = `MG${'ab'.repeat(16)}`
    const apiKey = { sid: `SK${'cd'.repeat(16)}`, secret: 'key-secret' }
    const target = await holdingStandIn({
      twilioMessagingServiceSid: service,
      twilioApiKey: apiKey,
    })
    const { createSmsNotifier } = await import('../../src/channels/sms.ts')
    const sms = createSmsNotifier({
      baseUrl: `${BASE}/twilio`,
      accountSid: ACCOUNT_SID,
      authToken: 'not-accepted-for-rest-calls',
      apiKey,
      messagingServiceSid: service,
      statusCallbackUrl: CALLBACK,
      fetch: async (input, init) => target.fetch(new Request(input, init)),
    })
    const message = { id: 'd-2', channel: 'sms' as const, to: SMS.To, title: 'Hola', body: 'Cita' }
    // Earlier, the same text to the same number from the pool's number, not through the service.
    await send(target, { Body: 'Hola\nCita' })
    const sent = await sms.send(message)
    expect(sent).toMatchObject({ ok: true })
    await target.sendCallbacks()
    expect(await sms.findAccepted(message, NOW)).toEqual({
      found: true,
      providerMessageId: sent.ok ? sent.providerMessageId : '',
      status: 'delivered',
    })
    const [request] = target.state.sms.filter((r) => r.method === 'GET')
    expect(request!.body).not.toHaveProperty('From')
  })
})

describe('POST /google/token', () => {
  it('issues a ya29 Bearer token for 3599 s for a valid assertion', async () => {
    const response = await postToken({ grant_type: JWT_BEARER, assertion: await signAssertion() })
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toEqual({
      access_token: expect.stringMatching(/^ya29\.\S+$/),
      expires_in: 3599,
      token_type: 'Bearer',
    })
    expect(standIn.state.accessTokens.size).toBe(1)
    expect(standIn.state.accessTokens.get(body.access_token as string)).toBe(
      NOW.getTime() + 3599_000,
    )
  })

  it('records the assertion claims, not the signed assertion', async () => {
    await postToken({ grant_type: JWT_BEARER, assertion: await signAssertion() })
    expect(standIn.state.tokens).toEqual([
      expect.objectContaining({
        path: '/google/token',
        body: { grant_type: JWT_BEARER, assertion: assertionClaims() },
        status: 200,
      }),
    ])
  })

  it('accepts a scope list that includes firebase.messaging', async () => {
    const claims = assertionClaims({
      scope: `https://www.googleapis.com/auth/cloud-platform ${FCM_SCOPE}`,
    })
    const response = await postToken({
      grant_type: JWT_BEARER,
      assertion: await signAssertion(claims),
    })
    expect(response.status).toBe(200)
  })

  it('answers unsupported_grant_type for client_credentials', async () => {
    const response = await postToken({
      grant_type: 'client_credentials',
      assertion: await signAssertion(),
    })
    expect(await expectGoogleError(response, 'unsupported_grant_type')).toBe(
      'Invalid grant_type: client_credentials',
    )
  })

  it('answers unsupported_grant_type for a JSON body', async () => {
    const response = await call('/google/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: JWT_BEARER, assertion: await signAssertion() }),
    })
    await expectGoogleError(response, 'unsupported_grant_type')
  })

  it('answers invalid_request without an assertion', async () => {
    await expectGoogleError(await postToken({ grant_type: JWT_BEARER }), 'invalid_request')
  })

  it.each([
    [
      'signed by another key',
      async () => signAssertion(assertionClaims(), otherKey.privateKey),
      'Invalid JWT Signature.',
    ],
    [
      'signed with HS256',
      async () =>
        new SignJWT(assertionClaims())
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new Uint8Array(32)),
      'Invalid JWT Signature.',
    ],
    [
      'for another audience',
      async () => signAssertion(assertionClaims({ aud: 'https://oauth2.googleapis.com/token' })),
      'audience',
    ],
    [
      'from another account',
      async () => signAssertion(assertionClaims({ iss: 'someone@else.iam.gserviceaccount.com' })),
      'account not found',
    ],
    [
      'expired',
      async () =>
        signAssertion(assertionClaims({ iat: NOW_SECONDS - 7200, exp: NOW_SECONDS - 3600 })),
      'short-lived',
    ],
    [
      'living over an hour',
      async () => signAssertion(assertionClaims({ exp: NOW_SECONDS + 3601 })),
      'short-lived',
    ],
    [
      'issued in the future',
      async () =>
        signAssertion(assertionClaims({ iat: NOW_SECONDS + 600, exp: NOW_SECONDS + 1200 })),
      'short-lived',
    ],
    ['without iat', async () => signAssertion(assertionClaims({ iat: undefined })), 'short-lived'],
    ['without exp', async () => signAssertion(assertionClaims({ exp: undefined })), 'short-lived'],
    ['not a JWT', async () => 'not-a-jwt', 'well-formed'],
  ])('answers invalid_grant for an assertion %s', async (_, assertion, description) => {
    const response = await postToken({ grant_type: JWT_BEARER, assertion: await assertion() })
    expect(await expectGoogleError(response, 'invalid_grant')).toContain(description)
    expect(standIn.state.accessTokens.size).toBe(0)
  })

  it.each([
    ['without a scope', undefined],
    ['for another scope', 'https://www.googleapis.com/auth/cloud-platform'],
  ])('answers invalid_scope for an assertion %s', async (_, scope) => {
    const response = await postToken({
      grant_type: JWT_BEARER,
      assertion: await signAssertion(assertionClaims({ scope })),
    })
    await expectGoogleError(response, 'invalid_scope')
  })
})

describe('POST /fcm/v1/projects/:project/messages:send', () => {
  it('answers 200 with the message name and records the message', async () => {
    const response = await postPush(PUSH)
    expect(response.status).toBe(200)
    const { name } = (await response.json()) as { name: string }
    expect(name).toMatch(new RegExp(`^projects/${PROJECT}/messages/\\S+$`))
    expect(standIn.state.fcm).toEqual([
      expect.objectContaining({ path: FCM_PATH, body: PUSH, status: 200, injected: false }),
    ])
    expect(standIn.state.fcm[0]!.headers).not.toHaveProperty('authorization')
  })

  it('reuses one access token for many sends', async () => {
    const token = await accessToken()
    for (let i = 0; i < 3; i++) expect((await postPush(PUSH, token)).status).toBe(200)
    expect(standIn.state.accessTokens.size).toBe(1)
    expect(standIn.state.tokens).toHaveLength(1)
  })

  it.each([
    ['topic', { topic: 'news' }],
    ['condition', { condition: "'news' in topics" }],
  ])('accepts a %s as the target', async (_, target) => {
    expect((await postPush({ message: { ...target, notification: { title: 't' } } })).status).toBe(
      200,
    )
  })

  it('answers 401 UNAUTHENTICATED without a bearer token', async () => {
    const response = await call(FCM_PATH, { method: 'POST', body: JSON.stringify(PUSH) })
    await expectFcmError(response, 401, 'UNAUTHENTICATED')
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /)
  })

  it('answers 401 UNAUTHENTICATED for a token it never issued', async () => {
    await expectFcmError(await postPush(PUSH, 'ya29.forged'), 401, 'UNAUTHENTICATED')
  })

  it('answers 401 UNAUTHENTICATED for an expired token', async () => {
    const token = await accessToken()
    vi.setSystemTime(NOW.getTime() + 3599_000)
    await expectFcmError(await postPush(PUSH, token), 401, 'UNAUTHENTICATED')
  })

  it('answers 403 PERMISSION_DENIED for another project', async () => {
    const response = await postPush(PUSH, undefined, '/fcm/v1/projects/other/messages:send')
    await expectFcmError(response, 403, 'PERMISSION_DENIED')
  })

  it('answers 404 for another method on the messages collection', async () => {
    const response = await postPush(
      PUSH,
      undefined,
      `/fcm/v1/projects/${PROJECT}/messages:batchSend`,
    )
    expect(response.status).toBe(404)
  })

  it.each([
    ['a body that is not JSON', '{"message":', undefined],
    ['a body without message', { validate_only: true }, 'message'],
    ['a message without a target', { message: { notification: { title: 't' } } }, 'message'],
    ['a message with two targets', { message: { token: 'a', topic: 'b' } }, 'message'],
    ['a token that is not a string', { message: { token: 42 } }, 'message.token'],
    [
      'a notification title that is not a string',
      { message: { token: 'a', notification: { title: 1 } } },
      'message.notification.title',
    ],
    [
      'a notification body that is not a string',
      { message: { token: 'a', notification: { body: null } } },
      'message.notification.body',
    ],
    [
      'a data value that is not a string',
      { message: { token: 'a', data: { n: 1 } } },
      'message.data',
    ],
    [
      'an android collapse_key that is not a string',
      { message: { token: 'a', android: { collapse_key: 1 } } },
      'message.android.collapse_key',
    ],
    [
      'an android notification tag that is not a string',
      { message: { token: 'a', android: { notification: { tag: 7 } } } },
      'message.android.notification.tag',
    ],
    [
      'an apns-collapse-id over 64 bytes',
      { message: { token: 'a', apns: { headers: { 'apns-collapse-id': 'x'.repeat(65) } } } },
      'message.apns.headers',
    ],
    [
      'an apns-collapse-id of 33 characters but 66 bytes',
      { message: { token: 'a', apns: { headers: { 'Apns-Collapse-Id': 'é'.repeat(33) } } } },
      'message.apns.headers',
    ],
    [
      'apns headers that are not strings',
      { message: { token: 'a', apns: { headers: { 'apns-priority': 10 } } } },
      'message.apns.headers',
    ],
    [
      'a webpush link that is not a string',
      { message: { token: 'a', webpush: { fcm_options: { link: ['x'] } } } },
      'message.webpush.fcm_options.link',
    ],
  ])('answers 400 INVALID_ARGUMENT for %s', async (_, body, field) => {
    const error = await expectFcmError(
      await postPush(body),
      400,
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
    )
    if (field) {
      expect(error.details).toContainEqual({
        '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [{ field, description: expect.any(String) }],
      })
    }
  })

  it('accepts an android notification tag and an apns-collapse-id of 64 bytes', async () => {
    const push = {
      message: {
        token: 'device-token-1',
        android: { notification: { tag: 'delivery-1' } },
        apns: { headers: { 'apns-collapse-id': 'x'.repeat(64) } },
      },
    }
    expect((await postPush(push)).status).toBe(200)
  })

  it('answers 400 INVALID_ARGUMENT for a JSON body sent as a form', async () => {
    const response = await call(FCM_PATH, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await accessToken()}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: JSON.stringify(PUSH),
    })
    await expectFcmError(response, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT')
  })

  it('answers 404 NOT_FOUND with UNREGISTERED for an unregistered- token', async () => {
    const push = { message: { ...PUSH.message, token: 'unregistered-abc' } }
    await expectFcmError(await postPush(push), 404, 'NOT_FOUND', 'UNREGISTERED')
  })

  it('answers 400 INVALID_ARGUMENT for an invalid- token', async () => {
    const push = { message: { ...PUSH.message, token: 'invalid-abc' } }
    await expectFcmError(await postPush(push), 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT')
  })
})

describe('POST /_control/failures', () => {
  it('answers the next count SMS with the failure and Retry-After, then recovers', async () => {
    expect(
      (await queueFailure({ target: 'sms', status: 503, retryAfter: 7, count: 2 })).status,
    ).toBe(201)
    for (let i = 0; i < 2; i++) {
      const response = await postSms(SMS)
      await expectTwilioError(response, 503, 20503)
      expect(response.headers.get('retry-after')).toBe('7')
    }
    expect((await postSms(SMS)).status).toBe(201)
    expect(standIn.state.sms.map((r) => [r.status, r.injected])).toEqual([
      [503, true],
      [503, true],
      [201, false],
    ])
    expect(standIn.state.failures).toEqual([])
  })

  it('fails one request by default, before any check, without Retry-After unless given', async () => {
    await queueFailure({ target: 'sms', status: 500 })
    const response = await postSms(SMS, {
      headers: { authorization: twilioAuth(ACCOUNT_SID, 'wrong') },
    })
    await expectTwilioError(response, 500, 20500)
    expect(response.headers.get('retry-after')).toBeNull()
    expect((await postSms(SMS)).status).toBe(201)
  })

  it('answers pushes with a 429 QUOTA_EXCEEDED in FCM shape', async () => {
    await queueFailure({ target: 'fcm', status: 429, retryAfter: 30 })
    const token = await accessToken()
    const response = await postPush(PUSH, token)
    await expectFcmError(response, 429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED')
    expect(response.headers.get('retry-after')).toBe('30')
    expect((await postPush(PUSH, token)).status).toBe(200)
  })

  it('answers with the given body instead of the default one', async () => {
    await queueFailure({ target: 'token', status: 503, body: { error: 'backend_error' } })
    const response = await postToken({ grant_type: JWT_BEARER, assertion: await signAssertion() })
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ error: 'backend_error' })
    expect(standIn.state.accessTokens.size).toBe(0)
    expect(standIn.state.tokens[0]).toMatchObject({ status: 503, injected: true })
  })

  it('touches only its target', async () => {
    await queueFailure({ target: 'token', status: 503 })
    expect((await postSms(SMS)).status).toBe(201)
    expect(standIn.state.failures).toHaveLength(1)
  })

  it('serves queued failures in order', async () => {
    await queueFailure({ target: 'sms', status: 429 })
    await queueFailure({ target: 'sms', status: 503 })
    expect((await postSms(SMS)).status).toBe(429)
    expect((await postSms(SMS)).status).toBe(503)
    expect((await postSms(SMS)).status).toBe(201)
  })

  it.each([
    ['an unknown target', { target: 'email', status: 503 }],
    ['a success status', { target: 'sms', status: 200 }],
    ['a count of zero', { target: 'sms', status: 503, count: 0 }],
    ['a negative Retry-After', { target: 'sms', status: 503, retryAfter: -1 }],
    ['no JSON at all', 'nope'],
  ])('answers 400 for %s', async (_, failure) => {
    const response = await call('/_control/failures', {
      method: 'POST',
      body: JSON.stringify(failure),
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_failure' })
    expect(standIn.state.failures).toEqual([])
  })

  it('lists queued failures, and DELETE clears them', async () => {
    await queueFailure({ target: 'fcm', status: 503, count: 3 })
    const listed = await (await call('/_control/failures')).json()
    expect(listed).toEqual({ queued: [{ target: 'fcm', status: 503, remaining: 3 }] })
    expect((await call('/_control/failures', { method: 'DELETE' })).status).toBe(204)
    expect((await postPush(PUSH)).status).toBe(200)
  })
})

describe('/_control/received and the page', () => {
  it('lists every request by API, and DELETE clears the lists', async () => {
    await postSms(SMS)
    await postPush(PUSH)
    const received = (await (await call('/_control/received')).json()) as Record<string, unknown[]>
    expect(Object.keys(received)).toEqual(['sms', 'fcm', 'tokens', 'callbacks'])
    expect(received.sms).toEqual([
      expect.objectContaining({ body: SMS, status: 201, at: NOW.toISOString() }),
    ])
    expect(received.fcm).toEqual([expect.objectContaining({ body: PUSH, status: 200 })])
    expect(received.tokens).toHaveLength(1)
    expect(JSON.stringify(received)).not.toMatch(/Basic |Bearer |ya29\.(?!\(redacted\))/)

    expect((await call('/_control/received', { method: 'DELETE' })).status).toBe(204)
    expect(await (await call('/_control/received')).json()).toEqual({
      sms: [],
      fcm: [],
      tokens: [],
      callbacks: [],
    })
  })

  it('shows SMS and pushes newest first, escaped, refreshing every 2 s', async () => {
    await postSms({ ...SMS, Body: 'first' })
    await postSms({ ...SMS, Body: '<script>alert("x")</script>' })
    await postPush({ message: { token: 'device-<b>', notification: { title: 'Hi & bye' } } })
    const response = await call('/')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await response.text()
    expect(html).toContain('<meta http-equiv="refresh" content="2">')
    expect(html).not.toContain('<script>')
    expect(html).not.toMatch(/src=|href=/)
    expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;')
    expect(html.indexOf('&#60;script')).toBeLessThan(html.indexOf('first'))
    expect(html).toContain('device-&#60;b&#62;')
    expect(html).toContain('Hi &#38; bye')
  })
})

describe('status callbacks', () => {
  const CALLBACK = 'https://portero.test/callbacks/sms/status'

  /** A stand-in that sends its callbacks itself, after the answer, to `received`. */
  async function sendingStandIn(received: Request[]) {
    return createStandIn({
      twilioAccountSid: ACCOUNT_SID,
      twilioAuthToken: AUTH_TOKEN,
      fcmProjectId: PROJECT,
      serviceAccountEmail: SERVICE_ACCOUNT,
      serviceAccountPublicKey: await exportJWK(serviceAccount.publicKey),
      tokenUrl: TOKEN_URL,
      callbackDelayMs: 0,
      fetch: async (request) => {
        received.push(request)
        return new Response(null, { status: 200 })
      },
    })
  }

  async function send(target: StandIn, to: string) {
    const waiting: Promise<unknown>[] = []
    const response = await target.fetch(
      new Request(BASE + SMS_PATH, {
        method: 'POST',
        headers: {
          authorization: twilioAuth(),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ ...SMS, To: to, StatusCallback: CALLBACK }).toString(),
      }),
      { waitUntil: (promise) => waiting.push(promise) },
    )
    await Promise.all(waiting)
    return (await response.json()) as { sid: string }
  }

  it('sends sent then delivered after the answer, signed as Twilio signs them', async () => {
    const received: Request[] = []
    const target = await sendingStandIn(received)
    const { sid } = await send(target, '+14155550100')
    const forms = await Promise.all(received.map(async (r) => new URLSearchParams(await r.text())))
    expect(received.map((r) => [r.method, r.url])).toEqual([
      ['POST', CALLBACK],
      ['POST', CALLBACK],
    ])
    expect(forms.map((f) => [f.get('MessageSid'), f.get('MessageStatus')])).toEqual([
      [sid, 'sent'],
      [sid, 'delivered'],
    ])
    expect(forms[0]!.get('AccountSid')).toBe(ACCOUNT_SID)
    // Checked with Portero's own verifier: two implementations of the scheme agree.
    const { verifySmsSignature } = await import('../../src/channels/sms-signature.ts')
    for (const [i, request] of received.entries()) {
      const signature = request.headers.get('x-twilio-signature')
      expect(await verifySmsSignature(AUTH_TOKEN, CALLBACK, forms[i]!, signature)).toBe(true)
    }
    expect(target.state.callbacks.map((c) => c.answer)).toEqual([200, 200])
  })

  it('reports a reserved or a control-made undeliverable number undelivered', async () => {
    const received: Request[] = []
    const target = await sendingStandIn(received)
    const marked = await target.fetch(undeliverableRequest('+14155550123', 30006, BASE))
    expect(marked.status).toBe(201)
    await send(target, '+14155550123')
    await send(target, '+15005550011')
    const finals = target.state.callbacks.filter((c) => c.form.MessageStatus !== 'sent')
    expect(finals.map((c) => [c.form.To, c.form.MessageStatus, c.form.ErrorCode])).toEqual([
      ['+14155550123', 'undelivered', '30006'],
      ['+15005550011', 'undelivered', '30005'],
    ])
    const refused = await target.fetch(undeliverableRequest('0034', 1, BASE))
    expect(refused.status).toBe(400)
  })

  it('holds them until sendCallbacks() when asked to, and sends none without a URL', async () => {
    const received: Request[] = []
    const target = createStandIn({
      twilioAccountSid: ACCOUNT_SID,
      twilioAuthToken: AUTH_TOKEN,
      fcmProjectId: PROJECT,
      serviceAccountEmail: SERVICE_ACCOUNT,
      serviceAccountPublicKey: await exportJWK(serviceAccount.publicKey),
      tokenUrl: TOKEN_URL,
      holdCallbacks: true,
      fetch: async (request) => (received.push(request), new Response(null, { status: 204 })),
    })
    await send(target, '+14155550100')
    expect((await postSmsTo(target)).status).toBe(201)
    expect(received).toHaveLength(0)
    expect(target.state.callbacks.map((c) => c.answer)).toEqual([null, null])
    await target.sendCallbacks()
    expect(received).toHaveLength(2)
    expect(target.state.callbacks.map((c) => c.answer)).toEqual([204, 204])
  })

  function postSmsTo(target: StandIn) {
    return target.fetch(
      new Request(BASE + SMS_PATH, {
        method: 'POST',
        headers: {
          authorization: twilioAuth(),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(SMS).toString(),
      }),
    )
  }
})

describe('POST /vonage/sms/json', () => {
  const received: Request[] = []
  const vonage = () =>
    createStandIn({
      twilioAccountSid: ACCOUNT_SID,
      twilioAuthToken: AUTH_TOKEN,
      fcmProjectId: PROJECT,
      serviceAccountEmail: SERVICE_ACCOUNT,
      serviceAccountPublicKey: { kty: 'RSA', n: 'AQAB', e: 'AQAB' },
      tokenUrl: TOKEN_URL,
      vonage: { apiKey: 'key1', apiSecret: 'secret1' },
      holdCallbacks: true,
      fetch: async (request) => {
        received.push(request)
        return new Response(null, { status: 200 })
      },
    })
  const send = (target: StandIn, fields: Record<string, string>, json = false) =>
    target.fetch(
      new Request(`${BASE}/vonage/sms/json`, {
        method: 'POST',
        headers: {
          'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
        },
        body: json ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
      }),
    )
  const fields = {
    api_key: 'key1',
    api_secret: 'secret1',
    from: 'Portero',
    to: '34600111222',
    text: 'Hola',
    callback: 'https://portero.test/callbacks/sms/vonage?shard=provider%3A1&token=t',
    'client-ref': 'delivery-1',
  }

  it('accepts a form or JSON as Vonage does, and holds the receipt for its callback URL', async () => {
    const target = vonage()
    for (const json of [false, true]) {
      const response = await send(target, fields, json)
      expect(response.status).toBe(200)
      const body = (await response.json()) as { messages: Record<string, string>[] }
      expect(body).toMatchObject({ 'message-count': '1' })
      expect(body.messages[0]).toMatchObject({ to: '34600111222', status: '0' })
    }
    expect(target.vonage!.requests[0]!.body).not.toHaveProperty('api_secret')
    const [receipt] = await target.vonage!.sendReceipts()
    const url = new URL(receipt!.url)
    expect(received[0]!.method).toBe('GET')
    expect(url.searchParams.get('shard')).toBe('provider:1')
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      msisdn: '34600111222',
      status: 'delivered',
      'err-code': '0',
      'client-ref': 'delivery-1',
    })
  })

  it.each([
    ['wrong credentials', { api_secret: 'nope' }, '4'],
    ['no text', { text: '' }, '2'],
    ['a number with +', { to: '+34600111222' }, '3'],
  ])('answers 200 with a refusing status for %s', async (_, change, status) => {
    const response = await send(vonage(), { ...fields, ...change })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ messages: [{ status }] })
  })

  it('fails on demand: an HTTP status, or a Vonage status in a 200', async () => {
    const target = vonage()
    const control = (failure: object) =>
      target.fetch(
        new Request(`${BASE}/_control/vonage/failures`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(failure),
        }),
      )
    expect((await control({ httpStatus: 503 })).status).toBe(201)
    expect((await control({ status: '1' })).status).toBe(201)
    expect((await send(target, fields)).status).toBe(503)
    expect(await (await send(target, fields)).json()).toMatchObject({ messages: [{ status: '1' }] })
    expect(await (await send(target, fields)).json()).toMatchObject({ messages: [{ status: '0' }] })
    expect(target.vonage!.receipts).toHaveLength(1)
  })
})
