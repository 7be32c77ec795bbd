// CORS: none by default; with CORS_ALLOWED_ORIGINS, exactly those origins, never `*`, never
// credentials, and preflights answered before routing.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { app } from '../../src/app.ts'
import {
  ALLOWED_HEADERS,
  parseAllowedOrigins,
  PREFLIGHT_MAX_AGE_SECONDS,
} from '../../src/http/cors.ts'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, call, expectProblem } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'

const APP = 'https://console.example.com'
const OTHER = 'https://app.example.net'
const EVIL = 'https://evil.example'

const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'access-control-max-age',
]

/** The app under a deployment whose CORS_ALLOWED_ORIGINS is `origins`. */
async function requestWith(
  origins: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const ctx = createExecutionContext()
  const response = await app.request(
    `https://portero.test${path}`,
    init,
    { ...env, CORS_ALLOWED_ORIGINS: origins },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response
}

const configured = (path: string, init: RequestInit = {}) =>
  requestWith(`${APP}, ${OTHER}`, path, init)

function preflight(origin: string, method = 'POST', headers = 'authorization, content-type') {
  return {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
    },
  }
}

function expectNoCors(response: Response, label = '') {
  for (const name of CORS_HEADERS) expect(response.headers.get(name), `${label} ${name}`).toBeNull()
}

/** Every endpoint that takes credentials or tokens, and a harmless one. */
const SENSITIVE = [
  '/oauth/token',
  '/oauth/introspect',
  '/mcg/v1/tokeninfo',
  '/oauth/revoke',
  '/auth/login',
  '/auth/me',
]

describe('CORS by default (CORS_ALLOWED_ORIGINS empty)', () => {
  it('is configured empty in wrangler.toml', () => {
    expect(env.CORS_ALLOWED_ORIGINS).toBe('')
  })

  it.each([...SENSITIVE, '/healthz', '/.well-known/jwks.json'])(
    'sends no CORS header from %s, even to a preflight',
    async (path) => {
      const answer = await call(path, preflight(APP))
      expect(answer.status).toBe(204) // the notFound handler's OPTIONS answer, with Allow only
      expectNoCors(answer, path)
      expect(answer.headers.get('vary')).toBeNull()
      const response = await call(path, { method: 'POST', headers: { origin: APP } })
      expectNoCors(response, path)
      await response.body?.cancel()
    },
  )
})

describe('CORS with allowed origins', () => {
  it('answers an allowed origin’s preflight with 204 before routing, echoing the origin', async () => {
    const response = await configured(
      '/Services',
      preflight(APP, 'POST', 'authorization, content-type, idempotency-key'),
    )
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe(APP)
    expect(response.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/)
    expect(response.headers.get('access-control-allow-headers')).toBe(ALLOWED_HEADERS)
    for (const header of ['authorization', 'content-type', 'x-access-token', 'idempotency-key']) {
      expect(ALLOWED_HEADERS.split(', ')).toContain(header)
    }
    expect(response.headers.get('access-control-max-age')).toBe(String(PREFLIGHT_MAX_AGE_SECONDS))
    expect(response.headers.get('vary')).toMatch(/\bOrigin\b/)
    expect(response.headers.get('access-control-allow-credentials')).toBeNull()
    expect(response.headers.get('allow')).toBeNull() // not the notFound handler's answer
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
  })

  /** Each routed path (ids filled in) with the methods the app serves there, GET implying HEAD. */
  const METHODS_BY_PATH = new Map<string, Set<string>>()
  for (const route of app.routes) {
    if (route.method === 'ALL') continue
    const path = route.path.replace(/:\w+/g, 'x')
    const methods = METHODS_BY_PATH.get(path) ?? new Set<string>()
    methods.add(route.method)
    if (route.method === 'GET') methods.add('HEAD')
    METHODS_BY_PATH.set(path, methods)
  }

  it.each([...METHODS_BY_PATH])(
    'allows a preflight to %s only the methods served there',
    async (path, methods) => {
      const response = await configured(path, preflight(APP, 'DELETE'))
      expect(response.status).toBe(204)
      const allowed = (response.headers.get('access-control-allow-methods') ?? '').split(', ')
      expect(allowed.sort()).toEqual([...methods].sort())
    },
  )

  it('gives a POST-only route such as /auth/login no other method', async () => {
    const response = await configured('/auth/login', preflight(APP, 'POST'))
    expect(response.headers.get('access-control-allow-methods')).toBe('POST')
  })

  it('answers a preflight to an unknown path 404, allowing nothing', async () => {
    const response = await configured('/nowhere', preflight(APP, 'POST'))
    await expectProblem(response, 404, 'not_found')
    expect(response.headers.get('access-control-allow-methods')).toBeNull()
  })

  it('echoes each configured origin, never *', async () => {
    for (const origin of [APP, OTHER]) {
      const response = await configured('/healthz', { headers: { origin } })
      expect(response.headers.get('access-control-allow-origin')).toBe(origin)
      expect(response.headers.get('access-control-allow-credentials')).toBeNull()
      expect(response.headers.get('access-control-expose-headers')).toMatch(/\bx-request-id\b/)
      expect(response.headers.get('vary')).toMatch(/\bOrigin\b/)
    }
  })

  it.each([
    EVIL,
    `${APP}.evil.example`,
    'null',
    APP.replace('https', 'http'),
    `${APP}:8443`,
    APP.toUpperCase(),
  ])('gives the origin %s no CORS header, preflight or not', async (origin) => {
    const answer = await configured('/Services', preflight(origin))
    expectNoCors(answer, origin)
    expect(answer.headers.get('vary')).toMatch(/\bOrigin\b/) // a cache must not reuse it for APP
    const response = await configured('/healthz', { headers: { origin } })
    expect(response.status).toBe(200)
    expectNoCors(response, origin)
  })

  it.each(SENSITIVE)('enables %s only for the configured origins', async (path) => {
    const allowed = await configured(path, preflight(APP))
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP)
    for (const origin of [EVIL, 'null'])
      expectNoCors(await configured(path, preflight(origin)), `${path} ${origin}`)
    const stranger = await configured(path, { method: 'POST', headers: { origin: EVIL } })
    expectNoCors(stranger, path)
    await stranger.body?.cancel()
  })

  it('marks error responses readable by an allowed origin, and not by others', async () => {
    const refused = await configured('/auth/me', { method: 'POST', headers: { origin: APP } })
    const body = await expectProblem(refused, 401, 'token_missing')
    expect(body.ack).toBe(896)
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP)
    expect(refused.headers.get('access-control-expose-headers')).toMatch(/\bwww-authenticate\b/)
    expectNoCors(await configured('/auth/me', { method: 'POST', headers: { origin: EVIL } }))
  })

  it('serves a real cross-origin call from an allowed origin', async () => {
    const client = await createClient()
    const token = await tokenFor(client)
    const response = await configured('/auth/me', {
      method: 'POST',
      headers: { origin: APP, 'x-access-token': token },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe(APP)
    const login = await configured('/oauth/token', {
      method: 'POST',
      headers: {
        origin: APP,
        authorization: basicAuth(client.clientId, client.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    })
    expect(login.status).toBe(200)
    expect(login.headers.get('access-control-allow-origin')).toBe(APP)
  })

  it('leaves a plain OPTIONS (no Access-Control-Request-Method) to the router', async () => {
    const response = await configured('/auth/me', { method: 'OPTIONS', headers: { origin: APP } })
    expect(response.status).toBe(204)
    expect(response.headers.get('allow')).toBe('POST, OPTIONS')
  })
})

describe('CORS_ALLOWED_ORIGINS parsing', () => {
  it('reads origins separated by commas or spaces, ignoring a trailing slash', () => {
    expect([...parseAllowedOrigins(` ${APP}/ ,${OTHER}  http://localhost:3000`)]).toEqual([
      APP,
      OTHER,
      'http://localhost:3000',
    ])
    expect(parseAllowedOrigins('').size).toBe(0)
  })

  it.each([
    '*',
    'null',
    'console.example.com',
    'https://app.example.com/path',
    'ftp://files.example.com',
    'https://user:pw@app.example.com',
  ])('refuses %s loudly', (entry) => {
    expect(() => parseAllowedOrigins(entry)).toThrow('The server is misconfigured.')
  })

  it('answers 500 internal_error, never a wider policy, when misconfigured with *', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const response = await requestWith('*', '/healthz', { headers: { origin: EVIL } })
    await expectProblem(response, 500, 'internal_error')
    expectNoCors(response)
    // The operator learns why from the log; the caller only that the server is misconfigured.
    expect(errors.mock.calls.map(String).join('\n')).toContain(
      'CORS_ALLOWED_ORIGINS: \\"*\\" is not an origin',
    )
  })
})
