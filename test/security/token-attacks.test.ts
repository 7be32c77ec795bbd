// Hostile tokens at every endpoint that accepts one (decisions.md D5, SECURITY.md "Tokens"): each
// is refused with 401, or answered {"active":false} where introspection is asked about it.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { app } from '../../src/app.ts'
import { deleteTestClient, hostileTokens, signRaw, type Attack } from '../helpers/attacks.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { createSender, example001 } from '../helpers/dispatch.ts'
import { basicAuth, call, freshIp, postForm } from '../helpers/http.ts'
import { signToken, workerSigningKey } from '../helpers/keys.ts'
import { tokenFor } from '../helpers/tokens.ts'

type Target = {
  name: string
  send: (token: string) => Promise<Response>
  /** The envelope its errors come in: `ack` for Bridge, `error` for OAuth. */
  dialect: 'problem' | 'bridge' | 'oauth'
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const get = (path: string) => (token: string) => call(path, { headers: bearer(token) })
const send = (method: string, path: string, body: unknown) => (token: string) =>
  call(path, {
    method,
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

// The victim is a provider's client (send, recipients, introspect; not admin). The attacks try to
// act as it, or as more than it.
let victim: TestClient
let genuine: string
let attacks: Attack[]
let targets: Target[]
let auditor: TestClient

beforeAll(async () => {
  const sender = await createSender()
  victim = sender
  genuine = sender.token
  auditor = await createClient({ allowedScopes: ['tokens:introspect:any'] })
  // As the caller, the attack token authenticates; the token asked about is the genuine one.
  const form = { token: genuine, token_type_hint: 'access_token' }
  // A wrong service token: the genuine token gets 403 for it, so nothing is ever sent.
  const dispatch = { ...example001(sender), service_token: crypto.randomUUID() }
  const me = (header: string) => (token: string) =>
    call('/auth/me', {
      method: 'POST',
      headers: { [header]: header === 'authorization' ? `Bearer ${token}` : token },
    })
  targets = [
    { name: 'POST /auth/me (x-access-token)', dialect: 'bridge', send: me('x-access-token') },
    { name: 'POST /auth/me (Bearer)', dialect: 'bridge', send: me('authorization') },
    {
      name: 'POST /mcg/v1/tokeninfo as the caller',
      dialect: 'oauth',
      send: (t) => postForm('/mcg/v1/tokeninfo', form, bearer(t)),
    },
    {
      name: 'POST /oauth/introspect as the caller',
      dialect: 'oauth',
      send: (t) => postForm('/oauth/introspect', form, bearer(t)),
    },
    { name: 'POST /Services', dialect: 'problem', send: send('POST', '/Services', dispatch) },
    {
      name: 'GET /Services/messages/{id}',
      dialect: 'problem',
      send: get(`/Services/messages/${crypto.randomUUID()}`),
    },
    { name: 'GET /recipients', dialect: 'problem', send: get('/recipients') },
    { name: 'GET /recipients/{id}', dialect: 'problem', send: get(`/recipients/${sender.userId}`) },
    {
      name: 'PATCH /recipients/{id}',
      dialect: 'problem',
      send: send('PATCH', `/recipients/${sender.userId}`, { sms_opt_out: false }),
    },
    { name: 'GET /subscriptions', dialect: 'problem', send: get('/subscriptions') },
    { name: 'GET /admin/providers', dialect: 'problem', send: get('/admin/providers') },
    {
      name: 'POST /admin/providers',
      dialect: 'problem',
      send: send('POST', '/admin/providers', { name: 'Forged Inc.' }),
    },
    { name: 'GET /admin/clients', dialect: 'problem', send: get('/admin/clients') },
    {
      name: 'DELETE /admin/clients/{id}',
      dialect: 'problem',
      send: send('DELETE', `/admin/clients/${victim.clientId}`, {}),
    },
    { name: 'GET /admin/services', dialect: 'problem', send: get('/admin/services') },
    { name: 'GET /admin/audit', dialect: 'problem', send: get('/admin/audit') },
  ]
  attacks = await hostileTokens(genuine)
})

async function expectRefused(response: Response, target: Target, attack: Attack) {
  const label = `${target.name} with ${attack.name}`
  expect(response.status, label).toBe(401)
  const body = (await response.json()) as Record<string, unknown>
  expect(body.code, label).toMatch(/^(invalid_token|token_expired)$/)
  expect(typeof body.detail, label).toBe('string')
  expect(response.headers.get('www-authenticate'), label).toMatch(
    /^Bearer realm="portero", error="invalid_token"/,
  )
  if (target.dialect === 'bridge') expect([897, 898], label).toContain(body.ack)
  if (target.dialect === 'oauth') expect(body.error, label).toBe(body.code)
  // Nothing of the token's claims comes back: a refusal says why, not what it read.
  expect(JSON.stringify(body), label).not.toContain(victim.clientId)
}

describe('hostile tokens at every endpoint that takes one', () => {
  it('accepts the genuine token everywhere (past authentication), so each refusal below is the attack', async () => {
    for (const target of targets) {
      const response = await target.send(genuine)
      expect(response.status, target.name).not.toBe(401)
      expect(response.status, target.name).toBeLessThan(500)
      await response.body?.cancel()
    }
  })

  it('builds the attacks it claims to', () => {
    expect(attacks.length).toBeGreaterThanOrEqual(40)
    expect(new Set(attacks.map((a) => a.name)).size).toBe(attacks.length)
  })

  it(
    'refuses every attack at every endpoint with 401, without fetching a key from anywhere',
    { timeout: 60_000 },
    async () => {
      const fetchSpy = vi
        .spyOn(globalThis, 'fetch')
        .mockRejectedValue(new Error('no outbound fetch expected'))
      for (const target of targets) {
        for (const attack of attacks)
          await expectRefused(await target.send(attack.token), target, attack)
      }
      expect(fetchSpy).not.toHaveBeenCalled()
    },
  )

  it(
    'answers {"active":false} about every attack token, even to a caller who may see any token',
    { timeout: 30_000 },
    async () => {
      const authorization = basicAuth(auditor.clientId, auditor.clientSecret)
      for (const path of ['/mcg/v1/tokeninfo', '/oauth/introspect']) {
        const control = await postForm(path, { token: genuine }, { authorization })
        expect(await control.json()).toMatchObject({ active: true, client_id: victim.clientId })
        for (const attack of attacks) {
          // From a fresh address each: tokens that are not ours count against the caller there.
          const response = await postForm(
            path,
            { token: attack.token },
            { authorization, 'cf-connecting-ip': freshIp() },
          )
          if (attack.oversized) {
            // A 100 KB token makes a form body over the 16 KiB limit: refused before it is read.
            expect(response.status, attack.name).toBe(413)
            await response.body?.cancel()
            continue
          }
          expect(response.status, `${path} about ${attack.name}`).toBe(200)
          expect(await response.text(), `${path} about ${attack.name}`).toBe('{"active":false}')
        }
      }
    },
  )

  it('accepts a raw-signed token without crit, so the crit attack is refused for its header', async () => {
    const key = workerSigningKey()
    const token = await signRaw({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }, decodeJwt(genuine))
    expect(
      (await call('/auth/me', { method: 'POST', headers: { 'x-access-token': token } })).status,
    ).toBe(200)
  })
})

describe('the token of a deleted client', () => {
  it(
    'is refused everywhere and inactive to introspection, though it was cached as active',
    { timeout: 30_000 },
    async () => {
      const doomed = await createClient({
        providerId: victim.providerId,
        allowedScopes: ['services:send', 'recipients:manage', 'tokens:introspect', 'admin'],
      })
      const token = await tokenFor(doomed)
      const before = await call('/auth/me', {
        method: 'POST',
        headers: { 'x-access-token': token },
      })
      expect(before.status).toBe(200) // checked, so its active state is now cached in KV
      await before.body?.cancel()
      await deleteTestClient(doomed)
      const attack = { name: 'a deleted client', token }
      for (const target of targets) await expectRefused(await target.send(token), target, attack)
      const authorization = basicAuth(auditor.clientId, auditor.clientSecret)
      const answer = await postForm('/mcg/v1/tokeninfo', { token }, { authorization })
      expect(await answer.text()).toBe('{"active":false}')
    },
  )
})

/** The genuine token's claims changed by `change`, signed with the Worker's own key. */
async function resigned(change: (claims: Record<string, unknown>) => void): Promise<string> {
  const payload: Record<string, unknown> = { ...decodeJwt(genuine) }
  change(payload)
  return signToken(payload)
}

/** Refused with 401 at every endpoint, and {"active":false} to a caller who may see any token. */
async function expectRefusedEverywhere(attack: Attack) {
  for (const target of targets) await expectRefused(await target.send(attack.token), target, attack)
  const authorization = basicAuth(auditor.clientId, auditor.clientSecret)
  // From a fresh address: tokens that are not ours count against the caller there.
  const answer = await postForm(
    '/mcg/v1/tokeninfo',
    { token: attack.token },
    { authorization, 'cf-connecting-ip': freshIp() },
  )
  expect(await answer.text(), attack.name).toBe('{"active":false}')
}

describe('the claims every access token carries (RFC 9068 §2.2)', () => {
  const REQUIRED = ['iss', 'sub', 'aud', 'client_id', 'scope', 'jti', 'iat', 'exp', 'provider_id']

  it(
    'refuses a token without any one of them, everywhere, with 401 and never 500',
    { timeout: 30_000 },
    async () => {
      for (const claim of REQUIRED) {
        await expectRefusedEverywhere({
          name: `no ${claim}`,
          token: await resigned((c) => delete c[claim]),
        })
      }
    },
  )

  it(
    'refuses a claim of the wrong type, everywhere, with 401 and never 500',
    { timeout: 60_000 },
    async () => {
      const now = Math.floor(Date.now() / 1000)
      const wrong: [string, unknown][] = [
        ['scope', ['services:send']],
        ['scope', 42],
        ['scope', null],
        ['aud', 42],
        ['aud', []],
        ['aud', [42]],
        ['aud', [env.ISSUER, null]],
        ['aud', { 0: env.ISSUER }],
        ['aud', ''],
        ['aud', null],
        ['client_id', 42],
        ['client_id', null],
        ['sub', [victim.clientId]],
        ['jti', 42],
        ['jti', ''],
        ['iat', String(now)],
        ['iat', null],
        ['exp', String(now + 600)],
        ['nbf', String(now)],
        ['provider_id', Number(victim.providerId)],
        ['provider_id', [victim.providerId]],
      ]
      for (const [claim, value] of wrong) {
        const name = `${claim}: ${JSON.stringify(value)}`
        // sub follows client_id, so that a wrong client_id is refused for its type, not a mismatch.
        const token = await resigned((c) => {
          c[claim] = value
          if (claim === 'client_id') c.sub = value
        })
        await expectRefusedEverywhere({ name, token })
      }
    },
  )
})

describe('claims a leaked or misused key could abuse', () => {
  const now = () => Math.floor(Date.now() / 1000)

  it('refuses an iat an hour ahead although nbf and exp are fine', async () => {
    const token = await resigned((c) =>
      Object.assign(c, { iat: now() + 3600, nbf: now(), exp: now() + 3600 + 600 }),
    )
    await expectRefusedEverywhere({ name: 'iat an hour ahead', token })
  })

  it('refuses an iat just past the 30 s clock tolerance, and accepts one within it', async () => {
    const ahead = await resigned((c) =>
      Object.assign(c, { iat: now() + 45, nbf: now(), exp: now() + 600 }),
    )
    await expectRefusedEverywhere({ name: 'iat 45 s ahead', token: ahead })
    const skewed = await resigned((c) =>
      Object.assign(c, { iat: now() + 20, nbf: now(), exp: now() + 600 }),
    )
    const me = await call('/auth/me', { method: 'POST', headers: { 'x-access-token': skewed } })
    expect(me.status).toBe(200)
    await me.body?.cancel()
  })

  it('refuses an exp ten years ahead', async () => {
    const token = await resigned((c) =>
      Object.assign(c, { iat: now(), nbf: now(), exp: now() + 10 * 365 * 86400 }),
    )
    await expectRefusedEverywhere({ name: 'exp ten years ahead', token })
  })

  it('refuses a lifetime one second longer than the longest a client can have (86400 s)', async () => {
    const token = await resigned((c) =>
      Object.assign(c, { iat: now(), nbf: now(), exp: now() + 86401 }),
    )
    await expectRefusedEverywhere({ name: 'exp - iat = 86401', token })
  })

  it('accepts a token of the longest lifetime a client can have, issued through the token endpoint', async () => {
    const client = await createClient({ providerId: victim.providerId, tokenLifetime: 86400 })
    const token = await tokenFor(client)
    const { iat, exp } = decodeJwt(token)
    expect(exp! - iat!).toBe(86400)
    const me = await call('/auth/me', { method: 'POST', headers: { 'x-access-token': token } })
    expect(me.status).toBe(200)
    await me.body?.cancel()
  })

  it("refuses a sub that is not the token's client_id, either way round", async () => {
    const asOther = await resigned((c) => (c.sub = auditor.clientId))
    await expectRefusedEverywhere({ name: 'sub naming another client', token: asOther })
    // The other client's id as client_id and the victim's as sub: the standing lookup finds a
    // client.
    const forOther = await resigned((c) => (c.client_id = auditor.clientId))
    await expectRefusedEverywhere({ name: 'client_id naming another client', token: forOther })
  })

  // This one held before the claim checks (the token's client is looked up and not found); kept
  // so that it keeps holding.
  it('refuses a sub and client_id naming no client', async () => {
    const ghost = `ghost-${crypto.randomUUID()}`
    await expectRefusedEverywhere({
      name: 'a client that never existed',
      token: await resigned((c) => Object.assign(c, { sub: ghost, client_id: ghost })),
    })
  })
})

describe("the audience of Portero's own API (RFC 9068 §4, RFC 8707)", () => {
  const PARTNER = 'https://partner.example'
  // Every target authenticates its caller with the token it is given (decisions.md D17).
  const apiTargets = () => targets

  async function expectNotForThisApi(response: Response, label: string, target?: Target) {
    expect(response.status, label).toBe(401)
    const body = (await response.json()) as Record<string, unknown>
    expect(body.code, label).toBe('invalid_token')
    if (target?.dialect === 'bridge') expect(body.ack, label).toBe(898)
    expect(body.detail, label).toBe(
      `The access token was not issued for this API: its "aud" does not name ${env.ISSUER}.`,
    )
    expect(response.headers.get('www-authenticate'), label).toMatch(
      /^Bearer realm="portero", error="invalid_token", error_description="The access token was not issued for this API/,
    )
  }

  async function expectAccepted(response: Response, label: string) {
    expect(response.status, label).not.toBe(401)
    expect(response.status, label).toBeLessThan(500)
    await response.body?.cancel()
  }

  it('covers every route of the API among the targets', () => {
    const names = apiTargets().map((t) => t.name)
    const routes = ['POST /auth/me', 'POST /mcg/v1/tokeninfo', 'POST /oauth/introspect']
    routes.push('POST /Services', 'GET /recipients', 'GET /subscriptions', 'GET /admin/providers')
    for (const route of routes)
      expect(
        names.some((n) => n.startsWith(route)),
        route,
      ).toBe(true)
  })

  it(
    'refuses at every route that takes a caller token an aud that does not name Portero exactly; ' +
      'introspection still reports such a token as active',
    { timeout: 60_000 },
    async () => {
      const authorization = basicAuth(auditor.clientId, auditor.clientSecret)
      const near: (string | string[])[] = [
        PARTNER,
        [PARTNER, 'https://other.example'],
        `${env.ISSUER}/`, // a trailing slash
        env.ISSUER.replace('portero', 'Portero'), // another case
        env.ISSUER.toUpperCase(),
        `${env.ISSUER}.evil`, // a longer host
        env.ISSUER.slice(0, -1), // a prefix
        `${env.ISSUER}/api`,
        ` ${env.ISSUER}`,
        [`${env.ISSUER}/`, PARTNER],
      ]
      for (const aud of near) {
        const label = `aud ${JSON.stringify(aud)}`
        const token = await resigned((c) => (c.aud = aud))
        for (const target of apiTargets())
          await expectNotForThisApi(
            await target.send(token),
            `${target.name} with ${label}`,
            target,
          )
        // As the token asked about, any audience's token is judged on its validity: it is valid.
        const answer = await postForm(
          '/mcg/v1/tokeninfo',
          { token },
          { authorization, 'cf-connecting-ip': freshIp() },
        )
        expect(await answer.json(), label).toMatchObject({ active: true, aud })
      }
    },
  )

  it('accepts at every API route an aud array that names Portero among others', async () => {
    const token = await resigned((c) => (c.aud = [PARTNER, env.ISSUER]))
    for (const target of apiTargets()) await expectAccepted(await target.send(token), target.name)
  })

  it("refuses the token a client asks for its partner alone, and accepts the one naming Portero's API too", async () => {
    const client = await createClient({
      providerId: victim.providerId,
      allowedScopes: ['services:send', 'recipients:manage', 'tokens:introspect'],
      audiences: [PARTNER],
    })
    const both = await tokenFor(client)
    expect(decodeJwt(both).aud).toEqual([PARTNER, env.ISSUER])
    for (const path of ['/recipients', '/subscriptions']) {
      expect((await call(path, { headers: bearer(both) })).status, path).toBe(200)
    }

    const partnerOnly = await tokenFor(client, { audience: PARTNER })
    expect(decodeJwt(partnerOnly).aud).toBe(PARTNER)
    for (const target of apiTargets())
      await expectNotForThisApi(await target.send(partnerOnly), target.name, target)
  })

  it('names Portero beside the audiences of a client that only introspects', async () => {
    const client = await createClient({
      allowedScopes: ['tokens:introspect'],
      audiences: [PARTNER],
    })
    const token = await tokenFor(client)
    expect(decodeJwt(token).aud).toEqual([PARTNER, env.ISSUER])
    const answer = await postForm('/mcg/v1/tokeninfo', { token }, bearer(token))
    expect(await answer.json()).toMatchObject({ active: true, client_id: client.clientId })
  })
})

describe('API_RESOURCE set apart from ISSUER', () => {
  const RESOURCE = 'https://api.portero.test'
  // A Worker deployed with API_RESOURCE (a trailing slash is dropped, as from ISSUER).
  const apart: Env = { ...env, API_RESOURCE: `${RESOURCE}/` }

  async function requestApart(path: string, init: RequestInit) {
    const ctx = createExecutionContext()
    const response = await app.request(path, init, apart, ctx)
    await waitOnExecutionContext(ctx)
    return response
  }

  it(
    "issues tokens for the resource and refuses the issuer's at the API and at /auth/me",
    { timeout: 60_000 },
    async () => {
      const client = await createClient({
        providerId: victim.providerId,
        allowedScopes: ['recipients:manage'],
      })
      const form = new URLSearchParams({ grant_type: 'client_credentials' })
      const issued = await requestApart('/oauth/token', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(client.clientId, client.clientSecret),
        },
        body: form.toString(),
      })
      const { access_token: token } = (await issued.json()) as { access_token: string }
      expect(decodeJwt(token).aud).toBe(RESOURCE)
      expect((await requestApart('/recipients', { headers: bearer(token) })).status).toBe(200)
      // The same token at a Worker whose resource is its issuer, and the issuer's token here.
      expect((await call('/recipients', { headers: bearer(token) })).status).toBe(401)
      const refused = await requestApart('/recipients', { headers: bearer(genuine) })
      expect(refused.status).toBe(401)
      expect(((await refused.json()) as { detail: string }).detail).toContain(
        `does not name ${RESOURCE}.`,
      )
      expect(
        (await requestApart('/auth/me', { method: 'POST', headers: bearer(genuine) })).status,
      ).toBe(401)
      expect(
        (await requestApart('/auth/me', { method: 'POST', headers: bearer(token) })).status,
      ).toBe(200)
    },
  )
})
