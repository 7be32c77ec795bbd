// /admin/clients through the Worker's fetch handler: creation with a generated or imported secret
// (shown once), the secret never shown again, listing and paging, changes and what they do to the
// client's tokens (cached in KV or not), secret rotation with and without a grace period, deletion,
// and the admin scope on every route.
import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { tokenCacheKey, tokenHash } from '../../../src/storage/token-cache.ts'
import { adminCall, json, walkPages } from '../../helpers/admin.ts'
import { createClient, createProvider, type TestClient } from '../../helpers/clients.ts'
import { basicAuth, expectProblem, freshIp, postForm, postJson } from '../../helpers/http.ts'
import { eventuallyAudited } from '../../helpers/audit.ts'
import { expectActive, expectInactive } from '../../helpers/token-state.ts'
import { eventually, tokenFor } from '../../helpers/tokens.ts'

type ClientView = {
  client_id: string
  provider_id: string | null
  name: string
  allowed_scopes: string[]
  audiences: string[]
  token_lifetime: number
  status: 'active' | 'disabled'
  previous_secret_valid_until: string | null
  created_at: string
  updated_at: string
}
type Created = ClientView & { client_secret: string }
type Rotated = {
  client_id: string
  client_secret: string
  previous_secret_valid_until: string | null
  tokens_revoked: boolean
}
type AuditView = {
  action: string
  outcome: string
  actor: string | null
  target: string | null
  request_id: string | null
  detail: Record<string, unknown>
}
type Claims = { client_id: string; scope: string; aud: string | string[]; iat: number; exp: number }

/** Document 003's example secret: public, so importing it is refused outside local development. */
const DOCUMENT_003_SECRET = 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709'
/** A migrated Bridge client's own secret, in the shape of 003's (40 hex characters). */
const BRIDGE_SECRET = '0B9C2625DC21EF05F6AD4DDF47C5F203837AA32C'
const GENERATED_SECRET = /^[A-Za-z0-9_-]{43}$/
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/

let operator: TestClient
let admin: string

beforeAll(async () => {
  operator = await createClient({ providerId: null, allowedScopes: ['admin'] })
  admin = await tokenFor(operator)
})

afterEach(() => {
  vi.useRealTimers()
})

async function createOverHttp(body: Record<string, unknown> = {}): Promise<Created> {
  const providerId = 'provider_id' in body ? body.provider_id : await createProvider()
  const response = await adminCall(admin, 'POST', '/admin/clients', {
    name: `client ${crypto.randomUUID()}`,
    allowed_scopes: ['services:send', 'tokens:introspect'],
    ...body,
    provider_id: providerId,
  })
  return json<Created>(response, 201)
}

function credentials(created: Created, secret = created.client_secret): TestClient {
  return {
    clientId: created.client_id,
    clientSecret: secret,
    providerId: created.provider_id ?? '',
  }
}

/** POST /oauth/token (client_secret_basic) from a fresh address: failures lock nothing else. */
function login(client: TestClient): Promise<Response> {
  return postForm(
    '/oauth/token',
    { grant_type: 'client_credentials' },
    {
      authorization: basicAuth(client.clientId, client.clientSecret),
      'cf-connecting-ip': freshIp(),
    },
  )
}

async function expectLoginRefused(client: TestClient) {
  await expectProblem(await login(client), 401, 'invalid_client', 'application/json')
  const bridge = await postJson(
    '/auth/login',
    { clientId: client.clientId, clientSecret: client.clientSecret },
    { 'cf-connecting-ip': freshIp() },
  )
  expect(bridge.status).toBe(401)
  expect(await bridge.json()).toMatchObject({ ack: 899, code: 'invalid_client' })
}

function claimsOf(token: string): Claims {
  return decodeJwt(token) as Claims
}

function cachedState(token: string): Promise<string | null> {
  return tokenHash(token).then((hash) => env.CACHE.get(tokenCacheKey(hash)))
}

/** A token the client got, checked once so that its state sits in KV. */
async function cachedToken(client: TestClient): Promise<string> {
  const token = await tokenFor(client)
  await expectActive(token)
  expect(
    await eventually(
      () => cachedState(token),
      (state) => state !== null,
    ),
  ).not.toBeNull()
  return token
}

/** A token the client got and nobody has checked yet: nothing about it is in KV. */
async function uncheckedToken(client: TestClient): Promise<string> {
  const token = await tokenFor(client)
  expect(await cachedState(token)).toBeNull()
  return token
}

const walk = <T>(first: string) => walkPages<T>(admin, first)

function get(id: string): Promise<Response> {
  return adminCall(admin, 'GET', `/admin/clients/${encodeURIComponent(id)}`)
}

describe('POST /admin/clients', () => {
  it('answers 201 with a generated secret, once, with Location and no-store', async () => {
    const providerId = await createProvider()
    const name = `Clínica ${crypto.randomUUID()}`
    const response = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: providerId,
      name,
      allowed_scopes: ['services:send'],
    })
    const created = await json<Created>(response, 201)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('location')).toBe(`/admin/clients/${created.client_id}`)
    expect(created).toEqual({
      client_id: expect.stringMatching(/^client-[0-9a-f-]{36}$/),
      provider_id: providerId,
      name,
      allowed_scopes: ['services:send'],
      audiences: [],
      token_lifetime: 3600,
      dpop_bound_access_tokens: false,
      status: 'active',
      previous_secret_valid_until: null,
      created_at: expect.stringMatching(ISO_TIME),
      updated_at: expect.stringMatching(ISO_TIME),
      client_secret: expect.stringMatching(GENERATED_SECRET),
    })
    const { client_secret: _secret, ...view } = created
    expect(await json(await adminCall(admin, 'GET', response.headers.get('location')!))).toEqual(
      view,
    )
  })

  it('gives a secret that logs in at /oauth/token and /auth/login, in every dialect', async () => {
    const created = await createOverHttp()
    const client = credentials(created)
    const oauth = await json<{ access_token: string; expires_in: number }>(await login(client))
    expect(claimsOf(oauth.access_token)).toMatchObject({ client_id: created.client_id })
    const bridge = await postJson('/auth/login', {
      clientId: client.clientId,
      clientSecret: client.clientSecret,
    })
    expect(await json(bridge)).toMatchObject({ ack: 0, token: expect.any(String) })
    const yativo = await postJson('/auth/login', {
      account_id: client.clientId,
      app_secret: client.clientSecret,
    })
    expect(await json(yativo)).toMatchObject({
      status: 'success',
      status_code: 200,
      data: { access_token: expect.any(String), token_type: 'bearer', expires_in: 3600 },
    })
    await expectActive(oauth.access_token)
  })

  it('generates a different secret for every client', async () => {
    const secrets = await Promise.all(
      [1, 2, 3].map(async () => (await createOverHttp()).client_secret),
    )
    expect(new Set(secrets).size).toBe(3)
  })

  it('imports an existing secret (a migrated Bridge client) that logs in', async () => {
    const id = `bridge-api-client-${crypto.randomUUID()}`
    const created = await createOverHttp({ id, client_secret: BRIDGE_SECRET })
    expect(created.client_id).toBe(id)
    expect(created.client_secret).toBe(BRIDGE_SECRET)
    const response = await postJson('/auth/login', { clientId: id, clientSecret: BRIDGE_SECRET })
    const body = await json<{ ack: number; token: string }>(response)
    expect(body.ack).toBe(0)
    expect(claimsOf(body.token).client_id).toBe(id)
    expect(
      (await login({ clientId: id, clientSecret: BRIDGE_SECRET, providerId: '' })).status,
    ).toBe(200)
    await expectLoginRefused({
      clientId: id,
      clientSecret: BRIDGE_SECRET.toLowerCase(),
      providerId: '',
    })
  })

  it('creates an operator client (no provider) with admin; its token manages clients', async () => {
    const created = await createOverHttp({
      provider_id: null,
      allowed_scopes: ['admin', 'tokens:introspect:any'],
    })
    expect(created.provider_id).toBeNull()
    expect(created.allowed_scopes).toEqual(['admin', 'tokens:introspect:any'])
    const token = await tokenFor(credentials(created))
    expect(claimsOf(token).scope).toBe('admin tokens:introspect:any')
    const response = await adminCall(token, 'GET', `/admin/clients/${created.client_id}`)
    expect((await json<ClientView>(response)).client_id).toBe(created.client_id)
  })

  it.each([
    {
      case: 'an imported secret under 32 characters',
      body: { client_secret: 'A'.repeat(31) },
      path: 'client_secret',
    },
    {
      case: 'a provider client asking for admin',
      body: { allowed_scopes: ['admin'] },
      path: 'allowed_scopes',
    },
    {
      case: 'a provider client asking for tokens:introspect:any',
      body: { allowed_scopes: ['services:send', 'tokens:introspect:any'] },
      path: 'allowed_scopes',
    },
    {
      case: 'an unknown scope',
      body: { allowed_scopes: ['everything'] },
      path: 'allowed_scopes.0',
    },
    { case: 'an id with a space', body: { id: 'bridge api client' }, path: 'id' },
    { case: 'an id with a slash', body: { id: 'bridge/api' }, path: 'id' },
    { case: 'an id with a non-ASCII letter', body: { id: 'clínica' }, path: 'id' },
    { case: 'token_lifetime 59', body: { token_lifetime: 59 }, path: 'token_lifetime' },
    { case: 'token_lifetime 86401', body: { token_lifetime: 86401 }, path: 'token_lifetime' },
    {
      case: 'a fractional token_lifetime',
      body: { token_lifetime: 600.5 },
      path: 'token_lifetime',
    },
    { case: 'a token_lifetime as text', body: { token_lifetime: '600' }, path: 'token_lifetime' },
    { case: 'an unknown field', body: { secret: 'x'.repeat(40) }, path: '(body)' },
    { case: 'an empty name', body: { name: '  ' }, path: 'name' },
    // ISSUER here is https://portero.test: not local development.
    {
      case: 'document 003’s example secret',
      body: { client_secret: DOCUMENT_003_SECRET },
      path: 'client_secret',
    },
    {
      case: 'document 003’s example secret in lower case',
      body: { client_secret: DOCUMENT_003_SECRET.toLowerCase() },
      path: 'client_secret',
    },
  ])(
    'answers 400 invalid_request naming the field for $case, and creates nothing',
    async ({ body, path }) => {
      const id = `rejected-${crypto.randomUUID()}`
      const response = await adminCall(admin, 'POST', '/admin/clients', {
        id,
        provider_id: await createProvider(),
        name: `client ${id}`,
        ...body,
      })
      const problem = await expectProblem(response, 400, 'invalid_request')
      expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]))
      expect(JSON.stringify(problem)).not.toContain('A'.repeat(31))
      if (!('id' in body)) await expectProblem(await get(id), 404, 'not_found')
    },
  )

  it('answers 400 naming provider_id for an unknown provider, or none given', async () => {
    const unknown = String(2 ** 50 + Math.floor(Math.random() * 2 ** 40))
    const response = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: unknown,
      name: 'x',
    })
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'provider_id' })])
    const missing = await adminCall(admin, 'POST', '/admin/clients', { name: 'x' })
    const absent = await expectProblem(missing, 400, 'invalid_request')
    expect(absent.errors).toEqual([expect.objectContaining({ path: 'provider_id' })])
  })

  it('answers 409 for a taken id, and keeps the first client and its secret', async () => {
    const first = await createOverHttp({ id: `dup-${crypto.randomUUID()}` })
    const response = await adminCall(admin, 'POST', '/admin/clients', {
      id: first.client_id,
      provider_id: await createProvider(),
      name: 'another name',
      client_secret: BRIDGE_SECRET,
    })
    await expectProblem(response, 409, 'conflict')
    const { client_secret: _secret, ...view } = first
    expect(await json(await get(first.client_id))).toEqual(view)
    expect((await login(credentials(first))).status).toBe(200)
    await expectLoginRefused(credentials(first, BRIDGE_SECRET))
  })

  it('answers 409 for an id that differs from a taken one only in case, and keeps the first', async () => {
    const first = await createOverHttp({ id: `Case-${crypto.randomUUID()}` })
    for (const id of [first.client_id.toLowerCase(), first.client_id.toUpperCase()]) {
      const response = await adminCall(admin, 'POST', '/admin/clients', {
        id,
        provider_id: await createProvider(),
        name: `n-${crypto.randomUUID()}`,
      })
      const body = await expectProblem(response, 409, 'conflict')
      expect(body.detail).toMatch(/case/)
      await expectProblem(await get(id), 404, 'not_found')
    }
    expect((await login(credentials(first))).status).toBe(200)
  })

  it.each(['admin', 'Admin', 'PORTERO', 'root', 'system', 'operator', 'anonymous'])(
    'answers 400 for the reserved id %s, and creates nothing',
    async (id) => {
      const response = await adminCall(admin, 'POST', '/admin/clients', {
        id,
        provider_id: await createProvider(),
        name: `n-${crypto.randomUUID()}`,
      })
      const body = await expectProblem(response, 400, 'invalid_request')
      expect(body.errors).toEqual([{ path: 'id', message: expect.stringMatching(/reserved/) }])
      await expectProblem(await get(id), 404, 'not_found')
    },
  )

  it('accepts an id that only contains a reserved word', async () => {
    const created = await createOverHttp({ id: `admin-${crypto.randomUUID()}` })
    expect(created.client_id).toMatch(/^admin-/)
  })

  it('answers 409 for a name taken in the same provider; another provider may use it', async () => {
    const first = await createOverHttp()
    const again = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: first.provider_id,
      name: first.name,
    })
    await expectProblem(again, 409, 'conflict')
    const elsewhere = await createOverHttp({ name: first.name })
    expect(elsewhere.name).toBe(first.name)
    expect(elsewhere.provider_id).not.toBe(first.provider_id)
  })
})

describe('the secret is never returned after creation', () => {
  it.each([
    { kind: 'generated', body: {} },
    { kind: 'imported', body: { client_secret: `${BRIDGE_SECRET}-${crypto.randomUUID()}` } },
  ])(
    'a $kind secret appears in no later answer: reads, lists, changes, the audit log',
    { timeout: 30_000 },
    async ({ body }) => {
      const providerId = await createProvider()
      const created = await createOverHttp({ provider_id: providerId, ...body })
      const id = created.client_id
      const digests = async () => {
        const row = await env.DB.prepare(
          'SELECT secret_digest, previous_secret_digest FROM clients WHERE id = ?1',
        )
          .bind(id)
          .first<{ secret_digest: string; previous_secret_digest: string | null }>()
        return [row!.secret_digest, row!.previous_secret_digest].filter((d) => d !== null)
      }
      const storedDigests = await digests()
      const firstSecret = created.client_secret
      const token = await tokenFor(credentials(created))
      await expectLoginRefused(credentials(created, 'wrong-secret-wrong-secret-wrong-secret'))
      const bodies: string[] = []
      const add = async (response: Response, status = 200) => {
        expect(response.status).toBe(status)
        bodies.push(await response.text())
      }

      await add(await get(id))
      bodies.push(...(await walk<ClientView>(`/admin/clients?provider_id=${providerId}`)).bodies)
      bodies.push(...(await walk<ClientView>('/admin/clients?limit=100')).bodies)
      await add(
        await adminCall(admin, 'PATCH', `/admin/clients/${id}`, { name: `renamed ${id}` }),
        204,
      )
      const other = await createOverHttp({ provider_id: providerId })
      await add(await adminCall(admin, 'PATCH', `/admin/clients/${id}`, { name: other.name }), 409)
      const rotation = await adminCall(admin, 'POST', `/admin/clients/${id}/secret`, {
        grace_period_seconds: 600,
      })
      const { client_secret: secondSecret } = await json<Rotated>(rotation)
      await tokenFor(credentials(created, secondSecret))
      storedDigests.push(...(await digests()))
      expect(storedDigests).toHaveLength(3) // the first, then the second and (in grace) the first
      await add(await get(id))
      bodies.push(...(await walk<ClientView>(`/admin/clients?provider_id=${providerId}`)).bodies)
      const audit = await eventuallyAudited(
        () => walk<AuditView>(`/admin/audit?target=${id}&limit=3`),
        ({ pages }) => pages.flatMap((p) => p.items).length >= 7,
      )
      const actions = audit.pages.flatMap((p) => p.items.map((e) => e.action))
      expect(actions).toEqual(
        expect.arrayContaining([
          'client.create',
          'token.issued',
          'login.failed',
          'client.update',
          'client.rotate_secret',
        ]),
      )
      bodies.push(...audit.bodies)
      await add(await adminCall(admin, 'DELETE', `/admin/clients/${id}`), 204)
      await add(await get(id), 404)

      const rows = await env.DB.prepare('SELECT action, detail FROM audit_events WHERE target = ?1')
        .bind(id)
        .all()
      const secrets = [firstSecret, secondSecret, token, admin, ...storedDigests]
      for (const text of [...bodies, JSON.stringify(rows.results)]) {
        for (const secret of secrets) expect(text).not.toContain(secret)
        expect(text).not.toMatch(/secret_digest/)
        expect(text).not.toMatch(/\b[0-9a-f]{64}\b/i)
      }
    },
  )

  it('shows neither the digest nor the previous one while a grace period lasts', async () => {
    const created = await createOverHttp()
    const rotation = await adminCall(admin, 'POST', `/admin/clients/${created.client_id}/secret`, {
      grace_period_seconds: 3600,
    })
    expect(rotation.headers.get('cache-control')).toBe('no-store')
    await json<Rotated>(rotation)
    const row = await env.DB.prepare(
      'SELECT secret_digest, previous_secret_digest FROM clients WHERE id = ?1',
    )
      .bind(created.client_id)
      .first<{ secret_digest: string; previous_secret_digest: string }>()
    expect(row?.secret_digest).toMatch(/^[0-9a-f]{64}$/)
    expect(row?.previous_secret_digest).toMatch(/^[0-9a-f]{64}$/)
    const bodies = [
      await (await get(created.client_id)).text(),
      ...(await walk<ClientView>(`/admin/clients?provider_id=${created.provider_id}`)).bodies,
    ]
    for (const text of bodies) {
      expect(text).toContain(created.client_id)
      expect(text).not.toContain(row!.secret_digest)
      expect(text).not.toContain(row!.previous_secret_digest)
      expect(text).not.toContain(created.client_secret)
    }
  })
})

describe('GET /admin/clients', () => {
  it('answers one client with its fields, and 404 not_found for an unknown id', async () => {
    const created = await createOverHttp({
      audiences: ['https://api.clinica.example'],
      token_lifetime: 600,
    })
    const read = await json<ClientView>(await get(created.client_id))
    expect(read).toEqual({
      client_id: created.client_id,
      provider_id: created.provider_id,
      name: created.name,
      allowed_scopes: ['services:send', 'tokens:introspect'],
      audiences: ['https://api.clinica.example'],
      token_lifetime: 600,
      dpop_bound_access_tokens: false,
      status: 'active',
      previous_secret_valid_until: null,
      created_at: created.created_at,
      updated_at: created.updated_at,
    })
    const problem = await expectProblem(
      await get(`missing-${crypto.randomUUID()}`),
      404,
      'not_found',
    )
    expect(problem.detail).toMatch(/missing-/)
  })

  it('pages a provider’s clients in id order with limit and links.next, once each', async () => {
    const providerId = await createProvider()
    const ids = await Promise.all(
      ['c', 'a', 'e', 'b', 'd'].map(async (letter) => {
        const created = await createOverHttp({
          provider_id: providerId,
          id: `page-${letter}-${crypto.randomUUID()}`,
        })
        return created.client_id
      }),
    )
    const { pages } = await walk<ClientView>(`/admin/clients?provider_id=${providerId}&limit=2`)
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1])
    expect(pages.every((p) => p.page_size === 2)).toBe(true)
    expect(pages[0]!.links.next).toMatch(/^\/admin\/clients\?/)
    expect(new URL(pages[0]!.links.next!, 'https://x').searchParams.get('provider_id')).toBe(
      providerId,
    )
    expect(pages.at(-1)!.next_cursor).toBeNull()
    expect(pages.at(-1)!.links.next).toBeNull()
    const listed = pages.flatMap((p) => p.items)
    expect(listed.map((c) => c.client_id)).toEqual([...ids].sort())
    expect(listed.every((c) => c.provider_id === providerId && !('client_secret' in c))).toBe(true)
  })

  it('lists every client without a filter, operator clients included', async () => {
    const operatorClient = await createOverHttp({ provider_id: null, allowed_scopes: ['admin'] })
    const providerClient = await createOverHttp()
    const { pages } = await walk<ClientView>('/admin/clients?limit=7')
    const ids = pages.flatMap((p) => p.items.map((c) => c.client_id))
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toEqual(
      expect.arrayContaining([
        operatorClient.client_id,
        providerClient.client_id,
        operator.clientId,
      ]),
    )
    const onlyProvider = await walk<ClientView>(
      `/admin/clients?provider_id=${providerClient.provider_id}`,
    )
    expect(onlyProvider.pages.flatMap((p) => p.items.map((c) => c.client_id))).toEqual([
      providerClient.client_id,
    ])
  })

  it.each([
    { case: 'limit 0', query: 'limit=0' },
    { case: 'limit 101', query: 'limit=101' },
    { case: 'a provider_id that is not an int64', query: 'provider_id=clinica' },
    { case: 'a cursor this API did not return', query: 'cursor=%%%' },
  ])('answers 400 invalid_request for $case', async ({ query }) => {
    await expectProblem(
      await adminCall(admin, 'GET', `/admin/clients?${query}`),
      400,
      'invalid_request',
    )
  })
})

describe('PATCH /admin/clients/{id}', () => {
  it('changes scopes, audiences and lifetime, which the next token carries', async () => {
    const created = await createOverHttp({ allowed_scopes: ['services:send'] })
    const client = credentials(created)
    const before = claimsOf(await tokenFor(client))
    expect(before.scope).toBe('services:send')
    expect([before.aud].flat()).toEqual([env.ISSUER])
    expect(before.exp - before.iat).toBe(3600)

    const response = await adminCall(admin, 'PATCH', `/admin/clients/${created.client_id}`, {
      allowed_scopes: ['services:send', 'recipients:manage'],
      audiences: ['https://api.clinica.example'],
      token_lifetime: 600,
    })
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    const read = await json<ClientView>(await get(created.client_id))
    expect(read).toMatchObject({
      allowed_scopes: ['services:send', 'recipients:manage'],
      audiences: ['https://api.clinica.example'],
      token_lifetime: 600,
    })
    const after = claimsOf(await tokenFor(client))
    expect(after.scope).toBe('services:send recipients:manage')
    // Its scopes reach Portero's own API, so Portero's resource is named beside the new audience.
    expect([after.aud].flat()).toEqual(['https://api.clinica.example', env.ISSUER])
    expect(after.exp - after.iat).toBe(600)
    const bridge = await postJson('/auth/login', {
      clientId: client.clientId,
      clientSecret: client.clientSecret,
    })
    expect(await json(bridge)).toMatchObject({ ack: 0, expires_in: 600 })
  })

  it('answers 409 for a name taken in the provider; another provider’s is fine', async () => {
    const first = await createOverHttp()
    const second = await createOverHttp({ provider_id: first.provider_id })
    const elsewhere = await createOverHttp()
    const taken = await adminCall(admin, 'PATCH', `/admin/clients/${second.client_id}`, {
      name: first.name,
    })
    await expectProblem(taken, 409, 'conflict')
    expect((await json<ClientView>(await get(second.client_id))).name).toBe(second.name)
    const free = await adminCall(admin, 'PATCH', `/admin/clients/${elsewhere.client_id}`, {
      name: first.name,
    })
    expect(free.status).toBe(204)
    expect((await json<ClientView>(await get(elsewhere.client_id))).name).toBe(first.name)
  })

  it('lets operator clients (no provider) share a name, as the unique index does', async () => {
    const first = await createOverHttp({ provider_id: null })
    const second = await createOverHttp({ provider_id: null })
    const renamed = await adminCall(admin, 'PATCH', `/admin/clients/${second.client_id}`, {
      name: first.name,
    })
    expect(renamed.status).toBe(204)
    expect((await json<ClientView>(await get(second.client_id))).name).toBe(first.name)
  })

  it.each([
    { case: 'an empty body', body: {}, path: '(body)' },
    {
      case: 'admin for a provider client',
      body: { allowed_scopes: ['admin'] },
      path: 'allowed_scopes',
    },
    { case: 'an unknown status', body: { status: 'paused' }, path: 'status' },
    { case: 'token_lifetime 86401', body: { token_lifetime: 86401 }, path: 'token_lifetime' },
    { case: 'a secret', body: { client_secret: BRIDGE_SECRET }, path: '(body)' },
    { case: 'a new id', body: { id: 'renamed' }, path: '(body)' },
  ])('answers 400 invalid_request for $case and changes nothing', async ({ body, path }) => {
    const created = await createOverHttp()
    const response = await adminCall(admin, 'PATCH', `/admin/clients/${created.client_id}`, body)
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]))
    const { client_secret: _secret, ...view } = created
    expect(await json(await get(created.client_id))).toEqual(view)
  })

  it('answers 404 for an unknown client', async () => {
    const response = await adminCall(
      admin,
      'PATCH',
      `/admin/clients/missing-${crypto.randomUUID()}`,
      { name: 'x' },
    )
    await expectProblem(response, 404, 'not_found')
  })

  it('disabling stops logins and ends earlier tokens, cached or not; enabling again', async () => {
    const created = await createOverHttp()
    const client = credentials(created)
    const cached = await cachedToken(client)
    const unchecked = await uncheckedToken(client)

    const disable = await adminCall(admin, 'PATCH', `/admin/clients/${created.client_id}`, {
      status: 'disabled',
    })
    expect(disable.status).toBe(204)
    expect((await json<ClientView>(await get(created.client_id))).status).toBe('disabled')
    await expectLoginRefused(client)
    await expectInactive(cached)
    await expectInactive(unchecked)

    const enable = await adminCall(admin, 'PATCH', `/admin/clients/${created.client_id}`, {
      status: 'active',
    })
    expect(enable.status).toBe(204)
    const fresh = await tokenFor(client)
    await expectActive(fresh)
    await expectActive(fresh) // again, now from the KV cache
    await expectInactive(cached)
    await expectInactive(unchecked)
  })

  it('disabling a disabled client again keeps it disabled and its tokens inactive', async () => {
    const created = await createOverHttp()
    const token = await cachedToken(credentials(created))
    for (let i = 0; i < 2; i++) {
      const response = await adminCall(admin, 'PATCH', `/admin/clients/${created.client_id}`, {
        status: 'disabled',
      })
      expect(response.status).toBe(204)
    }
    await expectInactive(token)
    await expectLoginRefused(credentials(created))
  })
})

describe('POST /admin/clients/{id}/secret', () => {
  it('gives a new secret that works; without grace the old one stops at once', async () => {
    const created = await createOverHttp()
    const earlier = await cachedToken(credentials(created))
    const response = await adminCall(
      admin,
      'POST',
      `/admin/clients/${created.client_id}/secret`,
      {},
    )
    const rotated = await json<Rotated>(response)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(rotated).toEqual({
      client_id: created.client_id,
      client_secret: expect.stringMatching(GENERATED_SECRET),
      previous_secret_valid_until: null,
      tokens_revoked: false,
    })
    expect(rotated.client_secret).not.toBe(created.client_secret)
    await expectLoginRefused(credentials(created))
    await expectActive(await tokenFor(credentials(created, rotated.client_secret)))
    await expectActive(earlier) // rotation alone does not end tokens
    expect(
      (await json<ClientView>(await get(created.client_id))).previous_secret_valid_until,
    ).toBeNull()
  })

  it('with grace_period_seconds keeps the old secret until then, and shows when', async () => {
    const start = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now: start })
    const created = await createOverHttp()
    const response = await adminCall(admin, 'POST', `/admin/clients/${created.client_id}/secret`, {
      grace_period_seconds: 3600,
    })
    const rotated = await json<Rotated>(response)
    const until = new Date((Math.floor(start / 1000) + 3600) * 1000).toISOString()
    expect(rotated.previous_secret_valid_until).toBe(until)
    expect((await json<ClientView>(await get(created.client_id))).previous_secret_valid_until).toBe(
      until,
    )
    expect((await login(credentials(created))).status).toBe(200)
    expect((await login(credentials(created, rotated.client_secret))).status).toBe(200)

    vi.setSystemTime(Date.parse(until) - 1000)
    expect((await login(credentials(created))).status).toBe(200)
    vi.setSystemTime(Date.parse(until))
    await expectLoginRefused(credentials(created))
    expect((await login(credentials(created, rotated.client_secret))).status).toBe(200)
  })

  it('a second rotation ends the first secret even within the grace period', async () => {
    const created = await createOverHttp()
    const path = `/admin/clients/${created.client_id}/secret`
    const second = await json<Rotated>(
      await adminCall(admin, 'POST', path, { grace_period_seconds: 3600 }),
    )
    const third = await json<Rotated>(
      await adminCall(admin, 'POST', path, { grace_period_seconds: 3600 }),
    )
    await expectLoginRefused(credentials(created))
    expect((await login(credentials(created, second.client_secret))).status).toBe(200)
    expect((await login(credentials(created, third.client_secret))).status).toBe(200)
  })

  it('with revoke_tokens ends every earlier token, cached in KV or not', async () => {
    const created = await createOverHttp()
    const cached = await cachedToken(credentials(created))
    const unchecked = await uncheckedToken(credentials(created))
    const response = await adminCall(admin, 'POST', `/admin/clients/${created.client_id}/secret`, {
      revoke_tokens: true,
    })
    expect(await json<Rotated>(response)).toMatchObject({ tokens_revoked: true })
    await expectInactive(cached)
    await expectInactive(unchecked)
  })

  it('with revoke_tokens lets the new secret’s tokens work at once, and keep working', async () => {
    const created = await createOverHttp()
    const earlier = await cachedToken(credentials(created))
    const response = await adminCall(admin, 'POST', `/admin/clients/${created.client_id}/secret`, {
      revoke_tokens: true,
      grace_period_seconds: 60,
    })
    const rotated = await json<Rotated>(response)
    const fresh = await tokenFor(credentials(created, rotated.client_secret))
    await expectActive(fresh)
    await expectActive(fresh) // again, now from the KV cache
    await expectInactive(earlier)
  })

  it.each([
    { case: 'a negative grace period', body: { grace_period_seconds: -1 } },
    { case: 'a grace period over 7 days', body: { grace_period_seconds: 7 * 24 * 3600 + 1 } },
    { case: 'a fractional grace period', body: { grace_period_seconds: 1.5 } },
    { case: 'revoke_tokens as text', body: { revoke_tokens: 'yes' } },
    { case: 'an imported secret', body: { client_secret: BRIDGE_SECRET } },
  ])('answers 400 invalid_request for $case, and the secret stays', async ({ body }) => {
    const created = await createOverHttp()
    const response = await adminCall(
      admin,
      'POST',
      `/admin/clients/${created.client_id}/secret`,
      body,
    )
    await expectProblem(response, 400, 'invalid_request')
    expect((await login(credentials(created))).status).toBe(200)
  })

  it('accepts a grace period of exactly 7 days', async () => {
    const created = await createOverHttp()
    const response = await adminCall(admin, 'POST', `/admin/clients/${created.client_id}/secret`, {
      grace_period_seconds: 7 * 24 * 3600,
    })
    expect((await json<Rotated>(response)).previous_secret_valid_until).toEqual(expect.any(String))
  })

  it('answers 404 for an unknown client', async () => {
    const response = await adminCall(
      admin,
      'POST',
      `/admin/clients/missing-${crypto.randomUUID()}/secret`,
      {},
    )
    await expectProblem(response, 404, 'not_found')
  })
})

describe('DELETE /admin/clients/{id}', () => {
  it('answers 204; the client cannot log in, its tokens are inactive, and it is gone', async () => {
    const created = await createOverHttp()
    const client = credentials(created)
    const cached = await cachedToken(client)
    const unchecked = await uncheckedToken(client)
    const response = await adminCall(admin, 'DELETE', `/admin/clients/${created.client_id}`)
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    await expectLoginRefused(client)
    await expectInactive(cached)
    await expectInactive(unchecked)
    await expectProblem(await get(created.client_id), 404, 'not_found')
    await expectProblem(
      await adminCall(admin, 'DELETE', `/admin/clients/${created.client_id}`),
      404,
      'not_found',
    )
    const patch = await adminCall(admin, 'PATCH', `/admin/clients/${created.client_id}`, {
      status: 'active',
    })
    await expectProblem(patch, 404, 'not_found')
    const rotate = await adminCall(admin, 'POST', `/admin/clients/${created.client_id}/secret`, {})
    await expectProblem(rotate, 404, 'not_found')
  })

  it('re-creating a deleted id revives none of its old tokens; the new client’s work', async () => {
    const id = `bridge-api-client-${crypto.randomUUID()}`
    const first = await createOverHttp({ id, allowed_scopes: ['services:send'] })
    const cached = await cachedToken(credentials(first))
    const unchecked = await uncheckedToken(credentials(first))
    expect((await adminCall(admin, 'DELETE', `/admin/clients/${id}`)).status).toBe(204)

    const second = await createOverHttp({ id, client_secret: BRIDGE_SECRET })
    await expectInactive(unchecked)
    await expectInactive(cached)
    const fresh = await tokenFor(credentials(second))
    await expectActive(fresh)
    await expectActive(fresh) // again, now from the KV cache
    await expectInactive(unchecked)
  })
})

// 401 without a token, 403 without admin and 405 with Allow: test/routes/contract.test.ts.
describe('authorization', () => {
  it('answers 401 to a token of a client that was disabled', async () => {
    const created = await createOverHttp({ provider_id: null, allowed_scopes: ['admin'] })
    const token = await tokenFor(credentials(created))
    expect((await adminCall(token, 'GET', '/admin/clients?limit=1')).status).toBe(200)
    await adminCall(admin, 'PATCH', `/admin/clients/${created.client_id}`, { status: 'disabled' })
    await expectProblem(
      await adminCall(token, 'GET', '/admin/clients?limit=1'),
      401,
      'invalid_token',
    )
  })
})
