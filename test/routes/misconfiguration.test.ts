// A deployment that is misconfigured refuses to serve (decisions.md D24): away from localhost an
// ISSUER that is not https:// or names localhost, no signing key or a short pepper answer 503
// server_misconfigured on every route, and GET /healthz also reports a half-configured channel.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import worker from '../../src/index.ts'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, expectProblem, freshIp, ORIGIN } from '../helpers/http.ts'

async function fetchWith(
  settings: Partial<Env>,
  url: string,
  init: RequestInit = {},
): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await worker.fetch(new Request(url, init), { ...env, ...settings }, ctx)
  await waitOnExecutionContext(ctx)
  return response
}

async function tokenRequest(settings: Partial<Env>, origin = ORIGIN): Promise<Response> {
  const client = await createClient()
  return fetchWith(settings, `${origin}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(client.clientId, client.clientSecret),
      'cf-connecting-ip': freshIp(),
    },
    body: 'grant_type=client_credentials',
  })
}

const REFUSALS: [string, Partial<Env>, string, RegExp][] = [
  ['an http:// ISSUER', { ISSUER: 'http://portero.test' }, 'ISSUER', /is not https:\/\//],
  ['the local default ISSUER', { ISSUER: 'http://localhost:8787' }, 'ISSUER', /names localhost/],
  ['an https ISSUER on localhost', { ISSUER: 'https://localhost' }, 'ISSUER', /names localhost/],
  ['no SIGNING_KEYS', { SIGNING_KEYS: '' }, 'SIGNING_KEYS', /is not set/],
  ['an empty key set', { SIGNING_KEYS: '{"keys":[]}' }, 'SIGNING_KEYS', /holds no key/],
  ['a short SECRET_PEPPER', { SECRET_PEPPER: 'c2hvcnQ' }, 'SECRET_PEPPER', /shorter than 32/],
]

describe('a public host with a misconfigured deployment', () => {
  it.each(REFUSALS)('refuses %s with 503 on every route', async (_, settings, path, message) => {
    for (const route of ['/healthz', '/.well-known/jwks.json', '/recipients', '/nope']) {
      const problem = await expectProblem(
        await fetchWith(settings, ORIGIN + route),
        503,
        'server_misconfigured',
      )
      expect(problem.title).toBe('Service Unavailable')
      expect(problem.errors).toEqual([{ path, message: expect.stringMatching(message) }])
      expect(problem.detail).toContain(path)
    }
  })

  it.each(REFUSALS)('issues no token with %s', async (_, settings) => {
    const response = await tokenRequest(settings)
    const body = await expectProblem(response, 503, 'server_misconfigured', 'application/json')
    expect(body.error).toBe('server_misconfigured')
    expect(body).not.toHaveProperty('access_token')
  })

  it('names every setting at fault at once, a half-configured channel included', async () => {
    const settings = { ISSUER: 'http://portero.test', SECRET_PEPPER: '', SMS_FROM: '' }
    const problem = await expectProblem(
      await fetchWith(settings, `${ORIGIN}/healthz`),
      503,
      'server_misconfigured',
    )
    expect((problem.errors as { path: string }[]).map((e) => e.path)).toEqual([
      'ISSUER',
      'SECRET_PEPPER',
      'SMS_FROM',
    ])
  })
})

describe('localhost (npm start, wrangler dev)', () => {
  const local = { ISSUER: 'http://localhost:8787' }

  it('serves with the local default ISSUER', async () => {
    const response = await fetchWith(local, 'http://localhost:8787/healthz')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
    const token = await tokenRequest(local, 'http://localhost:8787')
    expect(token.status).toBe(200)
    expect(await token.json()).toHaveProperty('access_token')
  })
})

describe('a half-configured channel', () => {
  it.each([
    ['SMS without its auth token', { SMS_AUTH_TOKEN: '' }, ['SMS_AUTH_TOKEN'], /SMS needs/],
    [
      'SMS with its account only',
      { SMS_AUTH_TOKEN: '', SMS_FROM: '' },
      ['SMS_AUTH_TOKEN', 'SMS_FROM'],
      /SMS needs/,
    ],
    ['FCM without its project', { FCM_PROJECT_ID: '' }, ['FCM_PROJECT_ID'], /FCM needs/],
    [
      'FCM without a credential',
      { FCM_SERVICE_ACCOUNT: '' },
      ['FCM_WORKLOAD_IDENTITY'],
      /FCM_WORKLOAD_IDENTITY or FCM_SERVICE_ACCOUNT/,
    ],
    [
      'FCM with a key and workload identity federation',
      { FCM_WORKLOAD_IDENTITY: '{}' },
      ['FCM_SERVICE_ACCOUNT'],
      /exactly one of them/,
    ],
    [
      'SMS with both a sender and a Messaging Service',
      { SMS_MESSAGING_SERVICE_SID: `MG${'0'.repeat(32)}` },
      ['SMS_MESSAGING_SERVICE_SID'],
      /exactly one of them/,
    ],
    [
      'WhatsApp without the SMS account',
      { SMS_ACCOUNT_SID: '', SMS_AUTH_TOKEN: '', SMS_FROM: '' },
      ['TWILIO_WHATSAPP_FROM'],
      /goes through the SMS channel's account/,
    ],
    [
      'WhatsApp with a sender that is not a number',
      { TWILIO_WHATSAPP_FROM: 'whatsapp:clinic' },
      ['TWILIO_WHATSAPP_FROM'],
      /must be an E\.164 number/,
    ],
    [
      'the second SMS route without its secret',
      { VONAGE_API_KEY: 'key1', VONAGE_FROM: '15005550006' },
      ['VONAGE_API_SECRET'],
      /The secondary SMS route needs VONAGE_API_KEY, VONAGE_API_SECRET and VONAGE_FROM/,
    ],
    [
      'the second SMS route without the first',
      {
        ...{ SMS_ACCOUNT_SID: '', SMS_AUTH_TOKEN: '', SMS_FROM: '', TWILIO_WHATSAPP_FROM: '' },
        ...{ VONAGE_API_KEY: 'key1', VONAGE_API_SECRET: 'secret1', VONAGE_FROM: '15005550006' },
      },
      ['VONAGE_API_KEY'],
      /needs the primary one/,
    ],
    [
      'SMS with an API key and no secret',
      { SMS_API_KEY_SID: `SK${'0'.repeat(32)}` },
      ['SMS_API_KEY_SECRET'],
      /API key needs SMS_API_KEY_SID and SMS_API_KEY_SECRET/,
    ],
  ] as const)(
    'makes /healthz answer 503 naming the missing settings: %s',
    async (_, settings, paths, message) => {
      for (const origin of [ORIGIN, 'http://localhost:8787']) {
        const local = origin.startsWith('http:') ? { ISSUER: 'http://localhost:8787' } : {}
        const response = await fetchWith({ ...settings, ...local }, `${origin}/healthz`)
        const problem = await expectProblem(response, 503, 'server_misconfigured')
        expect(problem.errors).toEqual(
          paths.map((path) => ({ path, message: expect.stringMatching(message) })),
        )
      }
    },
  )

  it('is sound with a second SMS route beside the first', async () => {
    const settings = { VONAGE_API_KEY: 'key1', VONAGE_API_SECRET: 's1', VONAGE_FROM: 'Portero' }
    expect((await fetchWith(settings, `${ORIGIN}/healthz`)).status).toBe(200)
  })

  it('is sound with a Messaging Service instead of a sender, and an API key', async () => {
    const settings = {
      SMS_FROM: '',
      SMS_MESSAGING_SERVICE_SID: `MG${'0'.repeat(32)}`,
      SMS_API_KEY_SID: `SK${'0'.repeat(32)}`,
      SMS_API_KEY_SECRET: 'an-api-key-secret',
      SMS_AUTH_TOKEN_SECONDARY: 'a-secondary-auth-token',
    }
    expect((await fetchWith(settings, `${ORIGIN}/healthz`)).status).toBe(200)
  })

  it('stops no other route', async () => {
    const response = await fetchWith({ SMS_AUTH_TOKEN: '' }, `${ORIGIN}/.well-known/jwks.json`)
    expect(response.status).toBe(200)
    expect((await tokenRequest({ SMS_AUTH_TOKEN: '' })).status).toBe(200)
  })

  it('is logged once per isolate, not once per request', async () => {
    // A sound configuration first, so the half-configured one below is computed afresh.
    expect((await fetchWith({}, `${ORIGIN}/healthz`)).status).toBe(200)
    const errors = vi.spyOn(console, 'error')
    for (let i = 0; i < 3; i++) await fetchWith({ FCM_SERVICE_ACCOUNT: '' }, `${ORIGIN}/healthz`)
    const reports = errors.mock.calls.filter(([line]) =>
      String(line).includes('"message":"channel half configured"'),
    )
    expect(reports).toHaveLength(1)
    expect(JSON.parse(String(reports[0]![0]))).toMatchObject({
      level: 'error',
      channel: 'fcm',
      missing: ['FCM_WORKLOAD_IDENTITY'],
    })
  })
})
