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
