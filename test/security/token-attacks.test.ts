// Hostile tokens at every endpoint that accepts one (SPEC 5, SECURITY.md "Tokens"): each is refused
// with 401, or answered {"active":false} where introspection is asked about it.
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { deleteTestClient, hostileTokens, signRaw, type Attack } from '../helpers/attacks.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { createSender, example001 } from '../helpers/dispatch.ts'
import { basicAuth, call, freshIp, postForm } from '../helpers/http.ts'
import { workerSigningKey } from '../helpers/keys.ts'
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
    call('/auth/me', { method: 'POST', headers: { [header]: header === 'authorization' ? `Bearer ${token}` : token } })
  targets = [
    { name: 'POST /auth/me (x-access-token)', dialect: 'bridge', send: me('x-access-token') },
    { name: 'POST /auth/me (Bearer)', dialect: 'bridge', send: me('authorization') },
    { name: 'POST /mcg/v1/tokeninfo as the caller', dialect: 'oauth', send: (t) => postForm('/mcg/v1/tokeninfo', form, bearer(t)) },
    { name: 'POST /oauth/introspect as the caller', dialect: 'oauth', send: (t) => postForm('/oauth/introspect', form, bearer(t)) },
    { name: 'POST /Services', dialect: 'problem', send: send('POST', '/Services', dispatch) },
    { name: 'GET /Services/messages/{id}', dialect: 'problem', send: get(`/Services/messages/${crypto.randomUUID()}`) },
    { name: 'GET /recipients', dialect: 'problem', send: get('/recipients') },
    { name: 'GET /recipients/{id}', dialect: 'problem', send: get(`/recipients/${sender.userId}`) },
    { name: 'PATCH /recipients/{id}', dialect: 'problem', send: send('PATCH', `/recipients/${sender.userId}`, { sms_opt_out: false }) },
    { name: 'GET /subscriptions', dialect: 'problem', send: get('/subscriptions') },
    { name: 'GET /admin/providers', dialect: 'problem', send: get('/admin/providers') },
    { name: 'POST /admin/providers', dialect: 'problem', send: send('POST', '/admin/providers', { name: 'Forged Inc.' }) },
    { name: 'GET /admin/clients', dialect: 'problem', send: get('/admin/clients') },
    { name: 'DELETE /admin/clients/{id}', dialect: 'problem', send: send('DELETE', `/admin/clients/${victim.clientId}`, {}) },
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
  expect(response.headers.get('www-authenticate'), label).toMatch(/^Bearer realm="portero", error="invalid_token"/)
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

  it('refuses every attack at every endpoint with 401, without fetching a key from anywhere', { timeout: 60_000 }, async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('no outbound fetch expected'))
    for (const target of targets) {
      for (const attack of attacks) await expectRefused(await target.send(attack.token), target, attack)
    }
    expect(fetchSpy).not.toHaveBeenCalled()
  })

  it('answers {"active":false} about every attack token, even to a caller who may see any token', { timeout: 30_000 }, async () => {
    const authorization = basicAuth(auditor.clientId, auditor.clientSecret)
    for (const path of ['/mcg/v1/tokeninfo', '/oauth/introspect']) {
      const control = await postForm(path, { token: genuine }, { authorization })
      expect(await control.json()).toMatchObject({ active: true, client_id: victim.clientId })
      for (const attack of attacks) {
        // From a fresh address each: tokens that are not ours count against the caller there.
        const response = await postForm(path, { token: attack.token }, { authorization, 'cf-connecting-ip': freshIp() })
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
  })

  it('accepts a raw-signed token without crit, so the crit attack is refused for its header', async () => {
    const key = workerSigningKey()
    const token = await signRaw({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }, decodeJwt(genuine))
    expect((await call('/auth/me', { method: 'POST', headers: { 'x-access-token': token } })).status).toBe(200)
  })
})

describe('the token of a deleted client', () => {
  it('is refused everywhere and inactive to introspection, though it was cached as active', { timeout: 30_000 }, async () => {
    const doomed = await createClient({
      providerId: victim.providerId,
      allowedScopes: ['services:send', 'recipients:manage', 'tokens:introspect', 'admin'],
    })
    const token = await tokenFor(doomed)
    const before = await call('/auth/me', { method: 'POST', headers: { 'x-access-token': token } })
    expect(before.status).toBe(200) // checked, so its active state is now cached in KV
    await before.body?.cancel()
    await deleteTestClient(doomed)
    const attack = { name: 'a deleted client', token }
    for (const target of targets) await expectRefused(await target.send(token), target, attack)
    const authorization = basicAuth(auditor.clientId, auditor.clientSecret)
    const answer = await postForm('/mcg/v1/tokeninfo', { token }, { authorization })
    expect(await answer.text()).toBe('{"active":false}')
  })
})
