// HTTPS only outside localhost (document 000 §4, decisions.md D14) and the security headers on
// every response, errors and redirects included.
import { exports } from 'cloudflare:workers'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { AppEnv } from '../../src/http/app-env.ts'
import { app } from '../../src/app.ts'
import { API_CSP, securityHeaders } from '../../src/http/security.ts'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, call, expectProblem, postForm, postJson } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'

function fetchUrl(url: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(url, init))
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': API_CSP,
}

function expectSecurityHeaders(response: Response, label: string) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(response.headers.get(name), `${label}: ${name}`).toBe(value)
  }
  for (const name of ['server', 'x-powered-by'])
    expect(response.headers.get(name), `${label}: ${name}`).toBeNull()
}

/** The public, credential-free reads a plain-HTTP GET or HEAD is redirected for. */
const PUBLIC_READS = [
  '/docs',
  '/openapi.json',
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/pictures/x.png',
  '/healthz',
]

/** The rule, stated apart from the code under test. */
function isPublicRead(path: string): boolean {
  return (
    ['/healthz', '/openapi.json', '/docs'].includes(path) ||
    /^\/(docs|\.well-known|pictures)\//.test(path)
  )
}

/** Every GET route of the app that is not one of those: each may carry a token. */
const PRIVATE_READS = [
  ...new Set(
    app.routes
      .filter((r) => r.method === 'GET' && !isPublicRead(r.path))
      .map((r) => r.path.replace(/:\w+/g, 'x')),
  ),
]

/** The credential headers a plain-HTTP request is always refused for, whatever its route. */
const CREDENTIALS: Record<string, string> = {
  authorization: 'Bearer eyJ.e30.x',
  'x-access-token': 'eyJ.e30.x',
  cookie: 'session=1',
}

describe('plain HTTP outside localhost', () => {
  it.each(['GET', 'HEAD'])('redirects %s with 308 to the same URL over https', async (method) => {
    const response = await fetchUrl('http://portero.test/.well-known/jwks.json?x=1', {
      method,
      redirect: 'manual',
    })
    expect(response.status).toBe(308)
    expect(response.headers.get('location')).toBe('https://portero.test/.well-known/jwks.json?x=1')
    expect(response.headers.get('strict-transport-security')).toBeNull() // RFC 6797 §7.2
    expectSecurityHeaders(response, method)
  })

  it.each(PUBLIC_READS)('redirects an anonymous GET of the public %s', async (path) => {
    const response = await fetchUrl(`http://portero.test${path}`, { redirect: 'manual' })
    expect(response.status).toBe(308)
    expect(response.headers.get('location')).toBe(`https://portero.test${path}`)
  })

  it('lists the app’s private GET routes (the table below is not empty)', () => {
    expect(PRIVATE_READS).toEqual(
      expect.arrayContaining([
        '/recipients',
        '/subscriptions',
        '/Services/messages/x',
        '/admin/clients',
      ]),
    )
  })

  it.each(PRIVATE_READS)(
    'refuses a GET of %s with 400 https_required rather than redirect it',
    async (path) => {
      for (const method of ['GET', 'HEAD']) {
        const response = await fetchUrl(`http://portero.test${path}`, {
          method,
          redirect: 'manual',
        })
        expect(response.status, method).toBe(400)
        expect(response.headers.get('location'), method).toBeNull()
        if (method === 'GET') {
          const body = await expectProblem(response, 400, 'https_required')
          expect(body.detail).toContain(`https://portero.test${path}`)
        }
      }
    },
  )

  it('refuses an unknown path too, before routing', async () => {
    const response = await fetchUrl('http://portero.test/nowhere', { redirect: 'manual' })
    await expectProblem(response, 400, 'https_required')
  })

  it.each(Object.keys(CREDENTIALS))(
    'refuses a public read sent with %s, and says to rotate it',
    async (name) => {
      for (const path of PUBLIC_READS) {
        const response = await fetchUrl(`http://portero.test${path}`, {
          headers: { [name]: CREDENTIALS[name]! },
          redirect: 'manual',
        })
        const body = await expectProblem(response, 400, 'https_required')
        expect(body.detail, path).toMatch(/rotate/)
      }
    },
  )

  it('refuses a login over http with 400 https_required, without reading the credentials', async () => {
    const client = await createClient()
    const response = await fetchUrl('http://portero.test/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: client.clientId, clientSecret: client.clientSecret }),
    })
    const body = await expectProblem(response, 400, 'https_required')
    expect(body.detail).toMatch(/https:\/\/portero\.test\/auth\/login/)
    expect(body).not.toHaveProperty('token')
    expectSecurityHeaders(response, 'https_required')
  })

  it.each(['PUT', 'PATCH', 'DELETE', 'OPTIONS'])('refuses %s over http', async (method) => {
    await expectProblem(
      await fetchUrl('http://portero.test/recipients/x', { method }),
      400,
      'https_required',
    )
  })

  it('answers in the OAuth envelope on /oauth/token', async () => {
    const client = await createClient()
    const response = await fetchUrl('http://portero.test/oauth/token', {
      method: 'POST',
      headers: {
        authorization: basicAuth(client.clientId, client.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    })
    const body = await expectProblem(response, 400, 'https_required', 'application/json')
    expect(body.error).toBe('https_required')
  })

  it('does not trust a client-sent X-Forwarded-Proto', async () => {
    const response = await fetchUrl('http://portero.test/healthz', {
      headers: { 'x-forwarded-proto': 'https' },
      redirect: 'manual',
    })
    expect(response.status).toBe(308)
  })
})

describe('plain HTTP on localhost (development)', () => {
  it.each([
    'http://localhost:8787',
    'http://127.0.0.1:8787',
    'http://[::1]:8787',
    'http://localhost',
  ])('serves %s as is, without HSTS', async (origin) => {
    const response = await fetchUrl(`${origin}/healthz`)
    expect(response.status).toBe(200)
    expect(response.headers.get('strict-transport-security')).toBeNull()
    expectSecurityHeaders(response, origin)
  })

  it('serves a login on localhost', async () => {
    const client = await createClient()
    const response = await fetchUrl('http://localhost:8787/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: client.clientId, clientSecret: client.clientSecret }),
    })
    expect(response.status).toBe(200)
  })

  it('does not exempt a host that only starts with localhost', async () => {
    const response = await fetchUrl('http://localhost.attacker.example/healthz', {
      redirect: 'manual',
    })
    expect(response.status).toBe(308)
  })
})

// The security headers on every kind of answer over https: test/routes/contract.test.ts.
describe('error bodies', () => {
  it('leaves no version or stack in an error body', async () => {
    const response = await call('/nowhere')
    const text = await response.text()
    expect(text).not.toMatch(/hono|workerd|wrangler|node|v\d+\.\d+/i)
  })
})

describe('the CSP hook for pages', () => {
  // A route that sets its own policy (GET /docs) keeps it; every other response gets the API's.
  const page = new Hono<AppEnv>()
  page.use(securityHeaders())
  page.get('/page', (c) => {
    c.header('content-security-policy', "default-src 'self'")
    c.header('cross-origin-resource-policy', 'cross-origin')
    return c.html('<p>hi</p>')
  })
  page.get('/api', (c) => c.json({ ok: true }))
  // immutable headers
  page.get('/fetched', () => Response.redirect('https://portero.test/elsewhere', 302))
  page.get('/leaky', (c) => c.text('x', 200, { server: 'hono/4 workerd', 'x-powered-by': 'Hono' }))

  it('keeps a route-set CSP and CORP', async () => {
    const response = await page.request('https://portero.test/page')
    expect(response.headers.get('content-security-policy')).toBe("default-src 'self'")
    expect(response.headers.get('cross-origin-resource-policy')).toBe('cross-origin')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
  })

  it('sets the API policy elsewhere', async () => {
    const response = await page.request('https://portero.test/api')
    expect(response.headers.get('content-security-policy')).toBe(API_CSP)
  })

  it('sets headers on a response whose headers are immutable', async () => {
    const response = await page.request('https://portero.test/fetched')
    expect(response.status).toBe(302)
    expectSecurityHeaders(response, 'immutable')
  })

  it('removes Server and X-Powered-By', async () => {
    expectSecurityHeaders(await page.request('https://portero.test/leaky'), 'leaky')
  })
})

describe('cache policy', () => {
  /** The public reads that are meant to be cached, and the longest each may be. */
  const CACHEABLE: Record<string, number> = {
    '/.well-known/jwks.json': 300, // short, so a rotated key is seen soon (docs/operations.md)
    '/.well-known/oauth-authorization-server': 3600,
    '/openapi.json': 3600,
    '/docs': 3600,
  }

  /**
   * Every GET route of the app without a path parameter, and the other GET routes with unknown ids.
   */
  const READS = [
    ...new Set(
      app.routes
        .filter((r) => r.method === 'GET')
        .map((r) => r.path.replace(/:\w+/g, `x-${crypto.randomUUID()}`)),
    ),
  ]

  async function operatorWithProvider(): Promise<string> {
    // Every scope at once, so each route answers for real rather than 403.
    return tokenFor(
      await createClient({
        allowedScopes: ['admin', 'services:send', 'recipients:manage', 'tokens:introspect'],
      }),
    )
  }

  it('lists the routes it checks', () => {
    expect(READS).toEqual(
      expect.arrayContaining([
        '/admin/clients',
        '/admin/audit',
        '/subscriptions',
        '/recipients',
        ...Object.keys(CACHEABLE),
      ]),
    )
  })

  it.each(Object.entries(CACHEABLE))(
    'lets %s be cached publicly, for at most %i s',
    async (path, longest) => {
      const response = await call(path)
      expect(response.status).toBe(200)
      await response.body?.cancel()
      const policy = response.headers.get('cache-control') ?? ''
      expect(policy).toMatch(/^public, max-age=\d+/)
      expect(Number(/max-age=(\d+)/.exec(policy)![1])).toBeLessThanOrEqual(longest)
    },
  )

  it('answers every other GET route with Cache-Control: no-store, with or without a token', async () => {
    const token = await operatorWithProvider()
    const answered = new Set<number>()
    for (const path of READS.filter((p) => !(p in CACHEABLE))) {
      for (const headers of [{}, { authorization: `Bearer ${token}` }] as Record<
        string,
        string
      >[]) {
        const response = await call(path, { headers })
        answered.add(response.status)
        expect(response.headers.get('cache-control'), `${path} ${response.status}`).toBe('no-store')
        await response.body?.cancel()
      }
    }
    expect([...answered]).toEqual(expect.arrayContaining([200, 401, 404]))
  })

  it('answers errors, 404s, 405s and redirects with no-store', async () => {
    const responses = [
      await call('/nowhere'),
      await call('/auth/login'),
      await call('/auth/login', { method: 'POST', body: 'x' }),
      await fetchUrl('http://portero.test/healthz', { redirect: 'manual' }),
    ]
    for (const response of responses) {
      expect(response.headers.get('cache-control'), String(response.status)).toBe('no-store')
      await response.body?.cancel()
    }
  })

  it('answers every token issue with no-store and Pragma: no-cache (RFC 6749 §5.1)', async () => {
    const client = await createClient()
    const answers: [string, Response][] = [
      [
        'oauth/token',
        await postForm(
          '/oauth/token',
          { grant_type: 'client_credentials' },
          { authorization: basicAuth(client.clientId, client.clientSecret) },
        ),
      ],
      [
        'auth/login bridge',
        await postJson('/auth/login', {
          clientId: client.clientId,
          clientSecret: client.clientSecret,
        }),
      ],
      [
        'auth/login yativo',
        await postJson('/auth/login', {
          account_id: client.clientId,
          app_secret: client.clientSecret,
        }),
      ],
    ]
    for (const [label, response] of answers) {
      expect(response.status, label).toBe(200)
      expect(response.headers.get('cache-control'), label).toBe('no-store')
      expect(response.headers.get('pragma'), label).toBe('no-cache')
      await response.body?.cancel()
    }
  })

  // The policies as sent. The key set's lifetime (300 + 60 s) is the wait in docs/operations.md "Rotating the
  // signing key"; a picture's is its own (test/routes/pictures.test.ts).
  it.each([
    ['/.well-known/jwks.json', 'public, max-age=300, stale-while-revalidate=60'],
    ['/.well-known/oauth-authorization-server', 'public, max-age=3600'],
    ['/openapi.json', 'public, max-age=300'],
    ['/docs', 'public, max-age=300'],
  ])('keeps the own policy of %s: %s', async (path, policy) => {
    const response = await call(path)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe(policy)
    await response.body?.cancel()
  })
})
