// The rules every route keeps, checked once for each route the app serves (its `app.routes`):
// a body of another media type is 415 with Accept-Post, malformed JSON is 400 invalid_json, no
// token is 401 token_missing, a token without the route's scope is 403 insufficient_scope (each
// with its challenge), another method is 405 with Allow, and every answer, refusals included,
// carries the security headers. The media type an operation takes is read from GET /openapi.json;
// who may call a route is the table ACCESS below, which every route must match.
import { describe, expect, it } from 'vitest'
import { app } from '../../src/app.ts'
import { createClient } from '../helpers/clients.ts'
import { call, expectProblem, freshIp } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'

type Access =
  /** Anyone. */
  | { kind: 'public' }
  /** A client's id and secret, in the body or as Basic credentials: no token. */
  | { kind: 'credentials' }
  /** The SMS API's request signature (X-Twilio-Signature), checked by the route: no token. */
  | { kind: 'sms_signature' }
  /** The token Portero wrote into the second SMS route's receipt URL, checked by the route. */
  | { kind: 'sms_route_token' }
  /** A valid token carrying one of `scopes` (any valid token when empty). */
  | { kind: 'token'; scopes: string[]; challenge: string }

const BEARER = 'Bearer realm="portero"'

/** Who may call what, stated apart from the routes; a route matching no line fails the suite. */
const ACCESS: [RegExp, Access][] = [
  [/^\/(healthz|openapi\.json|docs|\.well-known\/.+|pictures\/.+)$/, { kind: 'public' }],
  // A push's acknowledgement: its token, signed by Portero, is its only credential (D46).
  [/^\/acks\/[^/]+$/, { kind: 'public' }],
  [/^\/(auth\/login|oauth\/token|oauth\/revoke)$/, { kind: 'credentials' }],
  [/^\/callbacks\/sms\/(status|inbound)$/, { kind: 'sms_signature' }],
  [/^\/callbacks\/sms\/vonage$/, { kind: 'sms_route_token' }],
  // Introspection callers may also authenticate as a client (RFC 7662 §2.1): both are offered.
  [
    /^\/(mcg\/v1\/tokeninfo|oauth\/introspect)$/,
    {
      kind: 'token',
      scopes: ['tokens:introspect', 'tokens:introspect:any'],
      challenge: `${BEARER}, Basic realm="portero"`,
    },
  ],
  [/^\/auth\/me$/, { kind: 'token', scopes: [], challenge: BEARER }],
  [
    /^\/(Services|subscriptions|webhooks)(\/|$)/,
    { kind: 'token', scopes: ['services:send'], challenge: BEARER },
  ],
  [/^\/recipients(\/|$)/, { kind: 'token', scopes: ['recipients:manage'], challenge: BEARER }],
  [/^\/admin\//, { kind: 'token', scopes: ['admin'], challenge: BEARER }],
]

type Route = { method: string; path: string; sample: string; access: Access | undefined }

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

/** A concrete path for a route pattern: every parameter is "1". */
const sampleOf = (path: string) => path.replace(/:\w+/g, '1')
const patternOf = (path: string) => new RegExp(`^${path.replace(/:\w+/g, '[^/]+')}$`)

const ROUTES: Route[] = [
  ...new Map(
    app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => [
        `${r.method} ${r.path}`,
        {
          method: r.method,
          path: r.path,
          sample: sampleOf(r.path),
          access: ACCESS.find(([pattern]) => pattern.test(r.path))?.[1],
        },
      ]),
  ).values(),
]
const TOKEN_ROUTES = ROUTES.filter((r) => r.access?.kind === 'token')
const SCOPED_ROUTES = TOKEN_ROUTES.filter(
  (r) => r.access?.kind === 'token' && r.access.scopes.length > 0,
)
const PATHS = [...new Set(ROUTES.map((r) => r.path))]

/** The methods served at `path`, as Allow lists them: GET brings HEAD, and OPTIONS is always on. */
function allowedAt(path: string): string[] {
  const served = ROUTES.filter((r) => patternOf(r.path).test(sampleOf(path))).map((r) => r.method)
  return [...new Set([...served, ...(served.includes('GET') ? ['HEAD'] : []), 'OPTIONS'])].sort()
}

const JSON_TYPE = 'application/json'
const FORM_TYPE = 'application/x-www-form-urlencoded'

// The operations' request media types, as the document served to clients states them.
type Operation = { requestBody?: { content: Record<string, unknown> } }
const documentResponse = await call('/openapi.json')
const document = (await documentResponse.json()) as {
  paths: Record<string, Record<string, Operation>>
}
const operationOf = (route: Route) =>
  document.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()]
const mediaTypeOf = (route: Route) => Object.keys(operationOf(route)?.requestBody?.content ?? {})[0]
const BODY_ROUTES = ROUTES.filter((r) => mediaTypeOf(r) !== undefined)
const JSON_ROUTES = BODY_ROUTES.filter((r) => mediaTypeOf(r) === JSON_TYPE)

/** Errors of the OAuth endpoints are application/json, which OAuth client libraries insist on. */
const errorTypeOf = (path: string) =>
  /^\/(oauth|mcg)\//.test(path) ? JSON_TYPE : 'application/problem+json'

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
}
const API_CSP = "default-src 'none'; frame-ancestors 'none'"

/** The headers on every answer; a page or a file answered with 2xx may set its own CSP and CORP. */
function expectSecurityHeaders(response: Response, label: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(response.headers.get(name), `${label}: ${name}`).toBe(value)
  }
  const own = response.ok
  const csp = response.headers.get('content-security-policy')
  expect(csp, `${label}: content-security-policy`).toEqual(own ? expect.any(String) : API_CSP)
  const corp = response.headers.get('cross-origin-resource-policy')
  expect(corp, `${label}: cross-origin-resource-policy`).toEqual(
    own ? expect.any(String) : 'same-origin',
  )
  expect(response.headers.get('cache-control'), `${label}: cache-control`).toEqual(
    expect.any(String),
  )
  expect(response.headers.get('x-request-id'), `${label}: x-request-id`).toMatch(/^[0-9a-f-]{36}$/)
  for (const name of ['server', 'x-powered-by'])
    expect(response.headers.get(name), `${label}: ${name}`).toBeNull()
}

type Probe = { token?: string; contentType?: string; body?: string }

/** One request to `path` from a fresh address, its answer checked for the security headers. */
async function send(method: string, path: string, { token, contentType, body }: Probe = {}) {
  const headers: Record<string, string> = { 'cf-connecting-ip': freshIp() }
  if (token) headers.authorization = `Bearer ${token}`
  if (contentType) headers['content-type'] = contentType
  // Bytes, not a string: a string body would get Content-Type text/plain from the Fetch standard.
  const bytes = body === undefined ? undefined : new TextEncoder().encode(body)
  const response = await call(path, { method, headers, body: bytes })
  expectSecurityHeaders(response, `${method} ${path}`)
  return response
}

/** A refusal in the route's envelope: OAuth's error members, Bridge's ack on /auth/me. */
async function expectRefused(response: Response, path: string, status: number, code: string) {
  const body = await expectProblem(response, status, code, errorTypeOf(path))
  if (errorTypeOf(path) === JSON_TYPE)
    expect(body).toMatchObject({ error: code, error_description: body.detail })
  if (path === '/auth/me') expect(body.ack).toEqual(expect.any(Number))
  return body
}

/** A body that passes the checks before authentication: form routes read theirs first. */
function validBody(route: Route): Probe {
  return mediaTypeOf(route) === FORM_TYPE ? { contentType: FORM_TYPE, body: 'token=x' } : {}
}

const tokens = new Map<string, Promise<string>>()

/** A token of a client holding exactly `scopes`; an operator (no provider) for admin. */
function tokenWith(scopes: string[]): Promise<string> {
  const key = [...scopes].sort().join(' ')
  let token = tokens.get(key)
  if (!token) {
    const providerId = scopes.includes('admin') ? null : undefined
    token = createClient({ providerId, allowedScopes: scopes }).then((client) => tokenFor(client))
    tokens.set(key, token)
  }
  return token
}

/** A token the route accepts, for probing what it checks after authentication. */
async function acceptedToken(route: Route): Promise<string | undefined> {
  const access = route.access
  if (access?.kind !== 'token') return undefined
  return tokenWith(access.scopes.length > 0 ? access.scopes.slice(0, 1) : ['tokens:introspect'])
}

const label = (r: Route) => `${r.method} ${r.path}`
const tokenAccess = (r: Route) => r.access as Extract<Access, { kind: 'token' }>

describe('the routes', () => {
  it('are all under a rule of ACCESS, and all described by /openapi.json', () => {
    expect(documentResponse.status).toBe(200)
    expect(ROUTES.length).toBeGreaterThan(30)
    expect(ROUTES.filter((r) => !r.access).map(label)).toEqual([])
    expect(ROUTES.filter((r) => !operationOf(r)).map(label)).toEqual([])
  })

  it('take one media type each, and some take JSON and some a form', () => {
    for (const route of BODY_ROUTES) {
      expect(Object.keys(operationOf(route)!.requestBody!.content), label(route)).toHaveLength(1)
    }
    expect(new Set(BODY_ROUTES.map(mediaTypeOf))).toEqual(new Set([JSON_TYPE, FORM_TYPE]))
    expect(TOKEN_ROUTES.length).toBeGreaterThan(20)
  })

  it('name every scope the authorization server publishes', async () => {
    const metadata = await send('GET', '/.well-known/oauth-authorization-server')
    const { scopes_supported: published } = (await metadata.json()) as {
      scopes_supported: string[]
    }
    const named = new Set(
      TOKEN_ROUTES.flatMap((r) => (r.access?.kind === 'token' ? r.access.scopes : [])),
    )
    expect([...named].sort()).toEqual([...published].sort())
  })
})

describe.each(BODY_ROUTES.map((r) => [label(r), r] as const))('%s', (_, route) => {
  const expected = mediaTypeOf(route)!
  const others = [JSON_TYPE, FORM_TYPE, 'text/plain', 'multipart/form-data; boundary=b', undefined]

  it(`answers 415 with Accept-Post: ${expected} to any other body`, async () => {
    const token = await acceptedToken(route)
    for (const contentType of others.filter((type) => type !== expected)) {
      const response = await send(route.method, route.sample, { token, contentType, body: '{}' })
      await expectRefused(response, route.path, 415, 'unsupported_media_type')
      expect(response.headers.get('accept-post'), String(contentType)).toBe(expected)
    }
  })
})

describe.each(JSON_ROUTES.map((r) => [label(r), r] as const))('%s', (_, route) => {
  it('answers 400 invalid_json to malformed JSON', async () => {
    const probe = { token: await acceptedToken(route), contentType: JSON_TYPE, body: '{"name":' }
    await expectRefused(
      await send(route.method, route.sample, probe),
      route.path,
      400,
      'invalid_json',
    )
  })
})

describe.each(TOKEN_ROUTES.map((r) => [label(r), r] as const))('%s', (_, route) => {
  it('answers 401 token_missing without a token, invalid_token for a bad one', async () => {
    const missing = await send(route.method, route.sample, validBody(route))
    await expectRefused(missing, route.path, 401, 'token_missing')
    expect(missing.headers.get('www-authenticate')).toBe(tokenAccess(route).challenge)

    const probe = { ...validBody(route), token: 'not.a.token' }
    const invalid = await send(route.method, route.sample, probe)
    await expectRefused(invalid, route.path, 401, 'invalid_token')
    expect(invalid.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="portero", error="invalid_token"/,
    )
  })
})

describe.each(SCOPED_ROUTES.map((r) => [label(r), r] as const))('%s', (_, route) => {
  const { scopes } = tokenAccess(route)

  it(`answers 403 insufficient_scope to a token without ${scopes.join(' or ')}`, async () => {
    const metadata = await call('/.well-known/oauth-authorization-server')
    const { scopes_supported: all } = (await metadata.json()) as { scopes_supported: string[] }
    const token = await tokenWith(all.filter((scope) => !scopes.includes(scope)))
    const response = await send(route.method, route.sample, { ...validBody(route), token })
    await expectRefused(response, route.path, 403, 'insufficient_scope')
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="portero", error="insufficient_scope"/,
    )
  })
})

const WRONG_METHODS = PATHS.map((path) => ({ path, allowed: allowedAt(path) }))
  .map(({ path, allowed }) => ({
    path,
    allowed,
    refused: METHODS.filter((m) => !allowed.includes(m)),
  }))
  .filter(({ refused }) => refused.length > 0)

describe.each(WRONG_METHODS)('$path', ({ path, allowed, refused }) => {
  it(`answers 405 with Allow: ${allowed.join(', ')} to ${refused.join(', ')}`, async () => {
    const token = await acceptedToken(ROUTES.find((r) => r.path === path)!)
    for (const method of refused) {
      const response = await send(method, sampleOf(path), { token })
      const body = await expectRefused(response, path, 405, 'method_not_allowed')
      expect(response.headers.get('allow')?.split(', ').sort(), method).toEqual(allowed)
      expect(body.detail).toContain(method)
    }
  })
})

describe('every other kind of answer', () => {
  it.each(
    ROUTES.filter((r) => r.access?.kind === 'public' && r.method === 'GET').map(
      (r) => [r.sample] as const,
    ),
  )('GET %s carries the security headers', async (path) => {
    const response = await send('GET', path)
    // The sample picture id names no picture.
    expect(response.status).toBe(path.startsWith('/pictures/') ? 404 : 200)
    await response.body?.cancel()
  })

  it('HEAD, OPTIONS, an unknown path and a body too large carry them too', async () => {
    expect((await send('HEAD', '/healthz')).status).toBe(200)
    expect((await send('OPTIONS', '/oauth/token')).status).toBe(204)
    // A push's acknowledgement with a token Portero did not sign.
    await expectRefused(await send('POST', '/acks/1'), '/acks/1', 403, 'invalid_signature')
    await expectRefused(await send('GET', '/nowhere'), '/nowhere', 404, 'not_found')
    const large = { contentType: JSON_TYPE, body: JSON.stringify({ clientId: 'x'.repeat(20_000) }) }
    await expectRefused(
      await send('POST', '/auth/login', large),
      '/auth/login',
      413,
      'payload_too_large',
    )
  })
})
