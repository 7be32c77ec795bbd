// /admin/services through the Worker's fetch handler: definitions with their defaults, conflicts,
// validation, paging, changes as /Services sees them, deletion while subscribed, the admin scope on
// every route, and the audit trail.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { adminCall, json, walkPages, type Page } from '../../helpers/admin.ts'
import { createClient, type TestClient } from '../../helpers/clients.ts'
import { createSender, dispatch, settle, smsRequest } from '../../helpers/dispatch.ts'
import { expectProblem } from '../../helpers/http.ts'
import { useStandIn } from '../../helpers/stand-in.ts'
import { eventually, tokenFor } from '../../helpers/tokens.ts'

type ServiceView = {
  id: number
  name: string
  kind: string
  required_parameters: string[]
  allowed_channels: string[]
  enabled: boolean
  created_at: string
  updated_at: string
}
type FieldError = { path: string; message: string }
type AuditView = {
  action: string
  outcome: string
  actor: string | null
  target: string | null
  detail: Record<string, unknown>
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
/** No test of this file creates a service with this id. */
const UNKNOWN_ID = 2147480000
/** For tests that wait on the real queue and consumer. */
const QUEUE = { timeout: 20_000 }

let operator: TestClient
let admin: string

beforeAll(async () => {
  operator = await createClient({ providerId: null, allowedScopes: ['admin'] })
  admin = await tokenFor(operator)
})

function freshName(): string {
  return `Turnos ${crypto.randomUUID()}`
}

/** An explicit service id no other test of this file picks (auto ids count up from 1). */
function freshServiceId(): number {
  return 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000)
}

async function createService(body: Record<string, unknown> = {}): Promise<ServiceView> {
  const response = await adminCall(admin, 'POST', '/admin/services', {
    name: freshName(),
    allowed_channels: ['sms', 'fcm'],
    ...body,
  })
  return json<ServiceView>(response, 201)
}

function readService(id: number | string): Promise<Response> {
  return adminCall(admin, 'GET', `/admin/services/${id}`)
}

/** Every page from `first` on, following links.next. */
async function walk<T>(first: string): Promise<Page<T>[]> {
  return (await walkPages<T>(admin, first)).pages
}

describe('POST /admin/services', () => {
  it('creates a service with the defaults: 201, Location and the service', async () => {
    const name = freshName()
    const response = await adminCall(admin, 'POST', '/admin/services', {
      name,
      allowed_channels: ['sms'],
    })
    const body = await json<ServiceView>(response, 201)
    expect(body).toEqual({
      id: expect.any(Number),
      name,
      kind: 'notification',
      required_parameters: ['destination'],
      allowed_channels: ['sms'],
      enabled: true,
      direct_numbers: false,
      direct_number_country_codes: null,
      quiet_hours: null,
      fallback: null,
      created_at: expect.stringMatching(ISO_TIME),
      updated_at: expect.stringMatching(ISO_TIME),
    })
    expect(Number.isSafeInteger(body.id) && body.id > 0).toBe(true)
    expect(response.headers.get('location')).toBe(`/admin/services/${body.id}`)
    expect(await json(await readService(body.id))).toEqual(body)
  })

  it('creates a service with every field given, without duplicates in its lists', async () => {
    const id = freshServiceId()
    const body = await createService({
      id,
      name: '  Publicidad  ',
      kind: 'advertisement',
      required_parameters: ['destination', 'advertisement', 'advertisement'],
      allowed_channels: ['fcm', 'sms', 'fcm'],
      enabled: false,
      quiet_hours: { start: '22:00', end: '08:00', time_zone: 'Europe/Madrid' },
    })
    expect(body).toMatchObject({
      id,
      name: 'Publicidad',
      kind: 'advertisement',
      required_parameters: ['destination', 'advertisement'],
      allowed_channels: ['fcm', 'sms'],
      enabled: false,
      quiet_hours: { start: '22:00', end: '08:00', time_zone: 'Europe/Madrid' },
    })
  })

  it('answers 409 conflict for a name or an id that is taken, and keeps the first service', async () => {
    const first = await createService({ id: freshServiceId() })
    const sameName = await adminCall(admin, 'POST', '/admin/services', {
      name: ` ${first.name} `,
      allowed_channels: ['fcm'],
    })
    await expectProblem(sameName, 409, 'conflict')
    const sameId = await adminCall(admin, 'POST', '/admin/services', {
      id: first.id,
      name: freshName(),
      allowed_channels: ['fcm'],
    })
    await expectProblem(sameId, 409, 'conflict')
    expect(await json(await readService(first.id))).toEqual(first)
  })

  it.each([
    { case: "the channel 'sat'", body: { allowed_channels: ['sat'] }, path: 'allowed_channels.0' },
    { case: 'no allowed channel', body: { allowed_channels: [] }, path: 'allowed_channels' },
    {
      case: 'allowed_channels left out',
      body: { allowed_channels: undefined },
      path: 'allowed_channels',
    },
    {
      case: 'allowed_channels not a list',
      body: { allowed_channels: 'sms' },
      path: 'allowed_channels',
    },
    {
      case: 'an unknown required parameter',
      body: { required_parameters: ['destination', 'micropayment'] },
      path: 'required_parameters.1',
    },
    { case: 'no name', body: { name: undefined }, path: 'name' },
    { case: 'an empty name', body: { name: '  ' }, path: 'name' },
    { case: 'an empty kind', body: { kind: '' }, path: 'kind' },
    { case: 'id 0', body: { id: 0 }, path: 'id' },
    { case: 'an id past 2^31 − 1', body: { id: 2 ** 31 }, path: 'id' },
    { case: 'an id as a string', body: { id: '5' }, path: 'id' },
    { case: 'enabled not a boolean', body: { enabled: 'yes' }, path: 'enabled' },
    { case: 'an unknown field', body: { provider_id: 1 }, path: '(body)' },
  ])(
    'answers 400 invalid_request with field errors for $case, and stores nothing',
    async ({ body, path }) => {
      const name = freshName()
      const response = await adminCall(admin, 'POST', '/admin/services', {
        name,
        allowed_channels: ['sms'],
        ...body,
      })
      const problem = await expectProblem(response, 400, 'invalid_request')
      const errors = problem.errors as FieldError[]
      expect(errors.map((e) => e.path)).toContain(path)
      for (const error of errors) expect(error.message).toEqual(expect.any(String))
      const stored = await env.DB.prepare('SELECT COUNT(*) AS n FROM services WHERE name = ?1')
        .bind(name)
        .first<{ n: number }>()
      expect(stored!.n).toBe(0)
    },
  )
})

describe('GET /admin/services/{id}', () => {
  it('answers the service', async () => {
    const created = await createService()
    expect(await json(await readService(created.id))).toEqual(created)
  })

  it.each([String(UNKNOWN_ID), 'abc', '0', '-1', '01', '1.5', '99999999999', '%20'])(
    'answers 404 not_found in JSON for %s',
    async (id) => {
      await expectProblem(await readService(id), 404, 'not_found')
    },
  )
})

describe('GET /admin/services', () => {
  it('walks every service by links.next in id order, with no gap or duplicate', async () => {
    const mine = await Promise.all(
      Array.from({ length: 7 }, (_, i) => createService(i % 2 ? { id: freshServiceId() } : {})),
    )
    const pages = await walk<ServiceView>('/admin/services?limit=3')
    const ids = pages.flatMap((p) => p.items.map((s) => s.id))
    for (const page of pages) {
      expect(page.page_size).toBe(3)
      expect(page.items.length).toBeLessThanOrEqual(3)
    }
    expect(pages.slice(0, -1).every((p) => p.items.length === 3 && p.next_cursor !== null)).toBe(
      true,
    )
    expect(pages.at(-1)!.links.next).toBeNull()
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!)
    const sorted = mine.map((s) => s.id).sort((a, b) => a - b)
    expect(ids.filter((id) => sorted.includes(id))).toEqual(sorted)
    const total = await env.DB.prepare('SELECT COUNT(*) AS n FROM services').first<{ n: number }>()
    expect(ids.length).toBe(total!.n)
    const items = pages.flatMap((p) => p.items)
    for (const service of mine) expect(items.find((s) => s.id === service.id)).toEqual(service)
  })

  it('pages 50 at a time by default', async () => {
    await createService()
    expect(
      (await json<Page<ServiceView>>(await adminCall(admin, 'GET', '/admin/services'))).page_size,
    ).toBe(50)
  })

  it.each([
    'limit=0',
    'limit=101',
    'limit=abc',
    'cursor=***',
    `cursor=${btoa('abc')}`,
    `cursor=${btoa('0')}`,
  ])('answers 400 invalid_request for %s', async (query) => {
    await expectProblem(
      await adminCall(admin, 'GET', `/admin/services?${query}`),
      400,
      'invalid_request',
    )
  })
})

describe('PATCH /admin/services/{id}', () => {
  it('changes a service: 204, and the changes show', async () => {
    const created = await createService()
    const changes = {
      name: freshName(),
      kind: 'advertisement',
      required_parameters: ['destination', 'advertisement'],
      allowed_channels: ['fcm'],
      enabled: false,
    }
    const response = await adminCall(admin, 'PATCH', `/admin/services/${created.id}`, changes)
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    expect(await json(await readService(created.id))).toEqual({
      ...created,
      ...changes,
      updated_at: expect.stringMatching(ISO_TIME),
    })
  })

  it('changes only the fields sent', async () => {
    const created = await createService({ allowed_channels: ['sms'] })
    expect(
      (await adminCall(admin, 'PATCH', `/admin/services/${created.id}`, { enabled: false })).status,
    ).toBe(204)
    expect(await json(await readService(created.id))).toMatchObject({
      ...created,
      enabled: false,
      updated_at: expect.any(String),
    })
  })

  it('answers 409 conflict for a rename to another service’s name, and changes nothing', async () => {
    const [first, second] = await Promise.all([createService(), createService()])
    const response = await adminCall(admin, 'PATCH', `/admin/services/${second.id}`, {
      name: first.name,
      enabled: false,
    })
    await expectProblem(response, 409, 'conflict')
    expect(await json(await readService(second.id))).toEqual(second)
    // Its own name is no conflict.
    expect(
      (await adminCall(admin, 'PATCH', `/admin/services/${second.id}`, { name: second.name }))
        .status,
    ).toBe(204)
  })

  it('answers 404 for an unknown or non-numeric service', async () => {
    for (const id of [String(UNKNOWN_ID), 'abc', '0']) {
      await expectProblem(
        await adminCall(admin, 'PATCH', `/admin/services/${id}`, { enabled: false }),
        404,
        'not_found',
      )
    }
  })

  it.each([
    { case: 'an empty body', body: {} },
    { case: "the channel 'sat'", body: { allowed_channels: ['sms', 'sat'] } },
    { case: 'no allowed channel', body: { allowed_channels: [] } },
    { case: 'an unknown required parameter', body: { required_parameters: ['micropayment'] } },
    { case: 'an empty name', body: { name: '' } },
    { case: 'a new id', body: { id: 7 } },
    { case: 'enabled null', body: { enabled: null } },
  ])('answers 400 invalid_request for $case and changes nothing', async ({ body }) => {
    const created = await createService()
    const response = await adminCall(admin, 'PATCH', `/admin/services/${created.id}`, body)
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect((problem.errors as FieldError[]).length).toBeGreaterThan(0)
    expect(await json(await readService(created.id))).toEqual(created)
  })
})

describe('service changes as /Services sees them', () => {
  it('a disabled service answers 403 at /Services; enabled again, it sends', QUEUE, async () => {
    useStandIn()
    const sender = await createSender()
    const disable = await adminCall(admin, 'PATCH', `/admin/services/${sender.serviceId}`, {
      enabled: false,
    })
    expect(disable.status).toBe(204)
    await expectProblem(await dispatch(sender, smsRequest(sender)), 403, 'forbidden')
    const enable = await adminCall(admin, 'PATCH', `/admin/services/${sender.serviceId}`, {
      enabled: true,
    })
    expect(enable.status).toBe(204)
    const created = await json<{ id: string }>(await dispatch(sender, smsRequest(sender)), 201)
    expect((await settle(sender, created.id)).status).toBe('sent')
  })

  it('a narrower service refuses what it no longer allows', async () => {
    const sender = await createSender()
    const path = `/admin/services/${sender.serviceId}`
    expect((await adminCall(admin, 'PATCH', path, { allowed_channels: ['fcm'] })).status).toBe(204)
    await expectProblem(await dispatch(sender, smsRequest(sender)), 400, 'unsupported_channel')
    const changes = {
      allowed_channels: ['sms'],
      required_parameters: ['destination', 'advertisement'],
    }
    expect((await adminCall(admin, 'PATCH', path, changes)).status).toBe(204)
    const response = await dispatch(sender, smsRequest(sender))
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'parameters.advertisement' })])
  })
})

describe('DELETE /admin/services/{id}', () => {
  it('deletes a service no provider subscribes to: 204, then 404', async () => {
    const created = await createService()
    const response = await adminCall(admin, 'DELETE', `/admin/services/${created.id}`)
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    await expectProblem(await readService(created.id), 404, 'not_found')
    await expectProblem(
      await adminCall(admin, 'DELETE', `/admin/services/${created.id}`),
      404,
      'not_found',
    )
  })

  it('answers 409 while a provider subscribes, even after the subscription is revoked', async () => {
    const sender = await createSender()
    const path = `/admin/services/${sender.serviceId}`
    await expectProblem(await adminCall(admin, 'DELETE', path), 409, 'conflict')
    const revoke = await adminCall(
      admin,
      'DELETE',
      `/admin/providers/${sender.providerId}/subscriptions/${sender.serviceId}`,
    )
    expect(revoke.status).toBe(204)
    await expectProblem(await adminCall(admin, 'DELETE', path), 409, 'conflict')
    await json(await readService(sender.serviceId))
    // Once the provider is gone, with its subscriptions, the service can go too.
    expect(
      (await adminCall(admin, 'DELETE', `/admin/providers/${sender.providerId}?cascade=true`))
        .status,
    ).toBe(204)
    expect((await adminCall(admin, 'DELETE', path)).status).toBe(204)
  })

  it('answers 409 for a subscription made over the API', async () => {
    const service = await createService()
    const provider = await json<{ id: string }>(
      await adminCall(admin, 'POST', '/admin/providers', { name: freshName() }),
      201,
    )
    const subscribe = await adminCall(
      admin,
      'POST',
      `/admin/providers/${provider.id}/subscriptions`,
      { service_id: service.id },
    )
    expect(subscribe.status).toBe(201)
    await expectProblem(
      await adminCall(admin, 'DELETE', `/admin/services/${service.id}`),
      409,
      'conflict',
    )
  })

  it('answers 404 for an unknown or non-numeric service', async () => {
    for (const id of [String(UNKNOWN_ID), 'abc', '0']) {
      await expectProblem(
        await adminCall(admin, 'DELETE', `/admin/services/${id}`),
        404,
        'not_found',
      )
    }
  })
})

// 401, 403 and 405 on every route: test/routes/contract.test.ts. Here, that a refused change
// leaves the service as it was.
describe('the admin scope on every /admin/services route', () => {
  async function routes() {
    const service = await createService()
    const p = `/admin/services/${service.id}`
    return {
      service,
      list: [
        ['POST', '/admin/services', { name: freshName(), allowed_channels: ['sms'] }],
        ['PATCH', p, { enabled: false }],
        ['DELETE', p, undefined],
      ] as const,
    }
  }

  it('refuses changes to a token with every other scope, and changes nothing', async () => {
    const { service, list } = await routes()
    const everyOther = await createClient({
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
    expect(await json(await readService(service.id))).toEqual(service)
  })

  it('answers 404 in JSON under /admin/services for paths that do not exist', async () => {
    await expectProblem(
      await adminCall(admin, 'GET', '/admin/services/1/nothing'),
      404,
      'not_found',
    )
  })
})

describe('the audit trail of /admin/services', () => {
  async function events(target: string, count: number): Promise<AuditView[]> {
    const read = async () => {
      const page = await json<Page<AuditView>>(
        await adminCall(admin, 'GET', `/admin/audit?target=${target}&limit=100`),
      )
      return page.items
    }
    return eventually(read, (items) => items.length >= count)
  }

  it('records create, update and delete, and a refused create, with the admin as actor', async () => {
    const id = freshServiceId()
    const created = await createService({ id })
    const duplicate = await adminCall(admin, 'POST', '/admin/services', {
      id,
      name: freshName(),
      allowed_channels: ['sms'],
    })
    await expectProblem(duplicate, 409, 'conflict')
    expect(
      (await adminCall(admin, 'PATCH', `/admin/services/${id}`, { enabled: false })).status,
    ).toBe(204)
    expect((await adminCall(admin, 'DELETE', `/admin/services/${created.id}`)).status).toBe(204)
    const recorded = await events(String(id), 4)
    expect(recorded).toHaveLength(4)
    expect(recorded).toEqual(
      expect.arrayContaining(
        ['service.create', 'service.update', 'service.delete'].map((action) =>
          expect.objectContaining({
            action,
            outcome: 'success',
            actor: operator.clientId,
            target: String(id),
          }),
        ),
      ),
    )
    expect(recorded).toContainEqual(
      expect.objectContaining({
        action: 'service.create',
        outcome: 'failure',
        actor: operator.clientId,
        detail: expect.objectContaining({ status: 409 }),
      }),
    )
  })
})
