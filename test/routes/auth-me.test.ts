import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { app } from '../../src/app.ts'
import { generateSigningKey } from '../../src/domain/signing-keys.ts'
import { tokenCacheKey, tokenHash } from '../../src/storage/token-cache.ts'
import { attackerKey, withPayload } from '../helpers/attacks.ts'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, call, expectProblem, postJson } from '../helpers/http.ts'
import {
  base64Url,
  claims,
  publicJwk,
  signToken,
  workerSigningKey,
  type TestKey,
} from '../helpers/keys.ts'

// Every token here is issued and checked at this instant: the route reads `new Date()` in the same
// isolate, so faking Date fixes both sides and the clock-tolerance edges are exact.
const NOW = new Date('2026-03-01T12:00:00Z')
const NOW_SECONDS = NOW.getTime() / 1000

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: NOW })
})

afterEach(() => {
  vi.useRealTimers()
})

function postMe(headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
  return call('/auth/me', { method: 'POST', headers, ...init })
}

async function loginToken(): Promise<string> {
  const { clientId, clientSecret } = await createClient()
  const response = await postJson('/auth/login', { clientId, clientSecret })
  expect(response.status).toBe(200)
  return ((await response.json()) as { token: string }).token
}

/** A 401 in the Bridge dialect with the RFC 6750 challenge for a bad token. */
async function expectRefused(response: Response, code = 'invalid_token', ack = 898) {
  const body = await expectProblem(response, 401, code)
  expect(body.ack).toBe(ack)
  expect(response.headers.get('www-authenticate')).toMatch(
    /^Bearer realm="portero", error="invalid_token", error_description="[^"]+"$/,
  )
  return body
}

/** Claims of an existing, active client: a refusal then comes only from the defect under test. */
async function ownClaims(overrides: JWTPayload = {}): Promise<JWTPayload> {
  const { clientId } = await createClient()
  return claims({ sub: clientId, client_id: clientId, ...overrides })
}

/** iat and nbf `start` seconds from NOW, exp `end` seconds from NOW. */
function validity(start: number, end: number): JWTPayload {
  return { iat: NOW_SECONDS + start, nbf: NOW_SECONDS + start, exp: NOW_SECONDS + end }
}

const BAD_SIGNATURE = /malformed or its signature is not valid/
const FOREIGN_KEY = /not signed by a key of this issuer/

describe('POST /auth/me, valid tokens', () => {
  it('answers {ack: 0, active: true, ...claims} for a login token in x-access-token', async () => {
    const token = await loginToken()
    const response = await postMe({ 'x-access-token': token })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = await response.json()
    expect(body).toEqual({ ack: 0, active: true, ...decodeJwt(token) })
    expect(body).toMatchObject({ iss: env.ISSUER, iat: NOW_SECONDS, exp: NOW_SECONDS + 3600 })
  })

  it('accepts the same token as Authorization: Bearer', async () => {
    const token = await loginToken()
    const response = await postMe({ authorization: `Bearer ${token}` })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ack: 0, active: true, ...decodeJwt(token) })
  })

  it('accepts the same token in both headers', async () => {
    const token = await loginToken()
    const response = await postMe({ 'x-access-token': token, authorization: `Bearer ${token}` })
    expect(response.status).toBe(200)
  })

  it('accepts the request exactly as document 003 sends it (curl --data-raw "")', async () => {
    const token = await loginToken()
    const response = await postMe(
      { 'x-access-token': token, 'content-type': 'application/x-www-form-urlencoded' },
      { body: '' },
    )
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ ack: 0, active: true })
  })

  it('accepts a token signed with the worker key for an existing client', async () => {
    const payload = await ownClaims()
    const response = await postMe({ 'x-access-token': await signToken(payload) })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ack: 0, active: true, ...payload })
  })

  it('accepts a token whose nbf is less than the 30 s clock tolerance ahead', async () => {
    const token = await signToken(await ownClaims({ nbf: NOW_SECONDS + 29 }))
    expect((await postMe({ 'x-access-token': token })).status).toBe(200)
  })

  it('accepts a token until its last second', async () => {
    const token = await signToken(await ownClaims(validity(-600, 1)))
    expect((await postMe({ 'x-access-token': token })).status).toBe(200)
  })
})

describe('POST /auth/me, missing or ambiguous token', () => {
  it('answers 401 token_missing with ack 896 when no token is sent', async () => {
    const response = await postMe()
    const body = await expectProblem(response, 401, 'token_missing')
    expect(body.ack).toBe(896)
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="portero"')
  })

  it('answers 401 token_missing for an empty x-access-token', async () => {
    const body = await expectProblem(await postMe({ 'x-access-token': '  ' }), 401, 'token_missing')
    expect(body.ack).toBe(896)
  })

  it('answers 401 token_missing when only Authorization: Basic is sent', async () => {
    const response = await postMe({ authorization: basicAuth('client', 'secret') })
    const body = await expectProblem(response, 401, 'token_missing')
    expect(body.ack).toBe(896)
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="portero"')
  })

  it('answers 400 when the two headers carry different tokens', async () => {
    const [a, b] = await Promise.all([signToken(await ownClaims()), signToken(await ownClaims())])
    const response = await postMe({ 'x-access-token': a, authorization: `Bearer ${b}` })
    await expectProblem(response, 400, 'invalid_request')
  })
})

describe('POST /auth/me, malformed tokens', () => {
  it.each([
    ['a word', 'abc'],
    ['three dots of nothing', 'a.b.c'],
    ['two segments', 'eyJhbGciOiJFUzI1NiJ9.e30'],
    ['four segments', 'a.b.c.d'],
  ])('answers 401 invalid_token with ack 898 for %s', async (_, token) => {
    await expectRefused(await postMe({ 'x-access-token': token }))
  })

  it('refuses a truncated token', async () => {
    const token = await loginToken()
    await expectRefused(await postMe({ 'x-access-token': token.slice(0, -4) }))
    await expectRefused(await postMe({ 'x-access-token': token.slice(0, token.lastIndexOf('.')) }))
    await expectRefused(await postMe({ 'x-access-token': token.slice(0, token.length / 2) }))
  })

  it.each(['=', '==', '%3D'])('refuses a token with %s appended', async (padding) => {
    const token = await loginToken()
    await expectRefused(await postMe({ 'x-access-token': token + padding }))
    await expectRefused(await postMe({ authorization: `Bearer ${token}${padding}` }))
    // The unpadded token is still good: only the padded spelling was refused.
    expect((await postMe({ 'x-access-token': token })).status).toBe(200)
  })

  it('refuses a signature whose last character sets bits that encode nothing', async () => {
    const token = await loginToken()
    // 64 signature bytes are 86 base64url characters; the last one carries 2 bits and 4 zero bits.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(token.at(-1)!)
    expect(last % 16).toBe(0)
    const respelled = token.slice(0, -1) + alphabet[last + 1]
    await expectRefused(await postMe({ 'x-access-token': respelled }))
  })

  it('refuses a token whose payload was changed after signing', async () => {
    const token = await loginToken()
    const forged = withPayload(token, (payload) => {
      payload.scope = 'admin'
    })
    const body = await expectRefused(await postMe({ 'x-access-token': forged }))
    expect(body.detail).toMatch(BAD_SIGNATURE)
  })

  it('refuses a token whose signature is 64 zero bytes (CVE-2022-21449)', async () => {
    const token = await signToken(await ownClaims())
    const [header, payload] = token.split('.')
    const zeros = base64url.encode(new Uint8Array(64))
    const forged = `${header}.${payload}.${zeros}`
    const body = await expectRefused(await postMe({ 'x-access-token': forged }))
    expect(body.detail).toMatch(BAD_SIGNATURE)
  })

  it('answers 401 invalid_token, not 500, for a 100 KB token', async () => {
    const big = await signToken(await ownClaims({ filler: 'x'.repeat(100 * 1024) }))
    expect(big.length).toBeGreaterThan(100 * 1024)
    await expectRefused(await postMe({ 'x-access-token': big }))
    await expectRefused(await postMe({ authorization: `Bearer ${big}` }))
    await expectRefused(await postMe({ 'x-access-token': 'a'.repeat(100 * 1024) }))
  })
})

describe('POST /auth/me, expiry and validity window', () => {
  it('answers 401 token_expired with ack 897 for an expired token', async () => {
    const token = await signToken(await ownClaims(validity(-7200, -3600)))
    const response = await postMe({ 'x-access-token': token })
    const body = await expectRefused(response, 'token_expired', 897)
    expect(body.detail).toMatch(/expired/)
  })

  // tokens.ts: the clock tolerance covers nbf and iat only; Portero's own clock decides exp, so a
  // token is expired from its exp second on (RFC 7519 §4.1.4) and /auth/me never says active
  // with an exp in the past.
  it.each([0, 1, 29, 31])('answers token_expired %i s after exp', async (ago) => {
    const token = await signToken(await ownClaims(validity(-600, -ago)))
    await expectRefused(await postMe({ 'x-access-token': token }), 'token_expired', 897)
  })

  it('answers token_expired for a login token once its lifetime is over, its claims cached in KV', async () => {
    const token = await loginToken()
    expect((await postMe({ 'x-access-token': token })).status).toBe(200)
    // The check fills the cache after its response: wait until KV holds the claims, so the next
    // check reads them instead of verifying the token again.
    const key = tokenCacheKey(await tokenHash(token))
    let cached: string | null = null
    for (let tries = 0; tries < 500 && cached === null; tries++) {
      cached = await env.CACHE.get(key)
      if (cached === null) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(JSON.parse(cached!)).toMatchObject({ claims: { exp: decodeJwt(token).exp } })
    vi.setSystemTime(NOW.getTime() + 3600 * 1000)
    // KV keeps the entry (its TTL runs on KV's own clock): only the entry's exp can refuse it.
    expect(await env.CACHE.get(key)).not.toBeNull()
    await expectRefused(await postMe({ 'x-access-token': token }), 'token_expired', 897)
  })

  it('answers 401 invalid_token for a token not valid for another hour', async () => {
    const token = await signToken(await ownClaims(validity(3600, 7200)))
    const body = await expectRefused(await postMe({ 'x-access-token': token }))
    expect(body.detail).toMatch(/not valid yet/)
  })

  it('answers invalid_token once nbf is more than the 30 s tolerance ahead', async () => {
    const token = await signToken(await ownClaims({ nbf: NOW_SECONDS + 31 }))
    const body = await expectRefused(await postMe({ 'x-access-token': token }))
    expect(body.detail).toMatch(/not valid yet/)
  })
})

describe('POST /auth/me, tokens this issuer did not sign', () => {
  it('refuses a token from another issuer', async () => {
    const token = await signToken(await ownClaims({ iss: 'https://evil.example' }))
    const body = await expectRefused(await postMe({ 'x-access-token': token }))
    expect(body.detail).toMatch(/"iss"/)
  })

  it.each(['JWT', 'jwt', undefined])('refuses a token with typ %s', async (typ) => {
    const token = await signToken(await ownClaims(), { header: { typ } })
    const body = await expectRefused(await postMe({ 'x-access-token': token }))
    expect(body.detail).toMatch(/"typ"/)
  })

  it('refuses a token signed by an unknown kid', async () => {
    const token = await signToken(await ownClaims(), { key: await attackerKey('made-up-kid') })
    const body = await expectRefused(await postMe({ 'x-access-token': token }))
    expect(body.detail).toMatch(FOREIGN_KEY)
  })

  it('refuses a token without kid', async () => {
    const token = await signToken(await ownClaims(), { header: { kid: undefined } })
    const body = await expectRefused(await postMe({ 'x-access-token': token }))
    expect(body.detail).toMatch(FOREIGN_KEY)
  })

  it('refuses an alg: none token', async () => {
    const { kid } = workerSigningKey()
    const payload = base64Url(await ownClaims())
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${base64Url({ alg, kid, typ: 'at+jwt' })}.${payload}.`
      await expectRefused(await postMe({ 'x-access-token': token }))
    }
  })

  it("refuses HS256 tokens keyed with the worker's public key (key confusion)", async () => {
    const key = workerSigningKey()
    const x = base64url.decode(key.x!)
    const y = base64url.decode(key.y!)
    const secrets = [
      new TextEncoder().encode(JSON.stringify(publicJwk(key))),
      new TextEncoder().encode(JSON.stringify({ kty: key.kty, crv: key.crv, x: key.x, y: key.y })),
      new Uint8Array([...x, ...y]),
      new Uint8Array([0x04, ...x, ...y]),
    ]
    const payload = await ownClaims()
    for (const secret of secrets) {
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' })
        .sign(secret)
      await expectRefused(await postMe({ 'x-access-token': token }))
    }
  })

  it('refuses a token whose header names another alg for a known kid', async () => {
    const key = workerSigningKey()
    const [, payload, signature] = (await signToken(await ownClaims())).split('.')
    for (const alg of ['ES384', 'EdDSA', 'PS256']) {
      const header = base64Url({ alg, kid: key.kid, typ: 'at+jwt' })
      await expectRefused(await postMe({ 'x-access-token': `${header}.${payload}.${signature}` }))
    }
  })

  it.each([
    ["the worker's kid", () => workerSigningKey().kid],
    ['a new kid', () => `attacker-${crypto.randomUUID()}`],
  ])(
    'ignores keys and key URLs in the header (jwk, jku, x5u) with %s, without fetching',
    async (_, kid) => {
      const attacker = await attackerKey(kid())
      const embedded = publicJwk(attacker)
      const jku = 'https://attacker.example/jwks.json'
      const x5u = 'https://attacker.example/cert.pem'
      const headers = [{ jwk: embedded }, { jku }, { x5u }, { jwk: embedded, jku, x5u }]
      const payload = await ownClaims()
      const tokens = await Promise.all(
        headers.map((header) => signToken(payload, { key: attacker, header })),
      )
      const fetchSpy = vi
        .spyOn(globalThis, 'fetch')
        .mockRejectedValue(new Error('no outbound fetch expected'))
      for (const token of tokens) {
        await expectRefused(await postMe({ 'x-access-token': token }))
      }
      expect(fetchSpy).not.toHaveBeenCalled()
    },
  )
})

describe('POST /auth/me, key rotation', () => {
  // A Worker whose SIGNING_KEYS secret was changed: loadConfig parses each env object on its own.
  function rotatedEnv(keys: TestKey[]): Env {
    return { ...env, SIGNING_KEYS: JSON.stringify({ keys }) }
  }

  async function requestWith(environment: Env, path: string, init: RequestInit = {}) {
    const ctx = createExecutionContext()
    const response = await app.request(path, init, environment, ctx)
    await waitOnExecutionContext(ctx)
    return response
  }

  function postMeWith(environment: Env, token: string): Promise<Response> {
    const init = { method: 'POST', headers: { 'x-access-token': token } }
    return requestWith(environment, '/auth/me', init)
  }

  function currentKeys(): TestKey[] {
    return (JSON.parse(env.SIGNING_KEYS) as { keys: TestKey[] }).keys
  }

  it('keeps old tokens valid after a key is appended and signs new ones with it', async () => {
    const oldToken = await loginToken()
    const newKey = (await generateSigningKey('ES256', NOW)) as TestKey
    const rotated = rotatedEnv([...currentKeys(), newKey])

    const old = await postMeWith(rotated, oldToken)
    expect(old.status).toBe(200)
    expect(await old.json()).toEqual({ ack: 0, active: true, ...decodeJwt(oldToken) })

    const { clientId, clientSecret } = await createClient()
    const login = await requestWith(rotated, '/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId, clientSecret }),
    })
    expect(login.status).toBe(200)
    const { token: newToken } = (await login.json()) as { token: string }
    expect(decodeProtectedHeader(newToken).kid).toBe(newKey.kid)

    // A Worker without the new key refuses the new token rather than trusting its header.
    await expectRefused(await postMe({ 'x-access-token': newToken }))

    const fresh = await postMeWith(rotated, newToken)
    expect(fresh.status).toBe(200)
    expect(await fresh.json()).toMatchObject({ ack: 0, active: true, client_id: clientId })
  })

  it('publishes both keys while they overlap', async () => {
    const newKey = (await generateSigningKey('EdDSA', NOW)) as TestKey
    const rotated = rotatedEnv([...currentKeys(), newKey])
    const response = await requestWith(rotated, '/.well-known/jwks.json')
    const { keys } = (await response.json()) as { keys: { kid: string }[] }
    expect(keys.map((k) => k.kid)).toEqual([...currentKeys().map((k) => k.kid), newKey.kid])
  })

  it('refuses a token signed by a key that has been removed from the set', async () => {
    const oldToken = await loginToken()
    const newKey = (await generateSigningKey('ES256', NOW)) as TestKey
    const body = await expectRefused(await postMeWith(rotatedEnv([newKey]), oldToken))
    expect(body.detail).toMatch(FOREIGN_KEY)
  })

  it('refuses it even when its state was cached before the key was removed', async () => {
    const oldToken = await loginToken()
    expect((await postMeWith(env, oldToken)).status).toBe(200) // checked, so now cached in KV
    const newKey = (await generateSigningKey('ES256', NOW)) as TestKey
    const body = await expectRefused(await postMeWith(rotatedEnv([newKey]), oldToken))
    expect(body.detail).toMatch(FOREIGN_KEY)
  })
})
