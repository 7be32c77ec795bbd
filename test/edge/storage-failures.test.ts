// A storage failure on a hot path is the server's trouble, not the caller's: 503 with Retry-After
// in the route's own error shape, never a 500, and never an answer made up without the state.
import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { clientRecordKeys } from '../../src/storage/client-records.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { basicAuth, freshIp, ORIGIN } from '../helpers/http.ts'
import { probe } from '../helpers/probe.ts'
import { expectActive, expectInactive } from '../helpers/token-state.ts'
import { tokenFor } from '../helpers/tokens.ts'

/** The test env with one binding's every call failing, as an unreachable KV or D1 would. */
function failing(binding: 'CACHE' | 'DB'): Env {
  const broken = new Proxy(env[binding], {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown
      if (typeof value !== 'function') return value
      return () => {
        throw new Error(`${binding} is unreachable`)
      }
    },
  })
  return { ...env, [binding]: broken }
}

async function expectUnavailable({ response, body }: { response: Response; body: string }) {
  expect(response.status).toBe(503)
  expect(response.headers.get('retry-after')).toBe('1')
  expect(JSON.parse(body)).toMatchObject({ code: 'temporarily_unavailable' })
  expect(body).not.toMatch(/unreachable|Error/)
}

const tokenRequest = (clientId: string, secret: string) =>
  new Request(`${ORIGIN}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(clientId, secret),
      'cf-connecting-ip': freshIp(),
    },
    body: 'grant_type=client_credentials',
  })

describe('storage failures on the hot paths', () => {
  it('POST /auth/me answers 503 when KV fails', async () => {
    const token = await tokenFor(await createClient())
    const request = new Request(`${ORIGIN}/auth/me`, {
      method: 'POST',
      headers: { 'x-access-token': token },
    })
    await expectUnavailable(await probe(request, failing('CACHE')))
  })

  it('POST /oauth/token answers 503 when KV fails', async () => {
    const client = await createClient()
    await expectUnavailable(
      await probe(tokenRequest(client.clientId, client.clientSecret), failing('CACHE')),
    )
  })

  it('POST /oauth/token answers 503 when D1 fails for a client not at the edge', async () => {
    const client = await createClient()
    await expectUnavailable(
      await probe(tokenRequest(client.clientId, client.clientSecret), failing('DB')),
    )
  })

  it('POST /mcg/v1/tokeninfo answers 503, not {"active":false}, when D1 fails for a cold subject', async () => {
    const caller = await tokenFor(await createClient())
    // Warm: the caller's own check needs no D1.
    const warm = await probe(
      new Request(`${ORIGIN}/auth/me`, { method: 'POST', headers: { 'x-access-token': caller } }),
      env,
    )
    expect(warm.response.status).toBe(200)
    const owner = await createClient()
    const subject = await tokenFor(owner)
    // Cold: whatever the login filled at the edge for the subject's client is gone.
    const keys = (await clientRecordKeys(owner.clientId))!
    await Promise.all([env.CACHE.delete(keys.published), env.CACHE.delete(keys.filled)])
    const request = new Request(`${ORIGIN}/mcg/v1/tokeninfo`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Bearer ${caller}`,
      },
      body: new URLSearchParams({ token: subject }).toString(),
    })
    await expectUnavailable(await probe(request, failing('DB')))
  })
})

describe('KV refusing a second write to one key within a second', () => {
  it('an admin change still reaches the edge: its record is written once KV takes it', async () => {
    const operator = await createClient({ providerId: null, allowedScopes: ['admin'] })
    const admin = await tokenFor(operator)
    const client = await createClient()
    const published = (await clientRecordKeys(client.clientId))!.published
    // The real KV, answering the first write of the client's record as KV does a second write to
    // a key within a second.
    let refused = 0
    const throttled = new Proxy(env.CACHE, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as (...args: unknown[]) => unknown
        if (prop !== 'put') return typeof value === 'function' ? value.bind(target) : value
        return (key: string, ...rest: unknown[]) => {
          if (key === published && refused++ === 0) {
            throw new Error('KV PUT failed: 429 Too Many Requests')
          }
          return value.call(target, key, ...rest)
        }
      },
    })
    const disable = new Request(`${ORIGIN}/admin/clients/${client.clientId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'disabled' }),
    })
    const { response } = await probe(disable, { ...env, CACHE: throttled })
    expect(response.status).toBe(204)
    expect(refused).toBe(2) // refused once, then written
    const record = await env.CACHE.get<{ client: { status: string } }>(published, 'json')
    expect(record?.client.status).toBe('disabled')
    const login = await probe(tokenRequest(client.clientId, client.clientSecret))
    expect(login.response.status).toBe(401)
  })
})

/** The test env with KV refusing every write of `key`, as a KV outage during a publish would. */
function refusingWritesOf(key: string): Env {
  const cache = new Proxy(env.CACHE, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as (...args: unknown[]) => unknown
      if (prop !== 'put') return typeof value === 'function' ? value.bind(target) : value
      return (written: string, ...rest: unknown[]) => {
        if (written === key) throw new Error('KV PUT failed: 500 Internal Server Error')
        return value.call(target, written, ...rest)
      }
    },
  })
  return { ...env, CACHE: cache }
}

function adminRequest(admin: string, method: string, path: string, body?: unknown): Request {
  return new Request(`${ORIGIN}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${admin}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

/** A client whose record an admin change has published, with a token it holds. */
async function publishedClient(admin: string): Promise<{ client: TestClient; token: string }> {
  const client = await createClient()
  const rename = await adminCall(admin, 'PATCH', `/admin/clients/${client.clientId}`, {
    name: `published ${crypto.randomUUID()}`,
  })
  expect(rename.status).toBe(204)
  return { client, token: await tokenFor(client) }
}

function runScheduledJob(): Promise<void> {
  const controller = createScheduledController({ scheduledTime: new Date(), cron: '*/5 * * * *' })
  return worker.scheduled(controller, env)
}

describe('an admin change KV refuses to publish (decisions.md D35)', () => {
  it('disable: 503 saying the change is stored, then refused everywhere after the next run', async () => {
    const admin = await adminToken()
    const { client, token } = await publishedClient(admin)
    const published = (await clientRecordKeys(client.clientId))!.published

    const path = `/admin/clients/${client.clientId}`
    const { response, body } = await probe(
      adminRequest(admin, 'PATCH', path, { status: 'disabled' }),
      refusingWritesOf(published),
    )
    expect(response.status).toBe(503)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    const problem = JSON.parse(body) as { code: string; detail: string }
    expect(problem.code).toBe('temporarily_unavailable')
    expect(problem.detail).toMatch(/stored/)
    expect(body).not.toMatch(/KV PUT failed|Error/)
    // D1 has the change; the edge still holds the old record.
    const read = await adminCall(admin, 'GET', path)
    expect(((await read.json()) as { status: string }).status).toBe('disabled')
    await expectActive(token)

    await runScheduledJob()
    await expectInactive(token)
    const login = await probe(tokenRequest(client.clientId, client.clientSecret))
    expect(login.response.status).toBe(401)
    const record = await env.CACHE.get<{ client: { status: string } }>(published, 'json')
    expect(record?.client.status).toBe('disabled')
  })

  it('delete: the "no such client" record is published by the next run', async () => {
    const admin = await adminToken()
    const { client, token } = await publishedClient(admin)
    const published = (await clientRecordKeys(client.clientId))!.published

    const { response } = await probe(
      adminRequest(admin, 'DELETE', `/admin/clients/${client.clientId}`),
      refusingWritesOf(published),
    )
    expect(response.status).toBe(503)
    await expectActive(token)

    await runScheduledJob()
    await expectInactive(token)
    const record = await env.CACHE.get<{ client: unknown; tokensValidAfter: number }>(
      published,
      'json',
    )
    expect(record?.client).toBeNull()
    expect(record?.tokensValidAfter).toBeGreaterThan(0)
  })

  it('a D1 failure after the change is written: 503, and the next run publishes it', async () => {
    const admin = await adminToken()
    const { client } = await publishedClient(admin)
    const published = (await clientRecordKeys(client.clientId))!.published
    // D1 takes the first batch (the mark before the change) and the change, then fails.
    let batches = 0
    const db = new Proxy(env.DB, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as (...args: unknown[]) => unknown
        if (prop !== 'batch') return typeof value === 'function' ? value.bind(target) : value
        return (...args: unknown[]) => {
          if (++batches > 1) throw new Error('D1_ERROR: the database is unreachable')
          return value.apply(target, args)
        }
      },
    })
    const name = `renamed ${crypto.randomUUID()}`
    const { response, body } = await probe(
      adminRequest(admin, 'PATCH', `/admin/clients/${client.clientId}`, { name }),
      { ...env, DB: db },
    )
    expect(response.status).toBe(503)
    expect(JSON.parse(body)).toMatchObject({ code: 'temporarily_unavailable' })
    expect(body).not.toMatch(/D1_ERROR/)

    await runScheduledJob()
    const record = await env.CACHE.get<{ client: { name: string } }>(published, 'json')
    expect(record?.client.name).toBe(name)
  })

  it('an admin change racing the run is not overwritten by the run’s older record', async () => {
    const admin = await adminToken()
    const { client } = await publishedClient(admin)
    const published = (await clientRecordKeys(client.clientId))!.published
    const path = `/admin/clients/${client.clientId}`
    const refused = await probe(
      adminRequest(admin, 'PATCH', path, { status: 'disabled' }),
      refusingWritesOf(published),
    )
    expect(refused.response.status).toBe(503)

    // The run read "disabled" from D1; before its write lands, an operator enables the client
    // again, and that change's record is written first.
    let raced = false
    const cache = new Proxy(env.CACHE, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as (...args: unknown[]) => unknown
        if (prop !== 'put') return typeof value === 'function' ? value.bind(target) : value
        return async (key: string, ...rest: unknown[]) => {
          if (key === published && !raced) {
            raced = true
            expect((await adminCall(admin, 'PATCH', path, { status: 'active' })).status).toBe(204)
          }
          return value.call(target, key, ...rest)
        }
      },
    })
    const controller = createScheduledController({ scheduledTime: new Date(), cron: '*/5 * * * *' })
    await worker.scheduled(controller, { ...env, CACHE: cache })
    expect(raced).toBe(true)
    const record = await env.CACHE.get<{ client: { status: string } }>(published, 'json')
    expect(record?.client.status).toBe('active')
  })

  it('a published record is not written again by the next run', async () => {
    const admin = await adminToken()
    const { client } = await publishedClient(admin)
    const published = (await clientRecordKeys(client.clientId))!.published
    // Anything the run would write now would be this stand-in's to overwrite.
    await env.CACHE.put(published, JSON.stringify({ client: null, tokensValidAfter: 1 }))
    await runScheduledJob()
    expect(await env.CACHE.get(published, 'json')).toEqual({ client: null, tokensValidAfter: 1 })
    await env.CACHE.delete(published)
  })
})
