import { describe, expect, it, vi } from 'vitest'
import type { OutboundMessage, SendResult } from '../../src/channels/notifier.ts'
import { parseRetryAfter } from '../../src/channels/http.ts'
import {
  createSmsNotifier,
  FIND_CLOCK_SKEW_MS,
  FIND_MAX_PAGES,
  FIND_PAGE_SIZE,
} from '../../src/channels/sms.ts'

const BASE_URL = 'https://sms.portero.test'
const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef'
const AUTH_TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f'
const FROM = '+15005550006'
const STATUS_CALLBACK = 'https://portero.test/callbacks/sms/status'
const MESSAGES_URL = `${BASE_URL}/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`
const NOW = new Date('2026-03-01T12:00:00Z')

const MESSAGE: OutboundMessage = {
  id: '7d0c5e0a-3b7c-4f4e-9a53-2f7b1c9e8d61',
  channel: 'sms',
  to: '+34600111222',
  title: 'Cita confirmada',
  body: 'Su cita es el lunes a las 10:00.',
}

type SeenRequest = { url: string; method: string; headers: Headers; form: URLSearchParams }

function twilioError(status: number, code: number, message: string, headers: HeadersInit = {}) {
  const body = { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }
  return Response.json(body, { status, headers })
}

function created(sid = 'SM0123456789abcdef0123456789abcdef'): Response {
  return Response.json({ sid, status: 'queued', to: MESSAGE.to, from: FROM }, { status: 201 })
}

/**
 * Twilio's Messages endpoint as far as Portero relies on it: refuses the wrong URL, method, auth,
 * content type or a missing field the way Twilio does, then answers with `respond`.
 */
function fakeTwilio(
  respond: (request: SeenRequest) => Response | Promise<Response> = () => created(),
) {
  const requests: SeenRequest[] = []
  async function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init)
    const seen: SeenRequest = {
      url: request.url,
      method: request.method,
      headers: request.headers,
      // Decoded by hand: workerd warns about .text() on a form body.
      form: new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer())),
    }
    requests.push(seen)
    if (request.url !== MESSAGES_URL || request.method !== 'POST') {
      return twilioError(404, 20404, 'The requested resource was not found')
    }
    if (request.headers.get('authorization') !== `Basic ${btoa(`${ACCOUNT_SID}:${AUTH_TOKEN}`)}`) {
      return twilioError(401, 20003, 'Authenticate')
    }
    if (!request.headers.get('content-type')?.startsWith('application/x-www-form-urlencoded')) {
      return twilioError(400, 20001, 'Content-Type must be application/x-www-form-urlencoded')
    }
    for (const name of ['To', 'From', 'Body']) {
      if (!seen.form.get(name)) return twilioError(400, 21604, `A '${name}' parameter is required.`)
    }
    return respond(seen)
  }
  return { fetch, requests }
}

function notifier(
  fetch: typeof globalThis.fetch,
  overrides: {
    accountSid?: string
    authToken?: string
    timeoutMs?: number
    channel?: 'sms' | 'whatsapp'
  } = {},
) {
  return createSmsNotifier({
    baseUrl: BASE_URL,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    from: FROM,
    statusCallbackUrl: STATUS_CALLBACK,
    fetch,
    now: () => NOW,
    ...overrides,
  })
}

describe('createSmsNotifier', () => {
  it('sends a picture as an MMS MediaUrl, the link staying in the text', async () => {
    const twilio = fakeTwilio()
    const pictureUrl = 'https://portero.test/pictures/ab12.png'
    const link = 'https://clinica.example/turnos'
    await notifier(twilio.fetch).send({ ...MESSAGE, link, pictureUrl })
    expect([...twilio.requests[0]!.form]).toEqual([
      ['To', '+34600111222'],
      ['From', FROM],
      ['Body', `Cita confirmada\nSu cita es el lunes a las 10:00.\n${link}`],
      ['StatusCallback', STATUS_CALLBACK],
      ['MediaUrl', pictureUrl],
    ])
  })

  it('sends WhatsApp with whatsapp: addresses, and a template instead of the text', async () => {
    const twilio = fakeTwilio()
    const whatsapp = notifier(twilio.fetch, { channel: 'whatsapp' })
    expect(whatsapp.channel).toBe('whatsapp')
    const template = { contentSid: `HX${'0a'.repeat(16)}`, variables: { '1': 'lunes' } }
    await whatsapp.send({ ...MESSAGE, channel: 'whatsapp', template })
    expect([...twilio.requests[0]!.form]).toEqual([
      ['To', 'whatsapp:+34600111222'],
      ['From', `whatsapp:${FROM}`],
      ['ContentSid', template.contentSid],
      ['ContentVariables', '{"1":"lunes"}'],
      ['StatusCallback', STATUS_CALLBACK],
    ])
  })

  it('sends through the Messages API and returns the message sid', async () => {
    const twilio = fakeTwilio()
    const sms = notifier(twilio.fetch)

    expect(sms.channel).toBe('sms')
    expect(await sms.send(MESSAGE)).toEqual({
      ok: true,
      providerMessageId: 'SM0123456789abcdef0123456789abcdef',
    })
    expect(twilio.requests).toHaveLength(1)
  })

  it('posts exactly To, From, Body and StatusCallback as a form, with Basic auth', async () => {
    const twilio = fakeTwilio()
    await notifier(twilio.fetch).send(MESSAGE)

    const [request] = twilio.requests
    expect(request!.url).toBe(MESSAGES_URL)
    expect(request!.method).toBe('POST')
    expect(request!.headers.get('authorization')).toBe(
      `Basic ${btoa(`${ACCOUNT_SID}:${AUTH_TOKEN}`)}`,
    )
    expect(request!.headers.get('content-type')).toBe('application/x-www-form-urlencoded')
    expect([...request!.form]).toEqual([
      ['To', '+34600111222'],
      ['From', FROM],
      ['Body', 'Cita confirmada\nSu cita es el lunes a las 10:00.'],
      ['StatusCallback', STATUS_CALLBACK],
    ])
  })

  it('appends the link to the text (document 001)', async () => {
    const twilio = fakeTwilio()
    await notifier(twilio.fetch).send({ ...MESSAGE, link: 'https://clinica.example/citas/42' })

    expect(twilio.requests[0]!.form.get('Body')).toBe(
      'Cita confirmada\nSu cita es el lunes a las 10:00.\nhttps://clinica.example/citas/42',
    )
  })

  it('accepts a base URL with a trailing slash', async () => {
    const twilio = fakeTwilio()
    const sms = createSmsNotifier({
      baseUrl: `${BASE_URL}/`,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      statusCallbackUrl: STATUS_CALLBACK,
      fetch: twilio.fetch,
    })
    expect(await sms.send(MESSAGE)).toMatchObject({ ok: true })
  })

  it('fails without retry when a 2xx carries no sid', async () => {
    const twilio = fakeTwilio(() => new Response('<html>ok</html>', { status: 200 }))
    expect(await notifier(twilio.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      reason: 'SMS provider answered 200 without a message sid',
    })
  })
})

describe('createSmsNotifier transient failures', () => {
  it('retries a 429 after the Retry-After seconds', async () => {
    const twilio = fakeTwilio(() =>
      twilioError(429, 20429, 'Too Many Requests', { 'retry-after': '17' }),
    )
    expect(await notifier(twilio.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      retryAfterSeconds: 17,
      reason: 'SMS provider is unavailable (HTTP 429, Twilio error 20429: Too Many Requests)',
    })
  })

  it('reads a Retry-After HTTP date against the injected clock', async () => {
    const later = new Date(NOW.getTime() + 120_000).toUTCString()
    const twilio = fakeTwilio(() =>
      twilioError(429, 20429, 'Too Many Requests', { 'retry-after': later }),
    )
    expect(await notifier(twilio.fetch).send(MESSAGE)).toMatchObject({
      ok: false,
      retryable: true,
      retryAfterSeconds: 120,
    })
  })

  it.each([500, 502, 503])('retries a %i without Retry-After', async (status) => {
    const twilio = fakeTwilio(() => new Response('upstream trouble', { status }))
    const result = await notifier(twilio.fetch).send(MESSAGE)
    expect(result).toEqual({
      ok: false,
      retryable: true,
      reason: `SMS provider is unavailable (HTTP ${status})`,
    })
  })

  it('retries a 503 that names a Retry-After', async () => {
    const twilio = fakeTwilio(() =>
      twilioError(503, 20503, 'Service Unavailable', { 'retry-after': '5' }),
    )
    expect(await notifier(twilio.fetch).send(MESSAGE)).toMatchObject({
      retryable: true,
      retryAfterSeconds: 5,
    })
  })

  it('retries when the network fails', async () => {
    const fetch = () => Promise.reject(new TypeError('Network connection lost.'))
    expect(await notifier(fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      reason: 'SMS provider could not be reached (network error: Network connection lost.)',
    })
  })

  it('retries when the provider does not answer in time', async () => {
    const fetch = () => new Promise<Response>(() => {})
    expect(await notifier(fetch, { timeoutMs: 20 }).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      reason: 'SMS provider did not answer within 20 ms',
    })
  })

  it('passes an abort signal, so a real fetch is cancelled at the deadline', async () => {
    let signal: AbortSignal | null | undefined
    const fetch = (_input: RequestInfo | URL, init?: RequestInit) => {
      signal = init?.signal
      return new Promise<Response>(() => {})
    }
    await notifier(fetch, { timeoutMs: 20 }).send(MESSAGE)
    expect(signal?.aborted).toBe(true)
  })
})

describe('createSmsNotifier permanent failures', () => {
  it.each([
    [21211, "The 'To' number +34600111222 is not a valid phone number.", 'invalid_destination'],
    [21614, "'To' number is not a valid mobile number", 'invalid_destination'],
    [21612, "The 'To' phone number is not currently reachable via SMS", 'invalid_destination'],
    [21610, 'Attempt to send to unsubscribed recipient', 'opted_out'],
  ] as const)('maps Twilio error %i to %s', async (code, message, permanent) => {
    const twilio = fakeTwilio(() => twilioError(400, code, message))
    expect(await notifier(twilio.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      permanent,
      errorCode: String(code),
      reason: `SMS provider refused the message (HTTP 400, Twilio error ${code}: ${message})`,
    })
  })

  it.each([
    [21212, "The 'From' number is not a valid phone number."],
    [21408, 'Permission to send an SMS has not been enabled for the region'],
    [21606, "The 'From' phone number provided is not a valid message-capable Twilio number"],
    [21659, "'From' is not a Twilio phone number or Short Code country mismatch"],
    [21660, "Mismatch between the 'From' number and the account"],
  ] as const)(
    'reports Twilio error %i as the operator’s setup, not the recipient',
    async (code, text) => {
      const twilio = fakeTwilio(() => twilioError(400, code, text))
      expect(await notifier(twilio.fetch).send(MESSAGE)).toEqual({
        ok: false,
        retryable: false,
        reason:
          "SMS provider refused Portero's sender or region settings " +
          `(HTTP 400, Twilio error ${code}: ${text})`,
        operatorFault: true,
      })
    },
  )

  it('refuses other 4xx without retry or a permanent mark, keeping the error code', async () => {
    const twilio = fakeTwilio(() => twilioError(400, 21602, 'Message body is required.'))
    expect(await notifier(twilio.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      errorCode: '21602',
      reason:
        'SMS provider refused the message ' +
        '(HTTP 400, Twilio error 21602: Message body is required.)',
    })
  })

  it.each([401, 403])(
    'reports a %i as Portero credentials the provider rejected',
    async (status) => {
      const twilio = fakeTwilio(() => twilioError(status, 20003, 'Authenticate'))
      expect(await notifier(twilio.fetch).send(MESSAGE)).toEqual({
        ok: false,
        retryable: false,
        reason:
          "SMS provider rejected Portero's credentials " +
          `(HTTP ${status}, Twilio error 20003: Authenticate)`,
        operatorFault: true,
      })
    },
  )

  it('answers 401 when configured with a wrong auth token', async () => {
    const twilio = fakeTwilio()
    const result = await notifier(twilio.fetch, { authToken: 'wrong-token' }).send(MESSAGE)
    expect(result).toMatchObject({ ok: false, retryable: false })
    expect(result.ok || result.reason).toMatch(/^SMS provider rejected Portero's credentials/)
  })

  it('reports a 404 for the account’s Messages resource as the operator’s fault', async () => {
    const twilio = fakeTwilio()
    const result = await notifier(twilio.fetch, { accountSid: 'AC-another-account' }).send(MESSAGE)
    expect(result).toEqual({
      ok: false,
      retryable: false,
      reason:
        "SMS provider does not know Portero's account " +
        '(HTTP 404, Twilio error 20404: The requested resource was not found)',
      operatorFault: true,
    })
  })
})

describe('createSmsNotifier reasons', () => {
  const echoes: [string, typeof globalThis.fetch][] = [
    [
      'a provider message echoing it',
      fakeTwilio(() => twilioError(400, 21211, `bad ${AUTH_TOKEN}`)).fetch,
    ],
    [
      'a 5xx body echoing it',
      fakeTwilio(() => twilioError(500, 20500, `oops ${AUTH_TOKEN}`)).fetch,
    ],
    ['a network error echoing it', () => Promise.reject(new Error(`reset (token=${AUTH_TOKEN})`))],
    ['a 401', fakeTwilio(() => twilioError(401, 20003, 'Authenticate')).fetch],
  ]

  it.each(echoes)('never contain the auth token, even with %s', async (_name, fetch) => {
    const result: SendResult = await notifier(fetch).send(MESSAGE)
    expect(result.ok).toBe(false)
    expect(JSON.stringify(result)).not.toContain(AUTH_TOKEN)
    expect(JSON.stringify(result)).not.toContain(btoa(`${ACCOUNT_SID}:${AUTH_TOKEN}`))
  })
})

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    [' 30 ', 30],
    [new Date(NOW.getTime() + 90_500).toUTCString(), 90],
    [new Date(NOW.getTime() - 60_000).toUTCString(), 0],
    ['1.5', undefined],
    ['-3', undefined],
    ['soon', undefined],
    ['', undefined],
  ])('reads %j as %j seconds', (header, seconds) => {
    expect(parseRetryAfter(header, NOW)).toBe(seconds)
  })

  it('is undefined without the header', () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined()
  })
})

describe('createSmsNotifier findAccepted', () => {
  const TEXT = 'Cita confirmada\nSu cita es el lunes a las 10:00.'
  const NOT_BEFORE = new Date('2026-03-01T11:59:50Z')

  /** A message as Twilio lists it; `sent` false leaves date_sent null (still in Twilio's queue). */
  function listed(
    sid: string,
    overrides: Partial<Record<'to' | 'body' | 'status' | 'created', string>> & {
      sent?: string | false
    } = {},
  ) {
    const created = new Date(overrides.created ?? '2026-03-01T11:59:55Z').toUTCString()
    const sent = overrides.sent === false ? null : new Date(overrides.sent ?? created).toUTCString()
    return {
      sid,
      account_sid: ACCOUNT_SID,
      to: overrides.to ?? MESSAGE.to,
      from: FROM,
      body: overrides.body ?? TEXT,
      status: overrides.status ?? 'delivered',
      direction: 'outbound-api',
      messaging_service_sid: null,
      date_created: created.replace('GMT', '+0000'),
      date_sent: sent?.replace('GMT', '+0000') ?? null,
    }
  }

  type Listed = ReturnType<typeof listed>
  type SeenList = { url: URL; method: string; authorization: string | null }

  /**
   * Twilio's List Message resource: checks the path, method and auth as Twilio does, filters by
   * To and From, and pages `messages` (newest first) `pageSize` at a time through next_page_uri.
   */
  function fakeList(messages: Listed[], { pageSize = 50 }: { pageSize?: number } = {}) {
    const requests: SeenList[] = []
    async function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      const request = new Request(input, init)
      const url = new URL(request.url)
      requests.push({
        url,
        method: request.method,
        authorization: request.headers.get('authorization'),
      })
      if (`${url.origin}${url.pathname}` !== MESSAGES_URL || request.method !== 'GET') {
        return twilioError(404, 20404, 'The requested resource was not found')
      }
      if (
        request.headers.get('authorization') !== `Basic ${btoa(`${ACCOUNT_SID}:${AUTH_TOKEN}`)}`
      ) {
        return twilioError(401, 20003, 'Authenticate')
      }
      const matching = messages.filter(
        (m) => m.to === url.searchParams.get('To') && m.from === url.searchParams.get('From'),
      )
      const start = Number(url.searchParams.get('Page') ?? '0') * pageSize
      const page = matching.slice(start, start + pageSize)
      const nextQuery = new URLSearchParams(url.searchParams)
      nextQuery.set('Page', String(start / pageSize + 1))
      nextQuery.set('PageToken', `PA${page.at(-1)?.sid ?? ''}`)
      const more = start + pageSize < matching.length
      return Response.json({
        messages: page,
        page: start / pageSize,
        page_size: pageSize,
        next_page_uri: more ? `${url.pathname}?${nextQuery}` : null,
      })
    }
    return { fetch, requests }
  }

  it('lists the sender’s messages to the number since the attempt’s day, Basic auth', async () => {
    const twilio = fakeList([])
    await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)

    const [request] = twilio.requests
    expect(request!.method).toBe('GET')
    expect(request!.authorization).toBe(`Basic ${btoa(`${ACCOUNT_SID}:${AUTH_TOKEN}`)}`)
    expect(`${request!.url.origin}${request!.url.pathname}`).toBe(MESSAGES_URL)
    expect([...request!.url.searchParams]).toEqual([
      ['To', MESSAGE.to],
      ['From', FROM],
      ['DateSent>', '2026-03-01'],
      ['PageSize', '50'],
    ])
    expect(request!.url.search).toContain('DateSent%3E=2026-03-01')
  })

  it('asks from the day before for an attempt just after midnight UTC', async () => {
    const twilio = fakeList([])
    await notifier(twilio.fetch).findAccepted(MESSAGE, new Date('2026-03-02T00:00:10Z'))
    expect(twilio.requests[0]!.url.searchParams.get('DateSent>')).toBe('2026-03-01')
  })

  it('finds the message with the same number and text, created since the attempt', async () => {
    const twilio = fakeList([
      listed('SMother', { body: 'Otra cita' }),
      listed('SMmatch', { status: 'sent' }),
    ])
    expect(await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: true,
      providerMessageId: 'SMmatch',
      status: 'sent',
    })
  })

  it('matches the text exactly as send writes it, link included', async () => {
    const link = 'https://clinica.example/citas/42'
    const twilio = fakeList([listed('SMwithout'), listed('SMwith', { body: `${TEXT}\n${link}` })])
    const result = await notifier(twilio.fetch).findAccepted({ ...MESSAGE, link }, NOT_BEFORE)
    expect(result).toMatchObject({ found: true, providerMessageId: 'SMwith' })
  })

  it('asks for and matches the number in canonical E.164', async () => {
    const twilio = fakeList([listed('SMmatch')])
    const typed = { ...MESSAGE, to: '+34 600-111 222' }
    expect(await notifier(twilio.fetch).findAccepted(typed, NOT_BEFORE)).toMatchObject({
      found: true,
      providerMessageId: 'SMmatch',
    })
    expect(twilio.requests[0]!.url.searchParams.get('To')).toBe('+34600111222')
  })

  it('answers found false when only other texts or earlier messages are listed', async () => {
    const twilio = fakeList([
      listed('SMother', { body: `${TEXT} ` }),
      listed('SMearlier', { created: '2026-03-01T11:59:00Z' }),
    ])
    expect(await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: false,
    })
  })

  it('takes a message created within the clock skew before the attempt', async () => {
    const created = new Date(NOT_BEFORE.getTime() - FIND_CLOCK_SKEW_MS).toISOString()
    const twilio = fakeList([listed('SMskewed', { created })])
    expect(await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)).toMatchObject({
      found: true,
      providerMessageId: 'SMskewed',
    })
  })

  it('takes the oldest match, and none whose sid the caller ignores', async () => {
    const twilio = fakeList([
      listed('SMnewer', { created: '2026-03-01T11:59:58Z' }),
      listed('SMolder', { created: '2026-03-01T11:59:52Z' }),
    ])
    const sms = notifier(twilio.fetch)
    expect(await sms.findAccepted(MESSAGE, NOT_BEFORE)).toMatchObject({
      providerMessageId: 'SMolder',
    })
    expect(
      await sms.findAccepted(MESSAGE, NOT_BEFORE, { ignore: new Set(['SMolder']) }),
    ).toMatchObject({ providerMessageId: 'SMnewer' })
    expect(
      await sms.findAccepted(MESSAGE, NOT_BEFORE, { ignore: new Set(['SMolder', 'SMnewer']) }),
    ).toEqual({ found: false })
  })

  it('finds a message still queued at the SMS API, without a date sent', async () => {
    const twilio = fakeList([listed('SMqueued', { status: 'queued', sent: false })])
    expect(await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: true,
      providerMessageId: 'SMqueued',
      status: 'queued',
    })
  })

  it('follows next_page_uri on the same host and account', async () => {
    const others = Array.from({ length: 4 }, (_, i) => listed(`SMother${i}`, { body: 'Otra' }))
    const twilio = fakeList([...others, listed('SMmatch')], { pageSize: 2 })
    expect(await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)).toMatchObject({
      found: true,
      providerMessageId: 'SMmatch',
    })
    expect(twilio.requests.map((r) => r.url.searchParams.get('Page'))).toEqual([null, '1', '2'])
    expect(new Set(twilio.requests.map((r) => r.authorization)).size).toBe(1)
  })

  it(`reads at most ${FIND_MAX_PAGES} pages, then answers unknown without retry`, async () => {
    const others = Array.from({ length: FIND_MAX_PAGES * FIND_PAGE_SIZE + 1 }, (_, i) =>
      listed(`SMother${i}`, { body: 'Otra' }),
    )
    const twilio = fakeList([...others, listed('SMmatch')])
    expect(await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: 'unknown',
      retryable: false,
      reason: 'SMS provider lists more than 150 messages to that number since the attempt',
    })
    expect(twilio.requests).toHaveLength(FIND_MAX_PAGES)
  })

  it('stops paging at the first message sent before the attempt', async () => {
    const twilio = fakeList(
      [
        listed('SMother', { body: 'Otra' }),
        listed('SMmorning', { created: '2026-03-01T08:00:00Z' }),
        listed('SMolder', { created: '2026-03-01T07:00:00Z' }),
      ],
      { pageSize: 1 },
    )
    expect(await notifier(twilio.fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: false,
    })
    expect(twilio.requests).toHaveLength(2)
  })

  it('never sends the credentials to a next page elsewhere', async () => {
    const fetch = vi.fn(async () =>
      Response.json({
        messages: [listed('SMother', { body: 'Otra' })],
        next_page_uri: '//evil.example/2010-04-01/Accounts/x/Messages.json?Page=1',
      }),
    )
    expect(await notifier(fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: 'unknown',
      retryable: false,
      reason: 'SMS provider answered with a next page outside the message list',
    })
    expect(fetch).toHaveBeenCalledTimes(1)
  })

  it('answers unknown and retryable for a 429 with Retry-After', async () => {
    const fetch = async () => twilioError(429, 20429, 'Too Many Requests', { 'retry-after': '9' })
    expect(await notifier(fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: 'unknown',
      retryable: true,
      retryAfterSeconds: 9,
      reason: 'SMS provider is unavailable (HTTP 429, Twilio error 20429: Too Many Requests)',
    })
  })

  it.each([500, 503])('answers unknown and retryable for a %i', async (status) => {
    const fetch = async () => new Response('upstream trouble', { status })
    expect(await notifier(fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: 'unknown',
      retryable: true,
      reason: `SMS provider is unavailable (HTTP ${status})`,
    })
  })

  it('answers unknown and retryable when the network fails or times out', async () => {
    const lost = () => Promise.reject(new TypeError('Network connection lost.'))
    expect(await notifier(lost).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: 'unknown',
      retryable: true,
      reason: 'SMS provider could not be reached (network error: Network connection lost.)',
    })
    const silent = () => new Promise<Response>(() => {})
    expect(await notifier(silent, { timeoutMs: 20 }).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: 'unknown',
      retryable: true,
      reason: 'SMS provider did not answer within 20 ms',
    })
  })

  it('answers unknown as the operator’s fault for refused credentials or account', async () => {
    const wrongToken = fakeList([listed('SMmatch')])
    expect(
      await notifier(wrongToken.fetch, { authToken: 'wrong-token' }).findAccepted(
        MESSAGE,
        NOT_BEFORE,
      ),
    ).toEqual({
      found: 'unknown',
      retryable: false,
      reason:
        "SMS provider refused to list Portero's messages " +
        '(HTTP 401, Twilio error 20003: Authenticate)',
      operatorFault: true,
    })
    const otherAccount = fakeList([listed('SMmatch')])
    const result = await notifier(otherAccount.fetch, { accountSid: 'AC-another' }).findAccepted(
      MESSAGE,
      NOT_BEFORE,
    )
    expect(result).toMatchObject({ found: 'unknown', retryable: false, operatorFault: true })
  })

  it('answers unknown without retry for a 200 that is not a message list', async () => {
    const fetch = async () => new Response('<html>ok</html>', { status: 200 })
    expect(await notifier(fetch).findAccepted(MESSAGE, NOT_BEFORE)).toEqual({
      found: 'unknown',
      retryable: false,
      reason: 'SMS provider answered 200 without a message list',
    })
  })

  it('never puts the auth token in a reason', async () => {
    const fetch = async () => twilioError(500, 20500, `oops ${AUTH_TOKEN}`)
    const result = await notifier(fetch).findAccepted(MESSAGE, NOT_BEFORE)
    expect(result).toMatchObject({ found: 'unknown' })
    expect(JSON.stringify(result)).not.toContain(AUTH_TOKEN)
  })
})
