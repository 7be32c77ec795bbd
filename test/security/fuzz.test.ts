// Property-based fuzzing of the whole Worker (fast-check): generated methods, paths, headers and
// bodies through its real fetch handler. Whatever arrives, Portero answers below 500, every error
// in the one problem shape (OAuth's on /oauth/* and /mcg/v1/*), and a refused request changes
// nothing in D1 or KV.
import { env, exports } from 'cloudflare:workers'
import fc from 'fast-check'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { isPublicRead } from '../../src/http/security.ts'
import { KV_PREFIX as LOGIN_LOCK_PREFIX } from '../../src/storage/login-locks.ts'
import {
  FILL_PREFIX as CLIENT_FILL_PREFIX,
  KV_PREFIX as CLIENT_RECORD_PREFIX,
} from '../../src/storage/client-records.ts'
import { KV_PREFIX as TOKEN_CACHE_PREFIX } from '../../src/storage/token-cache.ts'
import { KV_PREFIX as TOMBSTONE_PREFIX } from '../../src/storage/token-tombstones.ts'
import { createClient } from '../helpers/clients.ts'
import {
  createSender,
  dispatch,
  example001,
  freshSender,
  smsRequest,
  type Sender,
} from '../helpers/dispatch.ts'
import { basicAuth, postForm } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { tokenFor } from '../helpers/tokens.ts'

// Every table a request could write, compared row by row. Not audit_events: a refused login or
// admin call is recorded there on purpose (decisions.md D20).
const TABLES = [
  'providers',
  'clients',
  'revoked_tokens',
  'services',
  'subscriptions',
  'recipients',
  'message_index',
]

async function d1Rows(): Promise<string> {
  const results = await env.DB.batch(
    TABLES.map((t) => env.DB.prepare(`SELECT * FROM ${t} ORDER BY rowid`)),
  )
  return JSON.stringify(results.map((r) => r.results))
}

/** Anywhere in the statement, so a CTE or a comment in front does not hide it. */
const WRITE = /\b(insert|update|delete|replace|upsert|create|drop|alter)\b/i

/**
 * Watches D1 and KV for what requests write, through spies on the very bindings the Worker uses
 * (the first tests below prove they see its writes). D1: any writing statement but an audit event
 * makes it compare every row of TABLES with the last good copy. KV: every put and delete, except
 * under `ignoredKv` prefixes: login locks always (a refused login writing its lock is the
 * brute-force defence, decisions.md D18), and the token cache and client records a valid token
 * fills where one is sent.
 */
async function watchStorage(ignoredKv: string[]) {
  const kvWrites: string[] = []
  for (const op of ['put', 'delete'] as const) {
    const original = env.CACHE[op].bind(env.CACHE) as (...args: unknown[]) => Promise<void>
    vi.spyOn(env.CACHE, op).mockImplementation(((key: string, ...rest: unknown[]) => {
      if (!ignoredKv.some((prefix) => key.startsWith(prefix))) kvWrites.push(`${op} ${key}`)
      return original(key, ...rest)
    }) as never)
  }
  const d1Writes: string[] = []
  const prepare = env.DB.prepare.bind(env.DB)
  vi.spyOn(env.DB, 'prepare').mockImplementation((sql: string) => {
    if (WRITE.test(sql) && !/\baudit_events\b/.test(sql)) d1Writes.push(sql)
    return prepare(sql)
  })
  // The send shards: a message accepted, or any writing statement run on a shard's database.
  const shardWrites: string[] = []
  const getByName = env.SEND_SHARDS.getByName.bind(env.SEND_SHARDS)
  vi.spyOn(env.SEND_SHARDS, 'getByName').mockImplementation(((name: string) => {
    const stub = getByName(name)
    return {
      // The shard checks the request: a message stored is its only write.
      accept: async (...args: Parameters<typeof stub.accept>) => {
        const result = await stub.accept(...args)
        if (result.outcome === 'stored') shardWrites.push(`accept ${name}`)
        return result
      },
      run: (statements: Parameters<typeof stub.run>[0]) => {
        for (const { sql } of statements) if (WRITE.test(sql)) shardWrites.push(`${name}: ${sql}`)
        return stub.run(statements)
      },
      runFresh: (statements: Parameters<typeof stub.runFresh>[0]) => {
        for (const { sql } of statements) if (WRITE.test(sql)) shardWrites.push(`${name}: ${sql}`)
        return stub.runFresh(statements)
      },
      runEach: (groups: Parameters<typeof stub.runEach>[0]) => {
        for (const { sql } of groups.flat())
          if (WRITE.test(sql)) shardWrites.push(`${name}: ${sql}`)
        return stub.runEach(groups)
      },
      // Brings the shard's copy of D1's rows up to date: what D1 holds, not a write of its own.
      syncFacts: () => stub.syncFacts(),
      forget: () => {
        shardWrites.push(`forget ${name}`)
        return stub.forget()
      },
    }
  }) as never)
  let rows = await d1Rows()
  return {
    /**
     * Throws when anything was written since the last call (or since `accept`), naming every
     * store written: a write of another test's queue consumer to a shard hides no D1 write.
     */
    async expectUnchanged(label: string) {
      const found: string[] = []
      const check = async (assert: () => void | Promise<void>) => {
        try {
          await assert()
        } catch (cause) {
          found.push(String(cause))
        }
      }
      await check(() => expect(kvWrites, `${label} wrote to KV`).toEqual([]))
      await check(() => expect(shardWrites, `${label} wrote to a send shard`).toEqual([]))
      if (d1Writes.length > 0) {
        // A write statement ran: tell whether it changed anything (an UPDATE may match no row).
        d1Writes.length = 0
        const now = await d1Rows()
        await check(() => expect(now, `${label} wrote to D1`).toEqual(rows))
      }
      if (found.length > 0) throw new Error(found.join('\n'))
    },
    /** Takes the current state as the new baseline (after a request that may write). */
    async accept() {
      kvWrites.length = 0
      d1Writes.length = 0
      shardWrites.length = 0
      rows = await d1Rows()
    },
    /** The full comparison, whatever the spies saw: for the end of a run. */
    async expectRowsUnchanged(label: string) {
      expect(await d1Rows(), label).toEqual(rows)
    },
  }
}

const ORIGIN = 'https://portero.test'

const ROUTES = [
  '/auth/login',
  '/auth/me',
  '/oauth/token',
  '/oauth/introspect',
  '/oauth/revoke',
  '/mcg/v1/tokeninfo',
  '/Services',
  '/Services/messages/5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f',
  '/recipients',
  '/recipients/paciente-42',
  '/subscriptions',
  '/admin/providers',
  '/admin/providers/1001',
  '/admin/providers/1001/subscriptions',
  '/admin/clients',
  '/admin/clients/demo-client',
  '/admin/clients/demo-client/secret',
  '/admin/services',
  '/admin/services/1',
  '/admin/audit',
  '/.well-known/jwks.json',
  '/.well-known/oauth-authorization-server',
  '/healthz',
  '/openapi.json',
  '/pictures/x.png',
]

const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK'])
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Printable ASCII: what a header value may hold. */
const printable = (maxLength = 40) =>
  fc.string({ unit: 'binary-ascii', maxLength }).map((s) => s.replace(/[^\x20-\x7e]/g, ''))

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')
const encodeJson = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)))

const method = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  },
  {
    weight: 1,
    arbitrary: fc
      .stringMatching(/^[A-Za-z]{1,10}$/)
      .filter((m) => !FORBIDDEN_METHODS.has(m.toUpperCase())),
  },
)

function encodeSegment(text: string): string {
  try {
    return encodeURIComponent(text)
  } catch {
    return 'x' // a lone surrogate
  }
}

const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{0,24}$/),
  fc.constantFrom(
    '..',
    '.',
    '',
    '%00',
    '%2F',
    '%2e%2e',
    '%ZZ',
    '%',
    'é',
    '😀',
    '+5491155550000',
    ';x=1',
    '%252F',
    'Services',
    'messages',
    'oauth',
    'token',
    'admin',
    'clients',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }).map(encodeSegment),
)

const path = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ROUTES) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...ROUTES), fc.array(segment, { minLength: 1, maxLength: 3 }))
      .map(([route, rest]) => `${route}/${rest.join('/')}`),
  },
  { weight: 2, arbitrary: fc.array(segment, { maxLength: 5 }).map((rest) => `/${rest.join('/')}`) },
  { weight: 1, arbitrary: fc.constantFrom(...ROUTES).map((route) => route.toLowerCase() + '/') },
)

const query = fc.option(
  fc
    .dictionary(printable(12), printable(30), { maxKeys: 4 })
    .map((d) => `?${new URLSearchParams(d)}`),
  { freq: 3 },
)

const origin = fc.oneof(
  { weight: 12, arbitrary: fc.constant(ORIGIN) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('http://portero.test', 'http://localhost:8787', 'https://localhost'),
  },
)

/** Things that look like tokens, made with no key Portero trusts. */
const fakeJwt = fc
  .tuple(
    fc.oneof(
      fc.record(
        {
          alg: fc.constantFrom('none', 'HS256', 'ES256', 'RS256', 'EdDSA'),
          kid: printable(20),
          typ: fc.constantFrom('at+jwt', 'JWT'),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    fc.oneof(
      fc.record(
        {
          iss: fc.constantFrom(env.ISSUER, 'https://evil.example'),
          client_id: printable(20),
          scope: fc.constantFrom('admin', 'services:send tokens:introspect:any'),
          exp: fc.integer(),
          provider_id: printable(5),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    fc.uint8Array({ maxLength: 96 }),
  )
  .map(
    ([header, payload, signature]) =>
      `${encodeJson(header)}.${encodeJson(payload)}.${base64url(signature)}`,
  )

const token = fc.oneof(
  printable(60),
  fakeJwt,
  fc.nat({ max: 20_000 }).map((n) => 'a'.repeat(n)),
)

const authorization = fc.oneof(
  token.map((t) => `Bearer ${t}`),
  fc.tuple(printable(30), printable(60)).map(([id, secret]) => basicAuth(id, secret)),
  printable(60).map((s) => `Basic ${btoa(s)}`),
  fc.constantFrom(
    'Bearer',
    'Basic',
    'Basic ====',
    'Basic Og==',
    'Digest x',
    'bearer  x y',
    'Bearer ' + 'eyJ.'.repeat(3),
  ),
  printable(60),
)

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/merge-patch+json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'text/plain',
    'application/JSON',
    'application/json; charset=utf-16',
    ';',
  ),
  printable(40),
)

const headers = fc.record(
  {
    'content-type': contentType,
    authorization,
    'x-access-token': token,
    'idempotency-key': printable(300),
    origin: fc.constantFrom('https://evil.example', 'null', ORIGIN),
    'access-control-request-method': fc.constantFrom('POST', 'DELETE', 'X'),
    'x-padding': fc.nat({ max: 24_000 }).map((n) => 'p'.repeat(n)),
    'x-forwarded-proto': fc.constantFrom('https', 'http'),
    'cf-connecting-ip': fc.ipV4(),
  },
  { requiredKeys: [] },
)

const anyJson = fc.jsonValue({ maxDepth: 3 })
const credentialJson = fc.oneof(
  fc.record(
    { clientId: fc.oneof(printable(40), anyJson), clientSecret: fc.oneof(printable(300), anyJson) },
    { requiredKeys: [] },
  ),
  fc.record(
    { account_id: fc.oneof(printable(40), anyJson), app_secret: fc.oneof(printable(300), anyJson) },
    { requiredKeys: [] },
  ),
)
const servicesJson = fc.record(
  {
    provider_id: fc.oneof(
      fc.integer(),
      fc.constantFrom('1001', '9223372036854775808', '-1', '1e3'),
      anyJson,
    ),
    service_token: fc.oneof(fc.uuid(), printable(40)),
    service_id: fc.oneof(fc.integer(), anyJson),
    parameters: fc.oneof(
      anyJson,
      fc.record(
        {
          destination: fc.oneof(printable(20), fc.constantFrom('+5491155550000', '+1', '')),
          notification: fc.record(
            {
              titulo: printable(40),
              mensaje: printable(200),
              canal: fc.oneof(fc.constantFrom('SMS', 'FCM', 'SAT', 1, 2, 9), anyJson),
            },
            { requiredKeys: [] },
          ),
          qr_code: anyJson,
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
)
const form = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'grant_type',
      'client_id',
      'client_secret',
      'token',
      'token_type_hint',
      'scope',
      'resource',
      'audience',
    ),
    printable(12),
  ),
  fc.oneof(
    fc.constantFrom('client_credentials', 'password', 'access_token'),
    printable(80),
    fakeJwt,
  ),
  { maxKeys: 6 },
)

const body: fc.Arbitrary<BodyInit | undefined> = fc.oneof(
  fc.constant(undefined),
  anyJson.map((v) => JSON.stringify(v)),
  credentialJson.map((v) => JSON.stringify(v)),
  servicesJson.map((v) => JSON.stringify(v)),
  fc.integer({ min: 0, max: 200 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 20, max: 60 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => bytes as BodyInit), // invalid UTF-8 among them
  form.map((d) => new URLSearchParams(d).toString()),
  form.map((d) => {
    const data = new FormData()
    for (const [k, v] of Object.entries(d)) data.append(k, v)
    return data as BodyInit
  }),
  fc.nat({ max: 40_000 }).map((n) => 'x'.repeat(n)),
  printable(200),
)

type Generated = {
  method: string
  url: string
  headers: Record<string, string>
  body: BodyInit | undefined
}

const request = fc.record({ method, origin, path, query, headers, body }).map((g): Generated => ({
  method: g.method,
  url: `${g.origin}${g.path}${g.query ?? ''}`,
  headers: g.headers as Record<string, string>,
  body: g.body,
}))

function build(g: Generated): Request | null {
  try {
    const withBody = !['GET', 'HEAD'].includes(g.method.toUpperCase()) && g.body !== undefined
    // exports.default.fetch follows redirects like any fetch unless told not to.
    const init = {
      method: g.method,
      headers: g.headers,
      body: withBody ? g.body : undefined,
      redirect: 'manual' as const,
    }
    return new Request(g.url, init)
  } catch {
    return null // not a request a client could send (fetch refuses it)
  }
}

/** The path as Hono routes it: percent-decoded except for reserved characters. */
function routedPath(url: string): string {
  const { pathname } = new URL(url)
  try {
    return decodeURI(pathname)
  } catch {
    return pathname
  }
}

/** The invariants of one response; returns whether the request was refused. */
async function checkResponse(req: Request, response: Response): Promise<boolean> {
  const label = `${req.method} ${req.url} → ${response.status}`
  expect(response.status, label).toBeLessThan(500)
  const headerNames = [...response.headers.keys()]
  expect(headerNames, label).not.toContain('server')
  expect(response.headers.get('x-content-type-options'), label).toBe('nosniff')
  if (response.status >= 300 && response.status < 400) {
    expect(response.status, label).toBe(308)
    expect(response.headers.get('location'), label).toMatch(/^https:\/\//)
    expect(req.url, label).toMatch(/^http:\/\//)
    // Only a credential-free read of a public route is redirected; the rest is refused.
    expect(isPublicRead(new URL(req.url).pathname), label).toBe(true)
    // An empty header holds no credential (and may not even reach the Worker): only a value counts.
    for (const name of ['authorization', 'x-access-token', 'cookie'])
      expect(req.headers.get(name) ?? '', label).toBe('')
    return true
  }
  if (response.status < 300) {
    await response.body?.cancel()
    // Without a valid token or credentials nothing that changes state may succeed.
    expect(SAFE_METHODS.has(req.method), label).toBe(true)
    return false
  }
  const type = response.headers.get('content-type')
  const oauthPath = /^\/(oauth|mcg\/v1)(\/|$)/.test(routedPath(req.url))
  if (req.method === 'HEAD') {
    expect(type, label).toMatch(/^application\/(problem\+)?json$/)
    return true
  }
  const text = await response.text()
  let problem: Record<string, unknown>
  try {
    problem = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new Error(`${label}: not JSON: ${text.slice(0, 200)}`)
  }
  expect(problem, label).toMatchObject({
    type: `urn:portero:error:${String(problem.code)}`,
    status: response.status,
    title: expect.any(String),
    code: expect.any(String),
    detail: expect.any(String),
  })
  if (problem.error !== undefined) {
    expect(oauthPath, `${label}: OAuth shape off /oauth`).toBe(true)
    expect(type, label).toBe('application/json')
    expect(problem.error, label).toBe(problem.code)
    expect(problem.error_description, label).toBe(problem.detail)
  } else {
    expect(type, label).toBe('application/problem+json')
    expect(
      /^\/(oauth|mcg\/v1)\/./.test(routedPath(req.url)),
      `${label}: problem shape on /oauth`,
    ).toBe(false)
  }
  // Details may echo a field name the request made up, so look for the shapes of leaks, not words.
  expect(text, label).not.toMatch(/\n\s+at |\.(ts|js):\d+:\d+|SQLITE_|D1_ERROR/)
  return true
}

// These counts keep the file under a minute on a two-core machine.
const ANONYMOUS_RUNS = 5000
const AUTHENTICATED_RUNS = 1500

describe('the storage watch the fuzzing relies on', () => {
  async function revokeFreshToken() {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const response = await postForm(
      '/oauth/revoke',
      { token },
      { authorization: basicAuth(owner.clientId, owner.clientSecret) },
    )
    expect(response.status).toBe(200)
  }

  // A revocation inserts into revoked_tokens and writes the token's tombstone in KV.
  it('sees a row the Worker writes to D1', async () => {
    const storage = await watchStorage([
      LOGIN_LOCK_PREFIX,
      TOKEN_CACHE_PREFIX,
      CLIENT_RECORD_PREFIX,
      CLIENT_FILL_PREFIX,
      TOMBSTONE_PREFIX,
    ])
    await revokeFreshToken()
    await expect(storage.expectUnchanged('a revocation')).rejects.toThrow(/wrote to D1/)
  })

  it('sees a key the Worker writes in KV', async () => {
    const storage = await watchStorage([
      LOGIN_LOCK_PREFIX,
      CLIENT_RECORD_PREFIX,
      CLIENT_FILL_PREFIX,
    ])
    await revokeFreshToken()
    await expect(storage.expectUnchanged('a revocation')).rejects.toThrow(/wrote to KV/)
  })

  it('sees a message the Worker stores in a send shard', async () => {
    useStandIn()
    const sender = await freshSender()
    const storage = await watchStorage([
      LOGIN_LOCK_PREFIX,
      TOKEN_CACHE_PREFIX,
      CLIENT_RECORD_PREFIX,
      CLIENT_FILL_PREFIX,
    ])
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    await expect(storage.expectUnchanged('a message')).rejects.toThrow(/wrote to a send shard/)
  })
})

describe('fuzzing the Worker without a valid token', () => {
  it(
    `answers ${ANONYMOUS_RUNS} generated requests below 500, errors in one shape, ` +
      'and writes nothing',
    { timeout: 120_000 },
    async () => {
      const storage = await watchStorage([LOGIN_LOCK_PREFIX])
      let sent = 0
      const statuses = new Set<number>()
      await fc.assert(
        fc.asyncProperty(request, async (g) => {
          const req = build(g)
          fc.pre(req !== null)
          const response = await exports.default.fetch(req!)
          sent++
          statuses.add(response.status)
          await checkResponse(req!, response)
          await storage.expectUnchanged(`${g.method} ${g.url}`)
        }),
        { numRuns: ANONYMOUS_RUNS },
      )
      expect(sent).toBeGreaterThanOrEqual(ANONYMOUS_RUNS * 0.9)
      await storage.expectRowsUnchanged('the whole run')
      // The generators reach every gate: preflights, each kind of refusal. Redirects (only for a
      // credential-free read of a public route over plain HTTP) are too rare here to count on; the
      // transport suite covers them.
      expect([...statuses].sort()).toEqual(
        expect.arrayContaining([200, 204, 400, 401, 404, 405, 413, 415, 431]),
      )
    },
  )
})

describe('fuzzing the provider API with a valid token', () => {
  let sender: Sender

  beforeAll(async () => {
    sender = await createSender()
  })

  it(
    `answers ${AUTHENTICATED_RUNS} generated bodies below 500, and a refused one writes nothing`,
    { timeout: 120_000 },
    async () => {
      const template = example001(sender)
      // Any service token but the real one: no dispatch is ever accepted, so the queue stays empty.
      const dispatch = fc
        .tuple(servicesJson, fc.boolean(), fc.boolean())
        .map(([random, keepTemplate, nest]) => {
          const merged: Record<string, unknown> = keepTemplate ? { ...template, ...random } : random
          if (merged.service_token === sender.serviceToken)
            merged.service_token = crypto.randomUUID()
          if (keepTemplate && !('service_token' in random))
            merged.service_token = crypto.randomUUID()
          return JSON.stringify(
            nest ? { ...merged, extra: JSON.parse('['.repeat(40) + ']'.repeat(40)) } : merged,
          )
        })
      const recipient = fc
        .record(
          {
            user_id: fc.oneof(
              printable(40),
              fc.constantFrom(sender.userId, '.', '..', '+5491155550000'),
              anyJson,
            ),
            phone: fc.oneof(
              fc.constantFrom('+5491155550000', '+1', null, '5491155550000'),
              anyJson,
            ),
            fcm_tokens: fc.oneof(fc.array(printable(20), { maxLength: 12 }), anyJson),
            sms_opt_out: fc.oneof(fc.boolean(), anyJson),
            fcm_opt_out: fc.oneof(fc.boolean(), anyJson),
          },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v))
      const authenticated = fc.record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
        path: fc.constantFrom(
          '/Services',
          '/Services/messages/5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f',
          '/recipients',
          `/recipients/${sender.userId}`,
          '/recipients/nobody',
          '/subscriptions',
          '/admin/clients',
        ),
        query: fc.option(
          fc.constantFrom('?limit=0', '?limit=101', '?cursor=%%%', '?cursor=AAAA', '?limit=1'),
          { freq: 3 },
        ),
        contentType: fc.oneof(fc.constant('application/json'), contentType),
        body: fc.oneof(
          dispatch,
          recipient,
          anyJson.map((v) => JSON.stringify(v)),
          fc.uint8Array({ maxLength: 200 }).map((b) => b as BodyInit),
        ),
        idempotencyKey: fc.option(printable(300)),
      })
      const storage = await watchStorage([
        LOGIN_LOCK_PREFIX,
        TOKEN_CACHE_PREFIX,
        CLIENT_RECORD_PREFIX,
        CLIENT_FILL_PREFIX,
      ])
      const statuses = new Set<number>()
      await fc.assert(
        fc.asyncProperty(authenticated, async (g) => {
          const withBody = g.method !== 'GET'
          const headers: Record<string, string> = {
            authorization: `Bearer ${sender.token}`,
            'content-type': g.contentType,
          }
          if (g.idempotencyKey !== null) headers['idempotency-key'] = g.idempotencyKey
          const req = new Request(`${ORIGIN}${g.path}${g.query ?? ''}`, {
            method: g.method,
            headers,
            body: withBody ? g.body : undefined,
          })
          const response = await exports.default.fetch(req)
          statuses.add(response.status)
          const label = `${g.method} ${g.path} → ${response.status}`
          if (response.status < 300) {
            expect(g.path, label).not.toBe('/Services')
            await response.body?.cancel()
            await storage.accept() // an accepted change may write
            return
          }
          await checkResponse(req, response)
          await storage.expectUnchanged(label)
        }),
        { numRuns: AUTHENTICATED_RUNS },
      )
      // Past authentication into validation, and some accepted changes to the directory.
      expect([...statuses]).toEqual(expect.arrayContaining([200, 400, 403, 404, 405, 415]))
    },
  )
})
