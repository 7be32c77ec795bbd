// Log hygiene (SECURITY.md "Logs"): structured JSON lines with the request id, one access line per
// request, and no secret, token, Authorization value or phone number in any line.
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AppEnv } from '../../src/http/app-env.ts'
import { onError } from '../../src/http/errors.ts'
import { accessLog } from '../../src/http/access-log.ts'
import { log, redact, redactText, REDACTED } from '../../src/log.ts'
import { requestId } from '../../src/http/request-id.ts'
import { createSender, smsTo } from '../helpers/dispatch.ts'
import { basicAuth, call, postForm, postJson } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'

const JWT =
  'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJjbGllbnQteCJ9.MEUCIQDxyz_-abc'

describe('redactText', () => {
  it.each([
    ['a JWT', `token ${JWT} seen`, JWT],
    ['a JWT inside a form body', `token=${JWT}&token_type_hint=access_token`, JWT],
    [
      'a JWE (five segments)',
      'eyJhbGciOiJSU0EtT0FFUCJ9.aaaa.bbbb.cccc.dddd',
      'eyJhbGciOiJSU0EtT0FFUCJ9.aaaa.bbbb.cccc.dddd',
    ],
    [
      'three long base64url segments',
      `${'A'.repeat(20)}.${'b'.repeat(20)}.${'c'.repeat(20)}`,
      'A'.repeat(20),
    ],
    ['a Bearer credential', 'Authorization: Bearer abc123.def-456', 'abc123.def-456'],
    [
      'a Basic credential',
      'authorization=Basic ZGVtby1jbGllbnQ6c2VjcmV0',
      'ZGVtby1jbGllbnQ6c2VjcmV0',
    ],
    ['a client_secret in a form', 'client_id=demo&client_secret=s3cr3t-value&x=1', 's3cr3t-value'],
    [
      'a clientSecret in JSON',
      '{"clientId":"demo","clientSecret":"DA39A3EE5E6B4B0D3255"}',
      'DA39A3EE5E6B4B0D3255',
    ],
    ['an app_secret in escaped JSON', '{\\"app_secret\\":\\"hunter2hunter2\\"}', 'hunter2hunter2'],
    ['a password', "password: 'correct horse'", 'correct'],
    ['an E.164 number', 'sending to +5491155550000 now', '+5491155550000'],
    [
      'a webhook signing secret',
      'secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+/0= rotated',
      'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ],
    ['a percent-encoded E.164 number', 'To=%2B5491155550000&From=x', '5491155550000'],
  ])('masks %s', (_, text, secret) => {
    const masked = redactText(text)
    expect(masked).not.toContain(secret)
    expect(masked).toMatch(/\[redacted\]|\[phone\]/)
  })

  it.each([
    'POST /Services/messages/5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f',
    'https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json',
    'fcm.googleapis.com and oauth2.googleapis.com',
    'portero-test@portero-test.iam.gserviceaccount.com',
    '2026-03-01T12:00:00.000Z took 12 ms from 10.1.2.3',
    'The Basic credentials are not valid base64.',
    'tokens:introspect services:send',
  ])('leaves ordinary text alone: %s', (text) => {
    expect(redactText(text)).toBe(text)
  })
})

describe('redact', () => {
  it('drops secret-named fields whole and masks strings at any depth', () => {
    const error = new Error(`D1 said: ${JWT}`)
    const out = redact({
      clientSecret: 'x',
      client_secret: 'y',
      authorization: 'Bearer z',
      headers: { 'x-access-token': 'abc', cookie: 'a=b' },
      password: 'p',
      list: [{ phone: '+5491155550000' }, `Bearer ${JWT}`],
      error,
      count: 3,
      none: null,
    }) as Record<string, unknown>
    expect(out).toEqual({
      clientSecret: REDACTED,
      client_secret: REDACTED,
      authorization: REDACTED,
      headers: { 'x-access-token': REDACTED, cookie: REDACTED },
      password: REDACTED,
      list: [{ phone: '[phone]' }, `Bearer ${REDACTED}`],
      error: `Error: D1 said: ${REDACTED}`,
      count: 3,
      none: null,
    })
  })

  it('stops at a depth without showing what lies below', () => {
    let deep: Record<string, unknown> = { leaf: '+5491155550000' }
    for (let i = 0; i < 20; i++) deep = { deep }
    expect(JSON.stringify(redact(deep))).not.toContain('5491155550000')
  })
})

type Captured = { level: 'log' | 'warn' | 'error'; line: string }

function captureConsole(): Captured[] {
  const captured: Captured[] = []
  for (const level of ['log', 'warn', 'error'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      captured.push({ level, line: args.map(String).join(' ') })
    })
  }
  return captured
}

type Entry = Record<string, unknown> & { level: string; message: string }

function parse(captured: Captured[]): Entry[] {
  return captured.map(({ line }) => {
    const entry = JSON.parse(line) as Entry // every line is one JSON object
    expect(typeof entry.time).toBe('string')
    return entry
  })
}

describe('log()', () => {
  let captured: Captured[]
  beforeEach(() => {
    captured = captureConsole()
  })
  afterEach(() => vi.restoreAllMocks())

  it('writes one JSON line per call, to the console method of its level, redacted', () => {
    log('info', 'hello', { requestId: 'r1' })
    log('warn', `careful with ${JWT}`, { clientSecret: 'x' })
    log('error', 'failed', { cause: 'Bearer abcdefgh123' })
    expect(captured.map((c) => c.level)).toEqual(['log', 'warn', 'error'])
    const [info, warn, error] = parse(captured)
    expect(info).toMatchObject({ level: 'info', message: 'hello', requestId: 'r1' })
    expect(warn).toMatchObject({
      level: 'warn',
      message: `careful with ${REDACTED}`,
      clientSecret: REDACTED,
    })
    expect(error).toMatchObject({ level: 'error', cause: `Bearer ${REDACTED}` })
  })
})

describe('the access log and error log of a whole flow', () => {
  it(
    'names every request once, and never shows a secret, token, Authorization value or phone',
    { timeout: 30_000 },
    async () => {
      const captured = captureConsole()
      const standIn = useStandIn()
      const phone = '+5491155557321'
      const directPhone = '+5491155559876'
      const sender = await createSender({ phone, directNumbers: true })
      const { clientId, clientSecret } = sender
      const basic = basicAuth(clientId, clientSecret)
      const responses: Response[] = []
      const send = async (response: Promise<Response>) => {
        const r = await response
        responses.push(r)
        return r
      }

      const login = await send(postJson('/auth/login', { clientId, clientSecret }))
      const { token } = (await login.json()) as { token: string }
      const yativo = await send(
        postJson('/auth/login', { account_id: clientId, app_secret: clientSecret }),
      )
      const yativoToken = ((await yativo.json()) as { data: { access_token: string } }).data
        .access_token
      const oauth = await send(
        postForm('/oauth/token', {
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: clientSecret,
        }),
      )
      const oauthToken = ((await oauth.json()) as { access_token: string }).access_token
      expect(
        (await send(call('/auth/me', { method: 'POST', headers: { 'x-access-token': token } })))
          .status,
      ).toBe(200)
      expect(
        (
          await send(
            call('/auth/me', { method: 'POST', headers: { authorization: `Bearer ${token}` } }),
          )
        ).status,
      ).toBe(200)
      const introspected = await send(
        postForm('/mcg/v1/tokeninfo', { token: yativoToken }, { authorization: `Bearer ${token}` }),
      )
      expect(await introspected.json()).toMatchObject({ active: true })
      expect(
        (await send(postForm('/oauth/introspect', { token }, { authorization: basic }))).status,
      ).toBe(200)

      // A recipient whose user id is a phone number, so the number is in the path.
      const created = await send(
        postJson(
          '/recipients',
          { user_id: directPhone, phone: directPhone },
          { authorization: `Bearer ${token}` },
        ),
      )
      expect(created.status).toBe(201)
      expect(
        (
          await send(
            call(`/recipients/${directPhone}`, { headers: { authorization: `Bearer ${token}` } }),
          )
        ).status,
      ).toBe(200)
      const dispatch = await send(
        postJson(
          '/Services',
          {
            provider_id: sender.providerId,
            service_token: sender.serviceToken,
            service_id: sender.serviceId,
            parameters: {
              destination: phone,
              notification: { title: 'Turno', message: `Llame al ${phone}`, channel: 'SMS' },
            },
          },
          { authorization: `Bearer ${oauthToken}`, 'idempotency-key': `k-${crypto.randomUUID()}` },
        ),
      )
      expect(dispatch.status).toBe(201)
      const { id } = (await dispatch.json()) as { id: string }
      const read = async () =>
        (await (
          await call(`/Services/messages/${id}`, {
            headers: { authorization: `Bearer ${oauthToken}` },
          })
        ).json()) as { status: string }
      expect((await eventually(read, (m) => m.status === 'sent')).status).toBe('sent')
      expect(smsTo(standIn, phone)).toEqual([`Turno\nLlame al ${phone}`])

      // Errors, each carrying a secret somewhere a careless log would copy it from.
      expect(
        (await send(postJson('/auth/login', { clientId, clientSecret: `${clientSecret}x` })))
          .status,
      ).toBe(401)
      expect(
        (
          await send(
            postForm(
              '/oauth/token',
              { grant_type: 'client_credentials' },
              { authorization: basicAuth(clientId, 'wrong-secret-value-0123456789') },
            ),
          )
        ).status,
      ).toBe(401)
      expect(
        (
          await send(
            call('/auth/me', { method: 'POST', headers: { 'x-access-token': `${token}x` } }),
          )
        ).status,
      ).toBe(401)
      expect(
        (
          await send(
            call(`/recipients?client_secret=${clientSecret}&access_token=${token}`, {
              headers: { authorization: `Bearer ${token}` },
            }),
          )
        ).status,
      ).toBe(200)
      expect(
        (
          await send(
            postJson(
              '/Services',
              { parameters: { destination: phone } },
              { authorization: `Bearer ${token}` },
            ),
          )
        ).status,
      ).toBe(400)
      expect(
        (
          await send(
            postJson('/auth/login', `{"clientId":"${clientId}","clientSecret":"${clientSecret}"`),
          )
        ).status,
      ).toBe(400)
      expect(
        (await send(postForm('/oauth/revoke', { token: oauthToken }, { authorization: basic })))
          .status,
      ).toBe(200)
      expect(
        (await send(call('/nowhere', { headers: { authorization: `Bearer ${token}` } }))).status,
      ).toBe(404)

      const entries = parse(captured)
      const text = captured.map((c) => c.line).join('\n')
      const secrets = [
        clientSecret,
        token,
        yativoToken,
        oauthToken,
        basic,
        basic.slice(6),
        sender.token,
        sender.serviceToken,
      ]
      for (const secret of secrets) expect(text).not.toContain(secret)
      // not even a signature
      for (const t of [token, yativoToken, oauthToken]) expect(text).not.toContain(t.split('.')[2])
      for (const number of [phone, directPhone]) {
        expect(text).not.toContain(number)
        expect(text).not.toContain(number.slice(1)) // nor its digits
      }
      expect(text).not.toMatch(/authorization|x-access-token|client_secret=|access_token=/i)

      // One access line per request, with its id, and the client once it authenticated.
      const access = entries.filter((e) => e.message === 'request')
      for (const response of responses) {
        const id = response.headers.get('x-request-id')
        const lines = access.filter((e) => e.requestId === id)
        expect(lines, `${response.status} ${id}`).toHaveLength(1)
        const line = lines[0]!
        expect(line.status).toBe(response.status)
        expect(typeof line.durationMs).toBe('number')
        const optional = ['clientId', 'providerId', 'code', 'colo']
        expect(Object.keys(line).sort()).toEqual(
          [
            'clientId',
            'code',
            'colo',
            'durationMs',
            'level',
            'message',
            'method',
            'path',
            'providerId',
            'requestId',
            'route',
            'status',
            'time',
          ].filter((key) => !optional.includes(key) || key in line),
        )
        expect('code' in line).toBe(response.status >= 400)
      }
      const services = access.find((e) => e.path === '/Services' && e.status === 201)!
      expect(services).toMatchObject({ method: 'POST', clientId, level: 'info' })
      expect(
        access.find(
          (e) => String(e.path).startsWith('/recipients') && e.status === 200 && e.method === 'GET',
        )!.path,
      ).not.toContain('?')
      expect(access.some((e) => e.path === '/recipients/[phone]')).toBe(true)
      const recipient = access.find((e) => e.path === '/recipients/[phone]')!
      expect(recipient.route).toMatch(/^\/recipients\/:[a-z_]+$/i)
      expect(services).toMatchObject({ route: '/Services', providerId: sender.providerId })
    },
  )
})

describe('the access line', () => {
  let captured: Captured[]
  beforeEach(() => {
    captured = captureConsole()
  })
  afterEach(() => vi.restoreAllMocks())

  const lineOf = (response: Response) => {
    const id = response.headers.get('x-request-id')
    const lines = parse(captured).filter((e) => e.message === 'request' && e.requestId === id)
    expect(lines).toHaveLength(1)
    return lines[0]!
  }
  const fromColo = (colo: string): RequestInit => ({ cf: { colo } }) as RequestInit

  it('names the route pattern and the location of a success, without a code', async () => {
    const response = await call('/healthz', fromColo('GRU'))
    expect(response.status).toBe(200)
    const line = lineOf(response)
    expect(line).toMatchObject({ route: '/healthz', status: 200, colo: 'GRU', level: 'info' })
    expect(line).not.toHaveProperty('code')
  })

  it('names the problem code of an error, and the pattern rather than the id it was for', async () => {
    const id = crypto.randomUUID()
    const response = await call(`/Services/messages/${id}`, fromColo('EZE'))
    expect(response.status).toBe(401)
    const { code } = (await response.json()) as { code: string }
    const line = lineOf(response)
    expect(line).toMatchObject({ route: '/Services/messages/:id', status: 401, code, colo: 'EZE' })
    expect(JSON.stringify(line.route)).not.toContain(id)
    expect(line.path).toBe(`/Services/messages/${id}`)
  })

  it('has no route for a path no route serves, and never the path in its place', async () => {
    const path = `/nowhere/${crypto.randomUUID()}`
    const response = await call(path)
    expect(response.status).toBe(404)
    const line = lineOf(response)
    expect(line).toMatchObject({ route: null, status: 404, code: 'not_found' })
    expect(line).not.toHaveProperty('colo')
  })
})

describe('the log of a failed request', () => {
  // The onError handler logs the cause of a 500; the cause is where a library would echo input.
  const failing = new Hono<AppEnv>()
  failing.use(requestId(), accessLog())
  failing.get('/boom', () => {
    throw new Error(
      `upstream said: Authorization: Bearer ${JWT} client_secret=s3cr3t for +5491155550000`,
    )
  })
  failing.get('/odd', () => {
    throw 'not an Error'
  })
  failing.onError(onError)

  it('logs the cause redacted, with the request id, and an error-level access line', async () => {
    const captured = captureConsole()
    const response = await failing.request('https://portero.test/boom?token=abc')
    expect(response.status).toBe(500)
    expect(await response.text()).not.toContain('upstream')
    const entries = parse(captured)
    const text = captured.map((c) => c.line).join('\n')
    for (const secret of [JWT, 's3cr3t', '5491155550000', 'token=abc'])
      expect(text).not.toContain(secret)
    const failure = entries.find((e) => e.message === 'request failed')!
    expect(failure.error).toMatch(/upstream said/)
    const access = entries.find((e) => e.message === 'request')!
    expect(access).toMatchObject({
      level: 'error',
      status: 500,
      code: 'internal_error',
      route: '/boom',
      path: '/boom',
      requestId: failure.requestId,
    })
    expect(response.headers.get('x-request-id')).toBe(failure.requestId)
  })

  it('writes the access line even when something that is not an Error escapes every handler', async () => {
    const captured = captureConsole()
    await expect(failing.request('https://portero.test/odd')).rejects.toBe('not an Error')
    expect(parse(captured).filter((e) => e.message === 'request')).toEqual([
      expect.objectContaining({ level: 'error', status: 500, path: '/odd' }),
    ])
  })
})
