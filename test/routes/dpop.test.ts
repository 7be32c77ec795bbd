// DPoP (RFC 9449) at /oauth/token and on Portero's own routes, with proofs built here with jose,
// independently of src/.
import { env } from 'cloudflare:workers'
import {
  base64url,
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTPayload,
} from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { basicAuth, call, expectProblem, ORIGIN, postForm, postJson } from '../helpers/http.ts'

const TOKEN_URL = `${ORIGIN}/oauth/token`
const RESOURCE = '/subscriptions'
const RESOURCE_URL = `${ORIGIN}${RESOURCE}`

type DpopKey = { privateKey: CryptoKey; jwk: JWK; jkt: string; alg: string }

async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk), alg }
}

/** An RSA key of any size (jose's generateKeyPair refuses under 2048 bits). */
async function rsaKey(bits: number): Promise<DpopKey> {
  const algorithm = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
  }
  const { privateKey, publicKey } = (await crypto.subtle.generateKey(
    { ...algorithm, modulusLength: bits },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair
  const jwk = await exportJWK(publicKey)
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk), alg: 'RS256' }
}

/** A proof signed with WebCrypto directly: jose refuses to sign with an RSA key under 2048 bits. */
async function rsaProof(key: DpopKey): Promise<string> {
  const header = { alg: 'RS256', typ: 'dpop+jwt', jwk: key.jwk }
  const payload = {
    htm: 'POST',
    htu: TOKEN_URL,
    jti: crypto.randomUUID(),
    iat: Math.floor(Date.now() / 1000),
  }
  const input = [header, payload].map((part) => base64url.encode(JSON.stringify(part))).join('.')
  const signature = await crypto.subtle.sign(
    'RSASSA-PKCS1-v1_5',
    key.privateKey,
    new TextEncoder().encode(input),
  )
  return `${input}.${base64url.encode(new Uint8Array(signature))}`
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return base64url.encode(new Uint8Array(digest))
}

type ProofOptions = {
  htm?: string
  htu?: string
  accessToken?: string
  claims?: JWTPayload
  header?: Record<string, unknown>
}

async function proof(key: DpopKey, options: ProofOptions = {}): Promise<string> {
  const payload: JWTPayload = {
    htm: options.htm ?? 'POST',
    htu: options.htu ?? TOKEN_URL,
    jti: crypto.randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ...(options.accessToken ? { ath: await sha256(options.accessToken) } : {}),
    ...options.claims,
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...options.header })
    .sign(key.privateKey)
}

function tokenRequest(client: TestClient, headers: Record<string, string> = {}) {
  return postForm(
    '/oauth/token',
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, client.clientSecret), ...headers },
  )
}

type TokenBody = { access_token: string; token_type: string }

async function dpopToken(client: TestClient, key: DpopKey, nonce?: string): Promise<string> {
  const response = await tokenRequest(client, {
    dpop: await proof(key, nonce ? { claims: { nonce } } : {}),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as TokenBody).access_token
}

function resourceCall(token: string, headers: Record<string, string> = {}, path = RESOURCE) {
  return call(path, { headers: { authorization: `DPoP ${token}`, ...headers } })
}

async function resourceProof(key: DpopKey, token: string, options: ProofOptions = {}) {
  return proof(key, { htm: 'GET', htu: RESOURCE_URL, accessToken: token, ...options })
}

/** A 401 with a DPoP challenge naming `code`, in the route's problem shape. */
async function expectDpopRefusal(response: Response, code: string) {
  await expectProblem(response, 401, code)
  const challenge = response.headers.get('www-authenticate') ?? ''
  expect(challenge).toMatch(/^DPoP /)
  expect(challenge).toContain(`error="${code}"`)
  expect(challenge).toContain('algs="ES256')
}

afterEach(() => {
  vi.useRealTimers()
})

describe('POST /oauth/token with a DPoP proof', () => {
  it('issues a DPoP token bound to the proof key, with a nonce for the next proof', async () => {
    const client = await createClient()
    const key = await dpopKey()
    const response = await tokenRequest(client, { dpop: await proof(key) })
    expect(response.status).toBe(200)
    const body = (await response.json()) as TokenBody
    expect(body.token_type).toBe('DPoP')
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt: key.jkt })
    expect(response.headers.get('dpop-nonce')).toMatch(/^[\x21\x23-\x5B\x5D-\x7E]+$/)
  })

  it.each(['EdDSA', 'Ed25519', 'RS256'])('accepts a proof signed with %s', async (alg) => {
    const client = await createClient()
    const key = await dpopKey(alg)
    const token = await dpopToken(client, key)
    expect(decodeJwt(token).cnf).toEqual({ jkt: key.jkt })
  })

  it('without a DPoP header still issues a bearer token with no cnf', async () => {
    const client = await createClient()
    const response = await tokenRequest(client)
    const body = (await response.json()) as TokenBody
    expect(body.token_type).toBe('Bearer')
    expect(decodeJwt(body.access_token).cnf).toBeUndefined()
  })

  it('refuses malformed proofs with 400 invalid_dpop_proof', async () => {
    const client = await createClient()
    const key = await dpopKey()
    const privateJwk = await exportJWK(
      (await generateKeyPair('ES256', { extractable: true })).privateKey,
    )
    const hs256 = await new SignJWT({
      htm: 'POST',
      htu: TOKEN_URL,
      jti: crypto.randomUUID(),
      iat: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'))
    const unsigned = [
      base64url.encode(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })),
      base64url.encode(JSON.stringify({ htm: 'POST', htu: TOKEN_URL, jti: 'x', iat: 1 })),
      '',
    ].join('.')
    const stale = { claims: { iat: Math.floor(Date.now() / 1000) - 120 } }
    const proofs = [
      'not a jwt',
      unsigned,
      hs256,
      await proof(key, { header: { typ: 'JWT' } }),
      await proof(key, { header: { jwk: privateJwk } }),
      await proof(key, { htm: 'GET' }),
      await proof(key, { htu: `${ORIGIN}/oauth/introspect` }),
      await proof(key, { htu: 'https://elsewhere.test/oauth/token' }),
      await proof(key, stale),
      await proof(key, { claims: { iat: Math.floor(Date.now() / 1000) + 120 } }),
      await proof(key, { claims: { jti: undefined } }),
      `${await proof(key)}, ${await proof(key)}`,
    ]
    for (const dpop of proofs) {
      const response = await tokenRequest(client, { dpop })
      const body = await expectProblem(response, 400, 'invalid_dpop_proof', 'application/json')
      expect(body.error).toBe('invalid_dpop_proof')
    }
  })

  it(
    'refuses an RSA key in the proof outside 2048 to 8192 bits, as a client key',
    { timeout: 120_000 },
    async () => {
      const client = await createClient()
      for (const bits of [8192, 2048]) {
        const response = await tokenRequest(client, { dpop: await rsaProof(await rsaKey(bits)) })
        expect(response.status, `${bits} bits`).toBe(200)
      }
      for (const bits of [8320, 1024]) {
        const response = await tokenRequest(client, { dpop: await rsaProof(await rsaKey(bits)) })
        const body = await expectProblem(response, 400, 'invalid_dpop_proof', 'application/json')
        expect(body.detail, `${bits} bits`).toBe(
          "The DPoP proof's jwk is not a key for RS256 of 2048 to 8192 bits.",
        )
      }
    },
  )

  it('accepts htu with a query, fragment or other case of scheme and host', async () => {
    const client = await createClient()
    const key = await dpopKey()
    for (const htu of [`${TOKEN_URL}?a=1`, `${TOKEN_URL}#x`, 'HTTPS://PORTERO.TEST/oauth/token']) {
      const response = await tokenRequest(client, { dpop: await proof(key, { htu }) })
      expect(response.status).toBe(200)
    }
  })

  it('refuses a replayed proof', async () => {
    const client = await createClient()
    const key = await dpopKey()
    const dpop = await proof(key)
    expect((await tokenRequest(client, { dpop })).status).toBe(200)
    await expectProblem(
      await tokenRequest(client, { dpop }),
      400,
      'invalid_dpop_proof',
      'application/json',
    )
  })
})

describe("a DPoP-bound token on Portero's routes", () => {
  it('works with a valid proof of its key, and answers with a DPoP-Nonce', async () => {
    const client = await createClient()
    const key = await dpopKey()
    const token = await dpopToken(client, key)
    const response = await resourceCall(token, { dpop: await resourceProof(key, token) })
    expect(response.status).toBe(200)
    expect(response.headers.get('dpop-nonce')).toBeTruthy()
    // On /Services too: authorized, then 404 for an unknown message.
    const path = '/Services/messages/unknown'
    const services = await resourceCall(
      token,
      { dpop: await resourceProof(key, token, { htu: `${ORIGIN}${path}` }) },
      path,
    )
    expect(services.status).toBe(404)
  })

  it("is refused without a proof, with another key's proof, or a replayed one", async () => {
    const client = await createClient()
    const key = await dpopKey()
    const token = await dpopToken(client, key)
    await expectDpopRefusal(await resourceCall(token), 'invalid_dpop_proof')
    const other = await dpopKey()
    await expectDpopRefusal(
      await resourceCall(token, { dpop: await resourceProof(other, token) }),
      'invalid_dpop_proof',
    )
    const dpop = await resourceProof(key, token)
    expect((await resourceCall(token, { dpop })).status).toBe(200)
    await expectDpopRefusal(await resourceCall(token, { dpop }), 'invalid_dpop_proof')
  })

  it('is refused with a wrong htu, htm or ath, no ath, a stale iat or a bad alg', async () => {
    const client = await createClient()
    const key = await dpopKey()
    const token = await dpopToken(client, key)
    const now = Math.floor(Date.now() / 1000)
    const wrong = [
      await resourceProof(key, token, { htu: `${ORIGIN}/recipients` }),
      await resourceProof(key, token, { htm: 'POST' }),
      await resourceProof(key, token, { accessToken: `${token}x` }),
      await proof(key, { htm: 'GET', htu: RESOURCE_URL }),
      await resourceProof(key, token, { claims: { iat: now - 300 } }),
      await resourceProof(await dpopKey('ES384'), token),
    ]
    for (const dpop of wrong) {
      await expectDpopRefusal(await resourceCall(token, { dpop }), 'invalid_dpop_proof')
    }
  })

  it('is refused as Bearer; a bearer token is refused with the DPoP scheme', async () => {
    const client = await createClient()
    const key = await dpopKey()
    const token = await dpopToken(client, key)
    const asBearer = await call(RESOURCE, {
      headers: { authorization: `Bearer ${token}`, dpop: await resourceProof(key, token) },
    })
    await expectProblem(asBearer, 401, 'invalid_token')
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^Bearer /)
    const inHeader = await call(RESOURCE, { headers: { 'x-access-token': token } })
    await expectProblem(inHeader, 401, 'invalid_token')

    const plain = (await (await tokenRequest(client)).json()) as TokenBody
    const response = await resourceCall(plain.access_token, {
      dpop: await resourceProof(key, plain.access_token),
    })
    await expectDpopRefusal(response, 'invalid_token')
  })

  it('works on /auth/me and as an introspection caller', async () => {
    const client = await createClient()
    const key = await dpopKey()
    const token = await dpopToken(client, key)
    const me = await call('/auth/me', {
      method: 'POST',
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await resourceProof(key, token, { htm: 'POST', htu: `${ORIGIN}/auth/me` }),
      },
    })
    expect(me.status).toBe(200)
    expect(((await me.json()) as { cnf: unknown }).cnf).toEqual({ jkt: key.jkt })
    const refused = await call('/auth/me', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(((await refused.json()) as { ack: number }).ack).toBe(898)

    const url = `${ORIGIN}/oauth/introspect`
    const introspection = await postForm(
      '/oauth/introspect',
      { token },
      {
        authorization: `DPoP ${token}`,
        dpop: await resourceProof(key, token, { htm: 'POST', htu: url }),
      },
    )
    expect(introspection.status).toBe(200)
    const bearerCaller = await postForm(
      '/oauth/introspect',
      { token },
      { authorization: `Bearer ${token}` },
    )
    expect(bearerCaller.status).toBe(401)
  })
})

describe('introspection of a DPoP-bound token', () => {
  it.each(['/oauth/introspect', '/mcg/v1/tokeninfo'])(
    '%s answers token_type DPoP and cnf.jkt',
    async (path) => {
      const client = await createClient()
      const key = await dpopKey()
      const token = await dpopToken(client, key)
      const response = await postForm(
        path,
        { token },
        { authorization: basicAuth(client.clientId, client.clientSecret) },
      )
      const body = (await response.json()) as Record<string, unknown>
      expect(body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } })
      const plain = (await (await tokenRequest(client)).json()) as TokenBody
      const bearer = await postForm(
        path,
        { token: plain.access_token },
        { authorization: basicAuth(client.clientId, client.clientSecret) },
      )
      const answer = (await bearer.json()) as Record<string, unknown>
      expect(answer.token_type).toBe('Bearer')
      expect(answer.cnf).toBeUndefined()
    },
  )
})

describe('a client that requires DPoP', () => {
  it('gets no token without a proof, from /oauth/token or /auth/login', async () => {
    const client = await createClient({ dpopBoundAccessTokens: true })
    const body = await expectProblem(
      await tokenRequest(client),
      400,
      'invalid_dpop_proof',
      'application/json',
    )
    expect(body.error).toBe('invalid_dpop_proof')
    const login = await postJson('/auth/login', {
      clientId: client.clientId,
      clientSecret: client.clientSecret,
    })
    expect(login.status).toBe(400)
  })

  it('must carry the server nonce: use_dpop_nonce, then a token with it', async () => {
    const client = await createClient({ dpopBoundAccessTokens: true })
    const key = await dpopKey()
    const first = await tokenRequest(client, { dpop: await proof(key) })
    const body = await expectProblem(first, 400, 'use_dpop_nonce', 'application/json')
    expect(body.error).toBe('use_dpop_nonce')
    const nonce = first.headers.get('dpop-nonce')!
    expect(nonce).toBeTruthy()
    const made = await tokenRequest(client, {
      dpop: await proof(key, { claims: { nonce: `${nonce.slice(0, -2)}AA` } }),
    })
    await expectProblem(made, 400, 'use_dpop_nonce', 'application/json')
    const token = await dpopToken(client, key, nonce)

    // At the resource: a proof without the nonce, then with it.
    const missing = await resourceCall(token, { dpop: await resourceProof(key, token) })
    await expectDpopRefusal(missing, 'use_dpop_nonce')
    expect(missing.headers.get('dpop-nonce')).toBe(nonce)
    const ok = await resourceCall(token, {
      dpop: await resourceProof(key, token, { claims: { nonce } }),
    })
    expect(ok.status).toBe(200)
  })

  it('refuses a nonce once two windows have passed, and sends the new one', async () => {
    const start = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now: start })
    const client = await createClient({ dpopBoundAccessTokens: true })
    const key = await dpopKey()
    const nonce = (await tokenRequest(client, { dpop: await proof(key) })).headers.get(
      'dpop-nonce',
    )!
    const token = await dpopToken(client, key, nonce)
    vi.setSystemTime(start + 300_000)
    const stillGood = await resourceCall(token, {
      dpop: await resourceProof(key, token, { claims: { nonce } }),
    })
    expect(stillGood.status).toBe(200)
    vi.setSystemTime(start + 600_000)
    const rotated = await resourceCall(token, {
      dpop: await resourceProof(key, token, { claims: { nonce } }),
    })
    await expectDpopRefusal(rotated, 'use_dpop_nonce')
    const fresh = rotated.headers.get('dpop-nonce')!
    expect(fresh).not.toBe(nonce)
    const again = await resourceCall(token, {
      dpop: await resourceProof(key, token, { claims: { nonce: fresh } }),
    })
    expect(again.status).toBe(200)
  })

  it('is set with PATCH /admin/clients/{id}, which ends its bearer tokens', async () => {
    const admin = await adminToken()
    const client = await createClient()
    const bearer = (await (await tokenRequest(client)).json()) as TokenBody
    const patched = await adminCall(admin, 'PATCH', `/admin/clients/${client.clientId}`, {
      dpop_bound_access_tokens: true,
    })
    expect(patched.status).toBe(204)
    const read = await adminCall(admin, 'GET', `/admin/clients/${client.clientId}`)
    expect(((await read.json()) as Record<string, unknown>).dpop_bound_access_tokens).toBe(true)
    const old = await call(RESOURCE, {
      headers: { authorization: `Bearer ${bearer.access_token}` },
    })
    await expectProblem(old, 401, 'invalid_token')
    await expectProblem(await tokenRequest(client), 400, 'invalid_dpop_proof', 'application/json')
  })
})

describe('discovery', () => {
  it('lists the DPoP algorithms and certificate-bound tokens in the metadata', async () => {
    const response = await call('/.well-known/oauth-authorization-server')
    const metadata = (await response.json()) as Record<string, unknown>
    expect(metadata.dpop_signing_alg_values_supported).toEqual([
      'ES256',
      'EdDSA',
      'Ed25519',
      'RS256',
    ])
    expect(metadata.tls_client_certificate_bound_access_tokens).toBe(true)
    expect(env.ISSUER).toBe(ORIGIN)
  })
})
