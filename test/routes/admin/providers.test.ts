// /admin/providers and their subscriptions through the Worker's fetch handler: creation and int64
// ids, paging, disabling and deleting (and what that does to the provider's tokens), service_token
// issue, rotation and revocation as /Services sees them, the provider's own /subscriptions, the
// admin scope on every route, and the audit trail.
import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createClient, createProvider, type TestClient } from '../../helpers/clients.ts'
import { adminCall, json, walkPages, type Page } from '../../helpers/admin.ts'
import {
  createSender,
  dispatch,
  settle,
  smsRequest,
  writeOutbox,
  type Sender,
} from '../../helpers/dispatch.ts'
import { basicAuth, call, expectProblem, postForm } from '../../helpers/http.ts'
import { shardCounters, shardDb } from '../../helpers/shards.ts'
import { useStandIn } from '../../helpers/stand-in.ts'
import { expectActive, expectInactive } from '../../helpers/token-state.ts'
import { eventually, tokenFor } from '../../helpers/tokens.ts'

type ProviderView = {
  id: string
  name: string
  status: string
  created_at: string
  updated_at: string
}
type SubscriptionView = {
  provider_id: string
  service_id: number
  service_token: string
  status: string
  created_at: string
}
type AuditView = {
  action: string
  outcome: string
  actor: string | null
  target: string | null
  detail: Record<string, unknown>
}

const INT64_MAX = '9223372036854775807'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
/** For tests that wait on the real queue and consumer. */
const QUEUE = { timeout: 20_000 }

let operator: TestClient
let admin: string

beforeAll(async () => {
  operator = await createClient({ providerId: null, allowedScopes: ['admin'] })
  admin = await tokenFor(operator)
})

afterEach(() => {
  vi.useRealTimers()
})

/** A provider id no other test of this file uses (below 2^40 ids come from createProvider). */
function freshProviderId(): string {
  return String(2n ** 45n + BigInt(Math.floor(Math.random() * 2 ** 40)))
}

async function createProviderOverHttp(body: Record<string, unknown> = {}): Promise<ProviderView> {
  const name = `Clínica ${crypto.randomUUID()}`
  return json<ProviderView>(
    await adminCall(admin, 'POST', '/admin/providers', { name, ...body }),
    201,
  )
}

async function createService(overrides: Record<string, unknown> = {}): Promise<number> {
  const body = {
    name: `service ${crypto.randomUUID()}`,
    allowed_channels: ['sms', 'fcm'],
    ...overrides,
  }
  return (await json<{ id: number }>(await adminCall(admin, 'POST', '/admin/services', body), 201))
    .id
}

/** Every page from `first` on, following links.next. */
async function walk<T>(first: string, token = admin): Promise<Page<T>[]> {
  return (await walkPages<T>(token, first)).pages
}

function login(client: TestClient): Promise<Response> {
  return postForm(
    '/oauth/token',
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  )
}

/** POST /Services with `serviceToken` in place of the sender's own. */
function dispatchWith(sender: Sender, serviceToken: string): Promise<Response> {
  return dispatch(sender, { ...smsRequest(sender), service_token: serviceToken })
}

async function expectDispatched(sender: Sender, serviceToken: string) {
  const created = await json<{ id: string }>(await dispatchWith(sender, serviceToken), 201)
  expect((await settle(sender, created.id)).status).toBe('sent')
}

/** A provider's rows of `table`: in its send shard for the send tables, else in D1. */
async function countRows(table: string, providerId: string): Promise<number> {
  const inShard = ['messages', 'deliveries', 'delivery_events'].includes(table)
  const db = inShard ? shardDb(providerId) : env.DB
  const row = await db
    .prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE provider_id = CAST(?1 AS INTEGER)`)
    .bind(providerId)
    .first<{ n: number }>()
  return row!.n
}

describe('POST /admin/providers', () => {
  it('creates a provider with the next free id: 201, Location and the provider', async () => {
    const name = `Clínica Dr. Nano ${crypto.randomUUID()}`
    const response = await adminCall(admin, 'POST', '/admin/providers', { name })
    const body = await json<ProviderView>(response, 201)
    expect(body).toEqual({
      id: expect.stringMatching(/^[1-9]\d*$/),
      name,
      status: 'active',
      quotas: {
        per_minute: Number(env.SEND_QUOTA_PER_MINUTE),
        per_day: Number(env.SEND_QUOTA_PER_DAY),
        per_destination_hour: Number(env.SEND_QUOTA_PER_DESTINATION_HOUR),
      },
      quota_overrides: { per_minute: null, per_day: null, per_destination_hour: null },
      send_shards: 1,
      sandbox: false,
      created_at: expect.stringMatching(ISO_TIME),
      updated_at: expect.stringMatching(ISO_TIME),
    })
    expect(response.headers.get('location')).toBe(`/admin/providers/${body.id}`)
    expect(await json(await adminCall(admin, 'GET', `/admin/providers/${body.id}`))).toEqual(body)
  })

  it('creates a provider with the id it is given, trimming the name', async () => {
    const id = freshProviderId()
    const response = await adminCall(admin, 'POST', '/admin/providers', {
      id,
      name: '  Autos usados CHECHO ',
    })
    expect(await json(response, 201)).toMatchObject({
      id,
      name: 'Autos usados CHECHO',
      status: 'active',
    })
    expect(response.headers.get('location')).toBe(`/admin/providers/${id}`)
  })

  it('takes a JSON integer id within 2^53 − 1 and answers it as a string', async () => {
    const id = Number(freshProviderId())
    const body = await createProviderOverHttp({ id })
    expect(body.id).toBe(String(id))
  })

  it('keeps the int64 id 9223372036854775807 exact, as a string, end to end', async () => {
    // Other files use this id too, and test files share their storage (vitest.config.ts).
    const gone = await adminCall(admin, 'DELETE', `/admin/providers/${INT64_MAX}?cascade=true`)
    expect([204, 404]).toContain(gone.status)
    const response = await adminCall(admin, 'POST', '/admin/providers', {
      id: INT64_MAX,
      name: 'Max',
    })
    expect(await response.clone().text()).toContain(`"id":"${INT64_MAX}"`)
    expect(await json(response, 201)).toMatchObject({ id: INT64_MAX })
    expect(response.headers.get('location')).toBe(`/admin/providers/${INT64_MAX}`)
    const read = await adminCall(admin, 'GET', `/admin/providers/${INT64_MAX}`)
    expect(await json(read)).toMatchObject({ id: INT64_MAX, name: 'Max' })
    // A neighbour that a double would round to the same value is another, unknown provider.
    await expectProblem(
      await adminCall(admin, 'GET', '/admin/providers/9223372036854775806'),
      404,
      'not_found',
    )
    // New providers still get ids once the largest int64 is taken.
    expect((await createProviderOverHttp()).id).toMatch(/^[1-9]\d*$/)
  })

  it('answers 409 conflict for an id that is taken, and keeps the first provider', async () => {
    const first = await createProviderOverHttp({ id: freshProviderId() })
    const response = await adminCall(admin, 'POST', '/admin/providers', {
      id: first.id,
      name: 'Second',
    })
    await expectProblem(response, 409, 'conflict')
    expect(await json(await adminCall(admin, 'GET', `/admin/providers/${first.id}`))).toEqual(first)
  })

  it.each([
    { case: 'no name', body: {}, path: 'name' },
    { case: 'an empty name', body: { name: '' }, path: 'name' },
    { case: 'a blank name', body: { name: '   ' }, path: 'name' },
    { case: 'a name that is not a string', body: { name: 42 }, path: 'name' },
    { case: 'a name over 200 characters', body: { name: 'a'.repeat(201) }, path: 'name' },
    { case: 'id 0', body: { id: '0', name: 'x' }, path: 'id' },
    { case: 'id 0 as a number', body: { id: 0, name: 'x' }, path: 'id' },
    { case: 'a negative id', body: { id: '-5', name: 'x' }, path: 'id' },
    { case: 'a negative number id', body: { id: -5, name: 'x' }, path: 'id' },
    { case: 'an id over 2^63 − 1', body: { id: '9223372036854775808', name: 'x' }, path: 'id' },
    { case: 'an id with a leading zero', body: { id: '007', name: 'x' }, path: 'id' },
    { case: 'a fractional id', body: { id: 1.5, name: 'x' }, path: 'id' },
    { case: 'a non-numeric id', body: { id: 'abc', name: 'x' }, path: 'id' },
    // JSON.parse has already rounded this to 2^53: accepting it would store another provider.
    {
      case: 'a JSON number id past 2^53 − 1',
      body: '{"id":9007199254740993,"name":"x"}',
      path: 'id',
    },
    { case: 'an unknown field', body: { name: 'x', status: 'active' }, path: '(body)' },
  ])('answers 400 invalid_request with field errors for $case', async ({ body, path }) => {
    const response = await adminCall(admin, 'POST', '/admin/providers', body)
    const problem = await expectProblem(response, 400, 'invalid_request')
    const errors = problem.errors as { path: string; message: string }[]
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.map((e) => e.path)).toContain(path)
    for (const error of errors) expect(error.message).toEqual(expect.any(String))
  })

  it('stores nothing for the JSON number past 2^53 − 1', async () => {
    await adminCall(admin, 'POST', '/admin/providers', '{"id":9007199254740993,"name":"x"}')
    for (const id of ['9007199254740992', '9007199254740993']) {
      await expectProblem(await adminCall(admin, 'GET', `/admin/providers/${id}`), 404, 'not_found')
    }
  })
})

describe('GET /admin/providers/{id}', () => {
  it('answers the provider', async () => {
    const created = await createProviderOverHttp()
    expect(await json(await adminCall(admin, 'GET', `/admin/providers/${created.id}`))).toEqual(
      created,
    )
  })

  it.each(['123456789', 'abc', '0', '-1', '01', '9223372036854775808', '1.0', '%20'])(
    'answers 404 not_found in JSON for %s',
    async (id) => {
      await expectProblem(await adminCall(admin, 'GET', `/admin/providers/${id}`), 404, 'not_found')
    },
  )
})

describe('GET /admin/providers', () => {
  it('walks 250 providers by links.next, 100 at a time, in id order with no gap or duplicate', async () => {
    // Ids of many lengths, so numeric order and text order differ ('10…' < '9…' as text).
    const salt = BigInt(Math.floor(Math.random() * 10 ** 5)) * 1000n
    const mine = Array.from(
      { length: 250 },
      (_, i) => 3n * 10n ** BigInt(6 + (i % 13)) + salt + BigInt(i),
    )
      .sort((a, b) => (a < b ? -1 : 1))
      .map(String)
    // Inserted out of order: the list must be sorted by id, not by insertion.
    const shuffled = [...mine].sort(() => Math.random() - 0.5)
    await env.DB.batch(
      shuffled.map((id) =>
        env.DB.prepare('INSERT INTO providers (id, name) VALUES (CAST(?1 AS INTEGER), ?2)').bind(
          id,
          `bulk ${id}`,
        ),
      ),
    )

    const pages = await walk<ProviderView>('/admin/providers?limit=100')
    const ids = pages.flatMap((p) => p.items.map((item) => item.id))
    for (const page of pages) {
      expect(page.page_size).toBe(100)
      expect(page.items.length).toBeLessThanOrEqual(100)
      expect(page.next_cursor === null).toBe(page.links.next === null)
    }
    expect(pages.slice(0, -1).every((p) => p.items.length === 100)).toBe(true)
    expect(pages.at(-1)!.next_cursor).toBeNull()
    expect(new Set(ids).size).toBe(ids.length)
    for (let i = 1; i < ids.length; i++) expect(BigInt(ids[i]!) > BigInt(ids[i - 1]!)).toBe(true)
    expect(ids.filter((id) => mine.includes(id))).toEqual(mine)
    const total = await env.DB.prepare('SELECT COUNT(*) AS n FROM providers').first<{ n: number }>()
    expect(ids.length).toBe(total!.n)
    expect(pages.length).toBe(Math.ceil(ids.length / 100))
  })

  it('pages 50 at a time by default and keeps the limit in links.next', async () => {
    await Promise.all(Array.from({ length: 3 }, () => createProvider()))
    const first = await json<Page<ProviderView>>(
      await adminCall(admin, 'GET', '/admin/providers?limit=2'),
    )
    expect(first.items).toHaveLength(2)
    expect(first.links.next).toMatch(/^\/admin\/providers\?/)
    expect(new URL(first.links.next!, 'https://x').searchParams.get('limit')).toBe('2')
    expect(new URL(first.links.next!, 'https://x').searchParams.get('cursor')).toBe(
      first.next_cursor,
    )
    const byDefault = await json<Page<ProviderView>>(
      await adminCall(admin, 'GET', '/admin/providers'),
    )
    expect(byDefault.page_size).toBe(50)
  })

  it.each(['limit=0', 'limit=101', 'limit=abc', 'cursor=***', `cursor=${btoa('abc')}`])(
    'answers 400 invalid_request for %s',
    async (query) => {
      await expectProblem(
        await adminCall(admin, 'GET', `/admin/providers?${query}`),
        400,
        'invalid_request',
      )
    },
  )
})

describe('PATCH /admin/providers/{id}', () => {
  it('renames a provider: 204, and the change shows', async () => {
    const created = await createProviderOverHttp()
    const response = await adminCall(admin, 'PATCH', `/admin/providers/${created.id}`, {
      name: ' Renamed ',
    })
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    const read = await json<ProviderView>(
      await adminCall(admin, 'GET', `/admin/providers/${created.id}`),
    )
    expect(read).toMatchObject({
      id: created.id,
      name: 'Renamed',
      status: 'active',
      created_at: created.created_at,
    })
  })

  it('answers 404 for an unknown or non-numeric provider', async () => {
    for (const id of ['123456789', 'abc']) {
      const response = await adminCall(admin, 'PATCH', `/admin/providers/${id}`, { name: 'x' })
      await expectProblem(response, 404, 'not_found')
    }
  })

  it.each([
    { case: 'an empty body', body: {} },
    { case: 'an unknown status', body: { status: 'paused' } },
    { case: 'an empty name', body: { name: '' } },
    { case: 'a null name', body: { name: null } },
    { case: 'an unknown field', body: { id: '5' } },
  ])('answers 400 invalid_request for $case and changes nothing', async ({ body }) => {
    const created = await createProviderOverHttp()
    const response = await adminCall(admin, 'PATCH', `/admin/providers/${created.id}`, body)
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect(problem.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.any(String) })]),
    )
    expect(await json(await adminCall(admin, 'GET', `/admin/providers/${created.id}`))).toEqual(
      created,
    )
  })

  it('disabling a provider stops its clients’ logins and tokens; enabling lets new ones work', async () => {
    // Fixed time: tokens carry whole seconds, so each step happens in a second of its own.
    const start = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now: start })
    const client = await createClient()
    const before = await tokenFor(client)
    await expectActive(before)

    vi.setSystemTime(start + 2000)
    const disable = await adminCall(admin, 'PATCH', `/admin/providers/${client.providerId}`, {
      status: 'disabled',
    })
    expect(disable.status).toBe(204)
    const read = await json<ProviderView>(
      await adminCall(admin, 'GET', `/admin/providers/${client.providerId}`),
    )
    expect(read.status).toBe('disabled')
    await expectProblem(await login(client), 401, 'invalid_client', 'application/json')
    await expectInactive(before)

    vi.setSystemTime(start + 4000)
    const enable = await adminCall(admin, 'PATCH', `/admin/providers/${client.providerId}`, {
      status: 'active',
    })
    expect(enable.status).toBe(204)
    const after = await tokenFor(client)
    await expectActive(after)
    await expectInactive(before)
  })

  it('a token issued right after enabling, in the second of the disabling, is active', async () => {
    const client = await createClient()
    const before = await tokenFor(client)
    for (const status of ['disabled', 'active']) {
      const response = await adminCall(admin, 'PATCH', `/admin/providers/${client.providerId}`, {
        status,
      })
      expect(response.status).toBe(204)
    }
    const after = await tokenFor(client)
    await expectActive(after)
    await expectInactive(before)
  })

  it('disabling ends the tokens of every client of the provider, and no other provider’s', async () => {
    const start = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now: start })
    const first = await createClient()
    const second = await createClient({ providerId: first.providerId })
    const bystander = await createClient()
    const tokens = await Promise.all([first, second, bystander].map((c) => tokenFor(c)))
    vi.setSystemTime(start + 2000)
    const response = await adminCall(admin, 'PATCH', `/admin/providers/${first.providerId}`, {
      status: 'disabled',
    })
    expect(response.status).toBe(204)
    await expectInactive(tokens[0]!)
    await expectInactive(tokens[1]!)
    await expectActive(tokens[2]!)
    await expectProblem(await login(second), 401, 'invalid_client', 'application/json')
    expect((await login(bystander)).status).toBe(200)
  })
})

describe('DELETE /admin/providers/{id}', () => {
  it('answers 409 while the provider has clients, and keeps everything', async () => {
    const sender = await createSender()
    const response = await adminCall(admin, 'DELETE', `/admin/providers/${sender.providerId}`)
    const problem = await expectProblem(response, 409, 'conflict')
    expect(problem.detail).toMatch(/cascade=true/)
    await json(await adminCall(admin, 'GET', `/admin/providers/${sender.providerId}`))
    expect(await countRows('clients', sender.providerId)).toBe(1)
    await expectActive(sender.token)
    const explicit = await adminCall(
      admin,
      'DELETE',
      `/admin/providers/${sender.providerId}?cascade=false`,
    )
    await expectProblem(explicit, 409, 'conflict')
  })

  it('with ?cascade=true deletes its clients, recipients and subscriptions and ends its tokens', async () => {
    const sender = await createSender()
    await expectActive(sender.token)
    await writeOutbox(sender, [{}])
    expect(await countRows('delivery_events', sender.providerId)).toBe(1)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    expect(await shardCounters(sender.providerId)).toMatchObject({ minute: 1, day: 1 })
    const response = await adminCall(
      admin,
      'DELETE',
      `/admin/providers/${sender.providerId}?cascade=true`,
    )
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    await expectProblem(
      await adminCall(admin, 'GET', `/admin/providers/${sender.providerId}`),
      404,
      'not_found',
    )
    const tables = ['clients', 'recipients', 'subscriptions', 'messages', 'deliveries']
    for (const table of [...tables, 'delivery_events', 'message_index']) {
      expect(await countRows(table, sender.providerId)).toBe(0)
    }
    // A provider created again under this id starts with fresh quotas.
    expect(await shardCounters(sender.providerId)).toEqual({})
    await expectInactive(sender.token)
    await expectProblem(await login(sender), 401, 'invalid_client', 'application/json')
    // The subscription went with the provider, so its service can be deleted now.
    expect((await adminCall(admin, 'DELETE', `/admin/services/${sender.serviceId}`)).status).toBe(
      204,
    )
    await expectProblem(
      await adminCall(admin, 'DELETE', `/admin/providers/${sender.providerId}`),
      404,
      'not_found',
    )
  })

  it('deletes a provider with no clients with 204, then answers 404', async () => {
    const created = await createProviderOverHttp()
    const response = await adminCall(admin, 'DELETE', `/admin/providers/${created.id}`)
    expect(response.status).toBe(204)
    await expectProblem(
      await adminCall(admin, 'GET', `/admin/providers/${created.id}`),
      404,
      'not_found',
    )
    await expectProblem(
      await adminCall(admin, 'DELETE', `/admin/providers/${created.id}`),
      404,
      'not_found',
    )
  })

  it('answers 400 for a cascade that is not true or false', async () => {
    const created = await createProviderOverHttp()
    const response = await adminCall(admin, 'DELETE', `/admin/providers/${created.id}?cascade=yes`)
    await expectProblem(response, 400, 'invalid_request')
    await json(await adminCall(admin, 'GET', `/admin/providers/${created.id}`))
  })

  it('answers 404 for an unknown or non-numeric provider', async () => {
    for (const id of ['123456789', 'abc']) {
      await expectProblem(
        await adminCall(admin, 'DELETE', `/admin/providers/${id}?cascade=true`),
        404,
        'not_found',
      )
    }
  })
})

describe('POST /admin/providers/{id}/subscriptions', () => {
  it('subscribes a provider to a service: 201, Location and a UUID service_token', async () => {
    const provider = await createProviderOverHttp()
    const serviceId = await createService()
    const path = `/admin/providers/${provider.id}/subscriptions`
    const response = await adminCall(admin, 'POST', path, { service_id: serviceId })
    const body = await json<SubscriptionView>(response, 201)
    expect(body).toEqual({
      provider_id: provider.id,
      service_id: serviceId,
      service_token: expect.stringMatching(UUID),
      status: 'active',
      created_at: expect.stringMatching(ISO_TIME),
    })
    expect(response.headers.get('location')).toBe(`${path}/${serviceId}`)
  })

  it('keeps an int64 provider id exact in the subscription', async () => {
    const id = '9223372036854775000'
    await createProviderOverHttp({ id })
    const serviceId = await createService()
    const response = await adminCall(admin, 'POST', `/admin/providers/${id}/subscriptions`, {
      service_id: serviceId,
    })
    expect(await json(response, 201)).toMatchObject({ provider_id: id })
  })

  it('answers 409 for a second subscription to the same service, and keeps the first token', async () => {
    const provider = await createProviderOverHttp()
    const serviceId = await createService()
    const path = `/admin/providers/${provider.id}/subscriptions`
    const first = await json<SubscriptionView>(
      await adminCall(admin, 'POST', path, { service_id: serviceId }),
      201,
    )
    await expectProblem(
      await adminCall(admin, 'POST', path, { service_id: serviceId }),
      409,
      'conflict',
    )
    const page = await json<Page<SubscriptionView>>(await adminCall(admin, 'GET', path))
    expect(page.items).toEqual([first])
  })

  it('answers 400 unknown_service for a service that does not exist', async () => {
    const provider = await createProviderOverHttp()
    const path = `/admin/providers/${provider.id}/subscriptions`
    const problem = await expectProblem(
      await adminCall(admin, 'POST', path, { service_id: 2147480000 }),
      400,
      'unknown_service',
    )
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'service_id' })])
  })

  it.each([
    {},
    { service_id: '5' },
    { service_id: 0 },
    { service_id: 1.5 },
    { service_id: 1, extra: true },
  ])('answers 400 invalid_request for %j', async (body) => {
    const provider = await createProviderOverHttp()
    const path = `/admin/providers/${provider.id}/subscriptions`
    await expectProblem(await adminCall(admin, 'POST', path, body), 400, 'invalid_request')
  })

  it('answers 404 for an unknown provider', async () => {
    const serviceId = await createService()
    for (const id of ['123456789', 'abc']) {
      const response = await adminCall(admin, 'POST', `/admin/providers/${id}/subscriptions`, {
        service_id: serviceId,
      })
      await expectProblem(response, 404, 'not_found')
    }
  })
})

describe('GET /admin/providers/{id}/subscriptions', () => {
  it('pages a provider’s subscriptions in service id order, and only its own', async () => {
    const provider = await createProviderOverHttp()
    const other = await createProviderOverHttp()
    const serviceIds = await Promise.all(Array.from({ length: 5 }, () => createService()))
    const path = `/admin/providers/${provider.id}/subscriptions`
    for (const serviceId of serviceIds) {
      await json(await adminCall(admin, 'POST', path, { service_id: serviceId }), 201)
    }
    await json(
      await adminCall(admin, 'POST', `/admin/providers/${other.id}/subscriptions`, {
        service_id: serviceIds[0],
      }),
      201,
    )

    const pages = await walk<SubscriptionView>(`${path}?limit=2`)
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1])
    const items = pages.flatMap((p) => p.items)
    expect(items.map((s) => s.service_id)).toEqual([...serviceIds].sort((a, b) => a - b))
    expect(items.every((s) => s.provider_id === provider.id)).toBe(true)
    expect(new Set(items.map((s) => s.service_token)).size).toBe(5)
  })

  it('answers an empty page for a provider with no subscriptions, 404 for an unknown one', async () => {
    const provider = await createProviderOverHttp()
    const page = await json<Page<SubscriptionView>>(
      await adminCall(admin, 'GET', `/admin/providers/${provider.id}/subscriptions`),
    )
    expect(page).toEqual({ items: [], page_size: 50, next_cursor: null, links: { next: null } })
    await expectProblem(
      await adminCall(admin, 'GET', '/admin/providers/123456789/subscriptions'),
      404,
      'not_found',
    )
  })

  it('answers 400 for a cursor this API did not return', async () => {
    const provider = await createProviderOverHttp()
    const path = `/admin/providers/${provider.id}/subscriptions?cursor=${btoa('abc')}`
    await expectProblem(await adminCall(admin, 'GET', path), 400, 'invalid_request')
  })
})

describe('service_token rotation and revocation, as /Services sees them', () => {
  it('rotation: the old token answers 403 at /Services and the new one sends', QUEUE, async () => {
    useStandIn()
    const sender = await createSender()
    const path = `/admin/providers/${sender.providerId}/subscriptions/${sender.serviceId}/token`
    const rotated = await json<SubscriptionView>(await adminCall(admin, 'POST', path))
    expect(rotated).toMatchObject({
      provider_id: sender.providerId,
      service_id: sender.serviceId,
      service_token: expect.stringMatching(UUID),
      status: 'active',
    })
    expect(rotated.service_token).not.toBe(sender.serviceToken)
    await expectProblem(await dispatchWith(sender, sender.serviceToken), 403, 'forbidden')
    await expectDispatched(sender, rotated.service_token)
  })

  it(
    'revocation: 204, then /Services answers 403 with the token; rotating makes it active again',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await createSender()
      const path = `/admin/providers/${sender.providerId}/subscriptions/${sender.serviceId}`
      const response = await adminCall(admin, 'DELETE', path)
      expect(response.status).toBe(204)
      expect(await response.text()).toBe('')
      await expectProblem(await dispatchWith(sender, sender.serviceToken), 403, 'forbidden')
      const list = await json<Page<SubscriptionView>>(
        await adminCall(admin, 'GET', `/admin/providers/${sender.providerId}/subscriptions`),
      )
      expect(list.items).toEqual([
        expect.objectContaining({ service_id: sender.serviceId, status: 'revoked' }),
      ])
      // Subscribing again is a conflict: the subscription exists, revoked; rotation revives it.
      const again = await adminCall(
        admin,
        'POST',
        `/admin/providers/${sender.providerId}/subscriptions`,
        {
          service_id: sender.serviceId,
        },
      )
      await expectProblem(again, 409, 'conflict')
      const revived = await json<SubscriptionView>(await adminCall(admin, 'POST', `${path}/token`))
      expect(revived.status).toBe('active')
      await expectProblem(await dispatchWith(sender, sender.serviceToken), 403, 'forbidden')
      await expectDispatched(sender, revived.service_token)
    },
  )

  it('answers 404 for a missing subscription, service or provider', async () => {
    const sender = await createSender()
    const unsubscribed = await createService()
    const base = `/admin/providers/${sender.providerId}/subscriptions`
    for (const serviceId of [String(unsubscribed), '2147480000', 'abc', '0']) {
      await expectProblem(
        await adminCall(admin, 'DELETE', `${base}/${serviceId}`),
        404,
        'not_found',
      )
      await expectProblem(
        await adminCall(admin, 'POST', `${base}/${serviceId}/token`),
        404,
        'not_found',
      )
    }
    const unknownProvider = `/admin/providers/123456789/subscriptions/${sender.serviceId}`
    await expectProblem(await adminCall(admin, 'DELETE', unknownProvider), 404, 'not_found')
    await expectProblem(
      await adminCall(admin, 'POST', `${unknownProvider}/token`),
      404,
      'not_found',
    )
    // Another provider's subscription to the same service is not this provider's.
    const other = await createProviderOverHttp()
    await expectProblem(
      await adminCall(
        admin,
        'DELETE',
        `/admin/providers/${other.id}/subscriptions/${sender.serviceId}`,
      ),
      404,
      'not_found',
    )
    const list = await json<Page<SubscriptionView>>(await adminCall(admin, 'GET', base))
    expect(list.items).toEqual([
      expect.objectContaining({ service_token: sender.serviceToken, status: 'active' }),
    ])
  })
})

describe('GET /subscriptions (the provider’s own)', () => {
  it('lists the provider’s own subscriptions with its own token, never another provider’s', async () => {
    const [sender, stranger] = await Promise.all([createSender(), createSender()])
    const extra = await createService()
    await json(
      await adminCall(admin, 'POST', `/admin/providers/${sender.providerId}/subscriptions`, {
        service_id: extra,
      }),
      201,
    )

    const own = await walk<SubscriptionView>('/subscriptions?limit=1', sender.token)
    const items = own.flatMap((p) => p.items)
    expect(items.map((s) => s.service_id)).toEqual([sender.serviceId, extra].sort((a, b) => a - b))
    expect(items.every((s) => s.provider_id === sender.providerId)).toBe(true)
    expect(items.map((s) => s.service_token)).toContain(sender.serviceToken)

    const theirs = await json<Page<SubscriptionView>>(
      await call('/subscriptions', { headers: { authorization: `Bearer ${stranger.token}` } }),
    )
    expect(theirs.items).toEqual([
      expect.objectContaining({
        provider_id: stranger.providerId,
        service_token: stranger.serviceToken,
      }),
    ])
    expect(JSON.stringify(theirs)).not.toContain(sender.serviceToken)
  })

  it('answers 403 forbidden to a token of no provider', async () => {
    const operatorSender = await createClient({
      providerId: null,
      allowedScopes: ['services:send'],
    })
    const noProvider = await call('/subscriptions', {
      headers: { authorization: `Bearer ${await tokenFor(operatorSender)}` },
    })
    await expectProblem(noProvider, 403, 'forbidden')
  })
})

// 401, 403 and 405 on every route: test/routes/contract.test.ts. Here, that a refused change
// leaves the provider, its subscription and its tokens as they were.
describe('the admin scope on every /admin/providers route', () => {
  async function routes() {
    const sender = await createSender()
    const p = `/admin/providers/${sender.providerId}`
    const s = `${p}/subscriptions/${sender.serviceId}`
    return {
      sender,
      list: [
        ['POST', '/admin/providers', { name: 'intruder' }],
        ['PATCH', p, { status: 'disabled' }],
        ['DELETE', `${p}?cascade=true`, undefined],
        ['POST', `${p}/subscriptions`, { service_id: sender.serviceId }],
        ['POST', `${s}/token`, undefined],
        ['DELETE', s, undefined],
      ] as const,
    }
  }

  it('refuses changes to a token with every other scope, and changes nothing', async () => {
    const { sender, list } = await routes()
    const everyOther = await createClient({
      providerId: sender.providerId,
      allowedScopes: [
        'services:send',
        'tokens:introspect',
        'tokens:introspect:any',
        'recipients:manage',
      ],
    })
    const token = await tokenFor(everyOther)
    for (const [method, path, body] of list) {
      await expectProblem(await adminCall(token, method, path, body), 403, 'insufficient_scope')
    }
    const provider = await json<ProviderView>(
      await adminCall(admin, 'GET', `/admin/providers/${sender.providerId}`),
    )
    expect(provider.status).toBe('active')
    const subscriptions = await json<Page<SubscriptionView>>(
      await adminCall(admin, 'GET', `/admin/providers/${sender.providerId}/subscriptions`),
    )
    expect(subscriptions.items).toEqual([
      expect.objectContaining({ service_token: sender.serviceToken, status: 'active' }),
    ])
    await expectActive(sender.token)
  })

  it('answers 404 in JSON for paths that do not exist under /admin', async () => {
    await expectProblem(
      await adminCall(admin, 'GET', '/admin/providers/1/nothing'),
      404,
      'not_found',
    )
    await expectProblem(await adminCall(admin, 'GET', '/admin/nothing'), 404, 'not_found')
  })
})

describe('the audit trail of /admin/providers', () => {
  async function events(target: string, count: number): Promise<AuditView[]> {
    const read = async () => {
      const page = await json<Page<AuditView>>(
        await adminCall(admin, 'GET', `/admin/audit?target=${target}&limit=100`),
      )
      return page.items
    }
    return eventually(read, (items) => items.length >= count)
  }

  it('records create, update and delete with outcome success and the admin as actor', async () => {
    const id = freshProviderId()
    await createProviderOverHttp({ id })
    expect(
      (await adminCall(admin, 'PATCH', `/admin/providers/${id}`, { name: 'Renamed' })).status,
    ).toBe(204)
    expect((await adminCall(admin, 'DELETE', `/admin/providers/${id}`)).status).toBe(204)
    const recorded = await events(id, 3)
    expect(recorded).toHaveLength(3)
    expect(recorded.map((e) => e.action).sort()).toEqual([
      'provider.create',
      'provider.delete',
      'provider.update',
    ])
    for (const event of recorded) {
      expect(event).toMatchObject({ outcome: 'success', actor: operator.clientId, target: id })
    }
    expect(recorded.find((e) => e.action === 'provider.update')!.detail).toMatchObject({
      changed: ['name'],
      status: 204,
    })
  })

  it('records a refused delete (409) and a duplicate create (409) with outcome failure', async () => {
    const sender = await createSender()
    await expectProblem(
      await adminCall(admin, 'DELETE', `/admin/providers/${sender.providerId}`),
      409,
      'conflict',
    )
    const duplicate = await adminCall(admin, 'POST', '/admin/providers', {
      id: sender.providerId,
      name: 'again',
    })
    await expectProblem(duplicate, 409, 'conflict')
    const recorded = await events(sender.providerId, 2)
    expect(recorded).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'provider.delete',
          outcome: 'failure',
          actor: operator.clientId,
          detail: expect.objectContaining({ status: 409, cascade: false }),
        }),
        expect.objectContaining({
          action: 'provider.create',
          outcome: 'failure',
          actor: operator.clientId,
          detail: expect.objectContaining({ status: 409 }),
        }),
      ]),
    )
  })

  it('records subscription changes against the provider', async () => {
    const sender = await createSender()
    const path = `/admin/providers/${sender.providerId}/subscriptions/${sender.serviceId}`
    expect((await adminCall(admin, 'POST', `${path}/token`)).status).toBe(200)
    expect((await adminCall(admin, 'DELETE', path)).status).toBe(204)
    const recorded = await events(sender.providerId, 2)
    expect(recorded.map((e) => e.action).sort()).toEqual([
      'subscription.revoke',
      'subscription.rotate',
    ])
    expect(JSON.stringify(recorded)).not.toContain(sender.serviceToken)
  })
})
