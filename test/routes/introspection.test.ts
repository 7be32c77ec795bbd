import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../src/encoding.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import {
  basicAuth,
  call,
  expectProblem,
  freshIp,
  inOneLimiterMinute,
  postForm,
} from '../helpers/http.ts'
import { claims, signToken } from '../helpers/keys.ts'
import { eventually, tokenFor } from '../helpers/tokens.ts'

const PATHS = ['/mcg/v1/tokeninfo', '/oauth/introspect']

function introspect(
  caller: string,
  token: string,
  path = PATHS[0]!,
  extra: Record<string, string> = {},
) {
  return postForm(path!, { token, ...extra }, { authorization: caller })
}

async function bearer(client: TestClient): Promise<string> {
  return `Bearer ${await tokenFor(client)}`
}

async function answer(response: Response): Promise<Record<string, unknown>> {
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  return (await response.json()) as Record<string, unknown>
}

describe.each(PATHS)('POST %s visibility (decisions.md D7)', (path) => {
  it('shows the owner its own token, with every RFC 7662 field and 001 ti', async () => {
    const owner = await createClient({ name: 'Clinica owner' })
    const token = await tokenFor(owner)
    const body = await answer(await introspect(`Bearer ${token}`, token, path))
    expect(body).toEqual({
      active: true,
      scope: 'services:send tokens:introspect',
      client_id: owner.clientId,
      username: 'Clinica owner',
      token_type: 'Bearer',
      exp: expect.any(Number),
      iat: expect.any(Number),
      nbf: expect.any(Number),
      sub: owner.clientId,
      aud: env.ISSUER,
      iss: env.ISSUER,
      jti: expect.any(String),
      ti: body.jti,
      provider_id: owner.providerId,
      gen: 0,
    })
  })

  it('shows a resource server named in aud the token', async () => {
    const server = await createClient({ allowedScopes: ['tokens:introspect'] })
    const owner = await createClient({ audiences: [server.clientId] })
    const token = await tokenFor(owner)
    expect(await answer(await introspect(await bearer(server), token, path))).toMatchObject({
      active: true,
      client_id: owner.clientId,
    })
  })

  it('shows a caller with the introspect-any scope any token', async () => {
    const auditor = await createClient({ allowedScopes: ['tokens:introspect:any'] })
    const token = await tokenFor(await createClient())
    expect(await answer(await introspect(await bearer(auditor), token, path))).toMatchObject({
      active: true,
    })
  })

  it('answers a stranger exactly as for an unknown token', async () => {
    const stranger = await createClient()
    const token = await tokenFor(await createClient())
    const foreign = await introspect(await bearer(stranger), token, path)
    const unknown = await introspect(await bearer(stranger), 'not-a-token', path)
    expect(await foreign.text()).toBe('{"active":false}')
    expect(await unknown.text()).toBe('{"active":false}')
    expect(foreign.headers.get('content-type')).toBe(unknown.headers.get('content-type'))
  })
})

describe('POST /mcg/v1/tokeninfo callers and requests', () => {
  it('accepts client credentials (client_secret_basic) as the caller', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const body = await answer(
      await introspect(basicAuth(owner.clientId, owner.clientSecret), token),
    )
    expect(body.active).toBe(true)
  })

  it('refuses wrong client credentials with 401 invalid_client', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const response = await postForm(
      '/mcg/v1/tokeninfo',
      { token },
      {
        authorization: basicAuth(owner.clientId, 'wrong'),
        'cf-connecting-ip': freshIp(),
      },
    )
    await expectProblem(response, 401, 'invalid_client', 'application/json')
  })

  it("works as document 001's request shows it, with an unknown token_type_hint ignored", async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const response = await call('/mcg/v1/tokeninfo', {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-type': 'application/x-www-form-urlencoded',
      },
      body: `token=${token}&token_type_hint=mac`,
    })
    expect(await answer(response)).toMatchObject({ active: true, ti: expect.any(String) })
  })

  it('answers 400 invalid_request naming token when it is missing', async () => {
    const owner = await createClient()
    const response = await postForm(
      '/mcg/v1/tokeninfo',
      { token_type_hint: 'access_token' },
      {
        authorization: await bearer(owner),
      },
    )
    const body = await expectProblem(response, 400, 'invalid_request', 'application/json')
    expect(body.errors).toEqual([{ path: 'token', message: 'token is required' }])
  })

  it('answers 405 with Allow for GET', async () => {
    const response = await call('/mcg/v1/tokeninfo')
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('POST, OPTIONS')
  })
})

describe('inactive tokens', () => {
  async function expectInactive(token: string) {
    const auditor = await createClient({ allowedScopes: ['tokens:introspect:any'] })
    expect(await (await introspect(await bearer(auditor), token)).text()).toBe('{"active":false}')
  }

  const now = () => Math.floor(Date.now() / 1000)

  it('is inactive once expired, even by a second', async () => {
    await expectInactive(
      await signToken(claims({ iat: now() - 120, nbf: now() - 120, exp: now() - 1 })),
    )
  })

  it('is inactive before nbf', async () => {
    await expectInactive(await signToken(claims({ nbf: now() + 3600 })))
  })

  it('is inactive with a bad signature', async () => {
    const token = await tokenFor(await createClient())
    const [header, payload, signature] = token.split('.')
    const flipped = (signature![0] === 'A' ? 'B' : 'A') + signature!.slice(1)
    await expectInactive(`${header}.${payload}.${flipped}`)
  })

  it('is inactive when signed by an unknown key', async () => {
    const { generateSigningKey } = await import('../../src/domain/signing-keys.ts')
    const stranger = await generateSigningKey('ES256')
    await expectInactive(await signToken(claims(), { key: stranger }))
  })

  it('is inactive once revoked by its owner, at once, and /auth/me agrees', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    expect(await answer(await introspect(`Bearer ${token}`, token))).toMatchObject({ active: true })

    const revoke = await postForm(
      '/oauth/revoke',
      { token },
      { authorization: basicAuth(owner.clientId, owner.clientSecret) },
    )
    expect(revoke.status).toBe(200)

    await expectInactive(token)
    const me = await call('/auth/me', { method: 'POST', headers: { 'x-access-token': token } })
    const body = await expectProblem(me, 401, 'invalid_token')
    expect(body.detail).toContain('revoked')
  })

  it('is inactive when its client was disabled after issuance', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    await expectActiveAndCached(token)
    const disable = await adminCall(
      await adminToken(),
      'PATCH',
      `/admin/clients/${owner.clientId}`,
      { status: 'disabled' },
    )
    expect(disable.status).toBe(204)
    await expectInactive(token)
  })

  it('is inactive when its client was deleted after issuance', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    await expectActiveAndCached(token)
    const removal = await adminCall(
      await adminToken(),
      'DELETE',
      `/admin/clients/${owner.clientId}`,
    )
    expect(removal.status).toBe(204)
    await expectInactive(token)
  })

  it('is inactive after the client revoked all its tokens, while new ones work', async () => {
    const owner = await createClient()
    const old = await tokenFor(owner)
    await expectActiveAndCached(old)
    await new Promise((resolve) => setTimeout(resolve, 1000)) // iat has one-second resolution
    const rotation = await adminCall(
      await adminToken(),
      'POST',
      `/admin/clients/${owner.clientId}/secret`,
      { revoke_tokens: true },
    )
    expect(rotation.status).toBe(200)
    owner.clientSecret = ((await rotation.json()) as { client_secret: string }).client_secret
    await expectInactive(old)
    const fresh = await tokenFor(owner)
    expect(await answer(await introspect(`Bearer ${fresh}`, fresh))).toMatchObject({ active: true })
  })
})

/** Every key of the KV namespace, page after page (KV lists at most 1000 at a time). */
async function listAllKeys(): Promise<string[]> {
  const names: string[] = []
  let cursor: string | undefined
  do {
    const page = await env.CACHE.list(cursor ? { cursor } : {})
    names.push(...page.keys.map((k) => k.name))
    cursor = page.list_complete ? undefined : page.cursor
  } while (cursor)
  return names
}

async function cacheEntry(token: string): Promise<string | null> {
  return env.CACHE.get(`token:${await sha256Hex(token)}`)
}

async function expectActiveAndCached(token: string) {
  expect(await answer(await introspect(`Bearer ${token}`, token))).toMatchObject({ active: true })
  expect(
    await eventually(
      () => cacheEntry(token),
      (v) => v !== null,
    ),
  ).not.toBeNull()
}

describe('the KV cache (decisions.md D8)', () => {
  it('is filled on a miss under the token hash, never the raw token', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    expect(await cacheEntry(token)).toBeNull()
    await expectActiveAndCached(token)
    const keys = await listAllKeys()
    // Every page is read: the other test files' entries push this one past the first 1000.
    expect(keys).toContain(`token:${await sha256Hex(token)}`)
    expect(keys.some((k) => k.includes(token) || k.includes(token.split('.')[2]!))).toBe(false)
    for (let i = 0; i < keys.length; i += 100) {
      const values = await env.CACHE.get(keys.slice(i, i + 100))
      expect([...values.values()].some((v) => v?.includes(token))).toBe(false)
    }
  })

  it('answers a hit without asking D1', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    await expectActiveAndCached(token)
    // Revoke behind the cache's back, in D1 only: a hit that asked D1 would see it.
    const { jti } = decodeJwt(token)
    await env.DB.prepare(
      'INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES (?1, ?2, ?3)',
    )
      .bind(jti, owner.clientId, Math.floor(Date.now() / 1000) + 3600)
      .run()
    expect(await answer(await introspect(`Bearer ${token}`, token))).toMatchObject({ active: true })
    // And once the client's record is gone from the edge, the cold path reads D1 and sees it.
    const hash = await sha256Hex(owner.clientId)
    await Promise.all([env.CACHE.delete(`client:${hash}`), env.CACHE.delete(`client-fill:${hash}`)])
    expect(
      await (await introspect(basicAuth(owner.clientId, owner.clientSecret), token)).text(),
    ).toBe('{"active":false}')
  })

  it('does not cache a token with less than KV’s 60 s minimum left, and still expires it', async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await signToken(claims({ exp: now + 30 }))
    const auditor = await createClient({ allowedScopes: ['tokens:introspect:any'] })
    const caller = await bearer(auditor)
    const body = await answer(await introspect(caller, token))
    // The token's client does not exist, so it is inactive; what matters is nothing was cached.
    expect(body).toEqual({ active: false })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await cacheEntry(token)).toBeNull()
  })
})

// SECURITY.md "Lockouts": a string that is not a Portero token counts as a failed attempt of the
// caller from its address, as a wrong secret does (wrangler.toml: 10 per caller and address).
describe.each(PATHS)('POST %s probing', (path) => {
  const PAIR_LIMIT = 10
  const SLOW = { timeout: 40_000 }
  const probe = (caller: string, ip: string, token = `not-a-token-${crypto.randomUUID()}`) =>
    postForm(path, { token }, { authorization: caller, 'cf-connecting-ip': ip })

  it(
    'answers 429 to a caller sending tokens that are not ours, from that address only',
    SLOW,
    inOneLimiterMinute(async () => {
      const prober = await createClient()
      const [proberAuth, otherAuth] = [await bearer(prober), await bearer(await createClient())]
      const ip = freshIp()
      for (let i = 0; i < PAIR_LIMIT; i++)
        expect(await (await probe(proberAuth, ip)).text()).toBe('{"active":false}')
      const refused = await probe(proberAuth, ip)
      await expectProblem(refused, 429, 'rate_limited', 'application/json')
      expect(refused.headers.get('retry-after')).toBe('60')
      await expectProblem(await probe(proberAuth, ip), 429, 'rate_limited', 'application/json')

      // Another caller from that address, and this caller from another, are answered as ever...
      expect(await (await probe(otherAuth, ip)).text()).toBe('{"active":false}')
      expect(await (await probe(proberAuth, freshIp())).text()).toBe('{"active":false}')
      // ...and so is a real token, even from the throttled pair.
      expect(await answer(await probe(proberAuth, ip, await tokenFor(prober)))).toMatchObject({
        active: true,
      })
    }),
  )

  it(
    'counts a caller authenticating with client credentials the same way',
    SLOW,
    inOneLimiterMinute(async () => {
      const prober = await createClient()
      const ip = freshIp()
      const auth = basicAuth(prober.clientId, prober.clientSecret)
      for (let i = 0; i < PAIR_LIMIT; i++) expect((await probe(auth, ip)).status).toBe(200)
      await expectProblem(await probe(auth, ip), 429, 'rate_limited', 'application/json')
    }),
  )

  it(
    'does not count real tokens that expired or were revoked',
    SLOW,
    inOneLimiterMinute(async () => {
      const caller = await bearer(await createClient({ allowedScopes: ['tokens:introspect:any'] }))
      const owner = await createClient()
      const revoked = await tokenFor(owner)
      expect(
        (
          await postForm(
            '/oauth/revoke',
            { token: revoked },
            { authorization: basicAuth(owner.clientId, owner.clientSecret) },
          )
        ).status,
      ).toBe(200)
      const now = Math.floor(Date.now() / 1000)
      const expired = await signToken(claims({ iat: now - 120, nbf: now - 120, exp: now - 60 }))
      const ip = freshIp()
      for (let i = 0; i < PAIR_LIMIT + 2; i++) {
        expect(await (await probe(caller, ip, i % 2 ? revoked : expired)).text()).toBe(
          '{"active":false}',
        )
      }
    }),
  )
})
