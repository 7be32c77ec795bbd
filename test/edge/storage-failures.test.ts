// A storage failure on a hot path is the server's trouble, not the caller's: 503 with Retry-After
// in the route's own error shape, never a 500, and never an answer made up without the state.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { clientRecordKeys } from '../../src/storage/client-records.ts'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, freshIp, ORIGIN } from '../helpers/http.ts'
import { probe } from '../helpers/probe.ts'
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
