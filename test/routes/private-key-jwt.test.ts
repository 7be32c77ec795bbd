// private_key_jwt (RFC 7523 §2.2) at /oauth/token, /oauth/introspect, /mcg/v1/tokeninfo and
// /oauth/revoke: a good assertion is accepted once, and every bad one gets the same 401
// invalid_client as a wrong secret, counted by the same limits.
import { env, exports } from 'cloudflare:workers'
import * as oauth from 'oauth4webapi'
import { base64url, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { forgetUsedJtisInIsolate, usedJtiKey } from '../../src/storage/used-jtis.ts'
import { adminCall } from '../helpers/admin.ts'
import {
  assertion,
  assertionFields,
  createKeyClient,
  generateClientKey,
  type TestKey,
} from '../helpers/client-keys.ts'
import { createClient } from '../helpers/clients.ts'
import {
  basicAuth,
  expectProblem,
  freshIp,
  inOneLimiterMinute,
  ORIGIN,
  postForm,
} from '../helpers/http.ts'
import { eventually, tokenFor } from '../helpers/tokens.ts'

const GRANT = { grant_type: 'client_credentials' }

function tokenRequest(fields: Record<string, string>, headers: Record<string, string> = {}) {
  return postForm(
    '/oauth/token',
    { ...GRANT, ...fields },
    { 'cf-connecting-ip': freshIp(), ...headers },
  )
}

/** The one answer every failed client authentication gets. */
async function expectRefused(response: Response) {
  const body = await expectProblem(response, 401, 'invalid_client', 'application/json')
  expect(body.error).toBe('invalid_client')
  expect(body.detail).toBe(
    'Client authentication failed: unknown client, wrong secret or disabled client.',
  )
  return body
}

describe('private_key_jwt at /oauth/token', () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    it(`accepts an assertion signed with ${alg}`, async () => {
      const key = await generateClientKey(alg)
      const client = await createKeyClient([key])
      const response = await tokenRequest(
        assertionFields(await assertion(client.clientId, key), client.clientId),
      )
      expect(response.status).toBe(200)
      const body = (await response.json()) as { access_token: string; token_type: string }
      expect(body.token_type).toBe('Bearer')
      expect(body.access_token.split('.')).toHaveLength(3)
    })
  }

  it('accepts alg Ed25519 (RFC 9864) for an EdDSA key, without client_id, aud the endpoint', async () => {
    const key = await generateClientKey('EdDSA')
    const client = await createKeyClient([key])
    const jwt = await assertion(
      client.clientId,
      { ...key, alg: 'Ed25519' },
      { aud: [`${ORIGIN}/oauth/token`] },
    )
    expect((await tokenRequest(assertionFields(jwt))).status).toBe(200)
  })

  it("accepts Authlib's PrivateKeyJWT defaults: aud the token endpoint, exp an hour after iat", async () => {
    const key = await generateClientKey('RS256')
    const client = await createKeyClient([key])
    const iat = Math.floor(Date.now() / 1000)
    const jwt = await assertion(
      client.clientId,
      key,
      { aud: `${ORIGIN}/oauth/token`, iat, exp: iat + 3600, nbf: undefined },
      { typ: 'JWT' },
    )
    const fields = assertionFields(jwt)
    expect((await tokenRequest(fields)).status).toBe(200)
    // Its jti is remembered in KV for the assertion's whole life, not five minutes.
    const { jti } = JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split('.')[1]!)))
    const kvKey = await usedJtiKey(client.clientId, jti as string)
    const stored = await eventually(
      () => env.CACHE.getWithMetadata(kvKey),
      (value) => value.value !== null,
    )
    expect(stored.value).toBe('1')
    const listed = await env.CACHE.list({ prefix: kvKey })
    expect(listed.keys[0]!.expiration).toBeGreaterThanOrEqual(iat + 3600)
    forgetUsedJtisInIsolate()
    await caches.default.delete(`${ORIGIN}/_used-jti/${kvKey.slice('jti:'.length)}`)
    await expectRefused(await tokenRequest(fields))
  })

  it('tries every key when the assertion names no kid; the secret keeps working', async () => {
    const [a, b] = [await generateClientKey('ES256'), await generateClientKey('EdDSA')]
    const client = await createKeyClient([a, b])
    const jwt = await new SignJWT({
      iss: client.clientId,
      sub: client.clientId,
      aud: ORIGIN,
      jti: crypto.randomUUID(),
      exp: Math.floor(Date.now() / 1000) + 60,
    })
      .setProtectedHeader({ alg: 'ES256' })
      .sign(a.privateKey)
    expect((await tokenRequest(assertionFields(jwt))).status).toBe(200)
    expect(await tokenFor(client)).toBeTruthy()
  })

  it('refuses a replayed assertion: in the isolate, in the location (Cache API), in KV', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const jwt = await assertion(client.clientId, key)
    const fields = assertionFields(jwt, client.clientId)
    expect((await tokenRequest(fields)).status).toBe(200)
    await expectRefused(await tokenRequest(fields))

    // Another isolate of the location: only the Cache API remembers.
    forgetUsedJtisInIsolate()
    await expectRefused(await tokenRequest(fields))

    // Another location: only KV remembers (written after the response).
    const { jti } = JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split('.')[1]!)))
    const kvKey = await usedJtiKey(client.clientId, jti as string)
    await eventually(
      () => env.CACHE.get(kvKey),
      (value) => value !== null,
    )
    forgetUsedJtisInIsolate()
    await caches.default.delete(`${ORIGIN}/_used-jti/${kvKey.slice('jti:'.length)}`)
    await expectRefused(await tokenRequest(fields))
  })

  it('refuses two requests racing with one assertion: one wins', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const fields = assertionFields(await assertion(client.clientId, key))
    const statuses = await Promise.all([tokenRequest(fields), tokenRequest(fields)]).then((r) =>
      r.map((x) => x.status).sort(),
    )
    expect(statuses).toEqual([200, 401])
  })

  describe('refuses with the same 401', () => {
    const now = () => Math.floor(Date.now() / 1000)
    const cases: [string, (id: string, key: TestKey, other: TestKey) => Promise<string>][] = [
      ['an expired assertion', (id, k) => assertion(id, k, { exp: now() - 60, iat: now() - 120 })],
      ['exp more than an hour ahead', (id, k) => assertion(id, k, { exp: now() + 3700 })],
      ['iat more than an hour ago', (id, k) => assertion(id, k, { iat: now() - 3700 })],
      ['no exp', (id, k) => assertion(id, k, { exp: undefined })],
      ['no jti', (id, k) => assertion(id, k, { jti: undefined })],
      ['iat in the future', (id, k) => assertion(id, k, { iat: now() + 120 })],
      ['nbf in the future', (id, k) => assertion(id, k, { nbf: now() + 120 })],
      ['the wrong aud', (id, k) => assertion(id, k, { aud: 'https://elsewhere.test' })],
      ['aud another endpoint', (id, k) => assertion(id, k, { aud: `${ORIGIN}/oauth/revoke` })],
      [
        'aud naming Portero and another server (audience injection)',
        (id, k) => assertion(id, k, { aud: [ORIGIN, 'https://elsewhere.test'] }),
      ],
      [
        'aud naming the token endpoint and another server',
        (id, k) => assertion(id, k, { aud: ['https://elsewhere.test', `${ORIGIN}/oauth/token`] }),
      ],
      ['aud naming Portero twice', (id, k) => assertion(id, k, { aud: [ORIGIN, ORIGIN] })],
      ['aud an empty array', (id, k) => assertion(id, k, { aud: [] })],
      ['aud a near spelling', (id, k) => assertion(id, k, { aud: `${ORIGIN}/` })],
      ['iss other than sub', (id, k) => assertion(id, k, { iss: 'someone-else' })],
      ['an unregistered key', (id, k, other) => assertion(id, { ...other, kid: k.kid })],
      ['an unknown kid', (id, _k, other) => assertion(id, other)],
      ['typ of an access token', (id, k) => assertion(id, k, {}, { typ: 'at+jwt' })],
      ["alg other than the key's", (id, k) => assertion(id, k, {}, { alg: 'ES384' })],
      [
        'alg none',
        async (id, k) => {
          const unsigned = (await assertion(id, k)).split('.')
          const header = base64url.encode(JSON.stringify({ alg: 'none', kid: k.kid }))
          return `${header}.${unsigned[1]}.`
        },
      ],
      [
        'HS256 keyed with the public key',
        async (id, k) => {
          const secret = new TextEncoder().encode(JSON.stringify(k.publicJwk))
          return new SignJWT({ iss: id, sub: id, aud: ORIGIN, jti: 'x', exp: now() + 60 })
            .setProtectedHeader({ alg: 'HS256', kid: k.kid })
            .sign(secret)
        },
      ],
      ['not a JWT', async () => 'not-a-jwt'],
    ]
    for (const [name, make] of cases) {
      it(name, async () => {
        const key = await generateClientKey()
        const other = await generateClientKey()
        const client = await createKeyClient([key])
        let jwt: string
        try {
          jwt = await make(client.clientId, key, other)
        } catch {
          // jose refuses to sign some of these (ES384 with a P-256 key): forge the header.
          const good = (await assertion(client.clientId, key)).split('.')
          const header = base64url.encode(JSON.stringify({ alg: 'ES384', kid: key.kid }))
          jwt = `${header}.${good[1]}.${good[2]}`
        }
        await expectRefused(await tokenRequest(assertionFields(jwt, client.clientId)))
      })
    }

    it('a key of another client', async () => {
      const mine = await generateClientKey()
      const theirs = await generateClientKey()
      const me = await createKeyClient([mine])
      await createKeyClient([theirs], me.admin)
      await expectRefused(await tokenRequest(assertionFields(await assertion(me.clientId, theirs))))
    })

    it("a client_id other than the assertion's", async () => {
      const key = await generateClientKey()
      const client = await createKeyClient([key])
      const other = await createKeyClient([key], client.admin)
      const jwt = await assertion(client.clientId, key)
      await expectRefused(await tokenRequest(assertionFields(jwt, other.clientId)))
    })

    it('a disabled client', async () => {
      const key = await generateClientKey()
      const client = await createKeyClient([key])
      const path = `/admin/clients/${client.clientId}`
      expect((await adminCall(client.admin, 'PATCH', path, { status: 'disabled' })).status).toBe(
        204,
      )
      await expectRefused(
        await tokenRequest(assertionFields(await assertion(client.clientId, key))),
      )
    })

    it('a removed key, and an old key after its rotation overlap', async () => {
      const [a, b, c] = await Promise.all([
        generateClientKey(),
        generateClientKey(),
        generateClientKey(),
      ])
      const client = await createKeyClient([a])
      const base = `/admin/clients/${client.clientId}/keys`
      const rotate = (keys: TestKey[], overlap: number) =>
        adminCall(client.admin, 'PUT', base, {
          keys: keys.map((k) => k.publicJwk),
          old_keys_valid_for: overlap,
        })
      // Rotated with an overlap: the old key still works, and so does the new one.
      expect((await rotate([b], 3600)).status).toBe(200)
      expect(
        (await tokenRequest(assertionFields(await assertion(client.clientId, a)))).status,
      ).toBe(200)
      expect(
        (await tokenRequest(assertionFields(await assertion(client.clientId, b)))).status,
      ).toBe(200)
      // Removed: refused at once.
      expect((await adminCall(client.admin, 'DELETE', `${base}/${a.kid}`)).status).toBe(204)
      await expectRefused(await tokenRequest(assertionFields(await assertion(client.clientId, a))))
      // Rotated without overlap: the old key stops at once.
      expect((await rotate([c], 0)).status).toBe(200)
      await expectRefused(await tokenRequest(assertionFields(await assertion(client.clientId, b))))
      expect(
        (await tokenRequest(assertionFields(await assertion(client.clientId, c)))).status,
      ).toBe(200)
    })
  })

  it('an expired overlap refuses the old key', async () => {
    const [a, b] = [await generateClientKey(), await generateClientKey()]
    const client = await createKeyClient([a])
    // An overlap that has already ended, written as a rotation would have.
    await env.DB.prepare('UPDATE client_keys SET expires_at = ?2 WHERE client_id = ?1')
      .bind(client.clientId, Math.floor(Date.now() / 1000) - 1)
      .run()
    const response = await adminCall(
      client.admin,
      'POST',
      `/admin/clients/${client.clientId}/keys`,
      {
        keys: [b.publicJwk],
      },
    )
    const { keys } = (await response.json()) as { keys: { kid: string }[] }
    expect(keys.map((k) => k.kid)).toEqual([b.kid])
    await expectRefused(await tokenRequest(assertionFields(await assertion(client.clientId, a))))
  })

  it('refuses a secret and an assertion together (RFC 6749 §2.3): 400', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const jwt = await assertion(client.clientId, key)
    const both = await tokenRequest({
      ...assertionFields(jwt, client.clientId),
      client_secret: client.clientSecret,
    })
    await expectProblem(both, 400, 'invalid_request', 'application/json')
    const basic = await tokenRequest(assertionFields(jwt), {
      authorization: basicAuth(client.clientId, client.clientSecret),
    })
    await expectProblem(basic, 400, 'invalid_request', 'application/json')
  })

  it('refuses a client_assertion_type other than jwt-bearer: 400', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const response = await tokenRequest({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
      client_assertion: await assertion(client.clientId, key),
    })
    await expectProblem(response, 400, 'invalid_request', 'application/json')
  })

  it(
    'counts failed assertions toward the same lock as wrong secrets',
    inOneLimiterMinute(async () => {
      const key = await generateClientKey()
      const client = await createKeyClient([key])
      const ip = freshIp()
      const headers = { 'cf-connecting-ip': ip }
      // 10 failures of the pair a minute (wrangler.toml), half of them wrong secrets.
      for (let i = 0; i < 5; i++) {
        const wrong = await postForm(
          '/oauth/token',
          { ...GRANT, client_id: client.clientId, client_secret: 'wrong' },
          headers,
        )
        await expectRefused(wrong)
        const bad = await assertion(client.clientId, key, { aud: 'https://elsewhere.test' })
        await expectRefused(
          await postForm('/oauth/token', { ...GRANT, ...assertionFields(bad) }, headers),
        )
      }
      // The next failure locks the pair, and a good assertion is refused while it holds.
      const over = await assertion(client.clientId, key, { iss: 'someone-else' })
      const first = await postForm(
        '/oauth/token',
        { ...GRANT, ...assertionFields(over, client.clientId) },
        headers,
      )
      await expectProblem(first, 429, 'rate_limited', 'application/json')
      const good = await assertion(client.clientId, key)
      const locked = await postForm('/oauth/token', { ...GRANT, ...assertionFields(good) }, headers)
      await expectProblem(locked, 429, 'rate_limited', 'application/json')
    }),
    40_000,
  )

  it('a client created with keys only has no secret', async () => {
    const key = await generateClientKey()
    const admin = (await createKeyClient([await generateClientKey()])).admin
    const created = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: null,
      name: `keys only ${crypto.randomUUID()}`,
      allowed_scopes: ['tokens:introspect'],
      jwks: { keys: [key.publicJwk] },
      with_secret: false,
    })
    expect(created.status).toBe(201)
    const body = (await created.json()) as { client_id: string; client_secret: string | null }
    expect(body.client_secret).toBeNull()
    const jwt = await assertion(body.client_id, key)
    expect((await tokenRequest(assertionFields(jwt))).status).toBe(200)
    // No secret matches, not even an empty one.
    for (const secret of ['', 'x']) {
      const response = await tokenRequest({ client_id: body.client_id, client_secret: secret })
      expect(response.status).toBe(401)
    }
  })
})

describe('private_key_jwt at introspection and revocation', () => {
  it('authenticates /oauth/introspect, /mcg/v1/tokeninfo and /oauth/revoke', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const token = await tokenFor(client)
    for (const path of ['/oauth/introspect', '/mcg/v1/tokeninfo']) {
      const response = await postForm(path, {
        token,
        ...assertionFields(await assertion(client.clientId, key), client.clientId),
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ active: true, client_id: client.clientId })
    }
    const reused = await assertion(client.clientId, key)
    const revoked = await postForm('/oauth/revoke', { token, ...assertionFields(reused) })
    expect(revoked.status).toBe(200)
    await expectRefused(await postForm('/oauth/revoke', { token, ...assertionFields(reused) }))
    const after = await postForm('/oauth/introspect', {
      token,
      ...assertionFields(await assertion(client.clientId, key)),
    })
    expect(await after.json()).toEqual({ active: false })
  })

  it('refuses a bearer token and an assertion together at introspection: 400', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const token = await tokenFor(client)
    const response = await postForm(
      '/oauth/introspect',
      { token, ...assertionFields(await assertion(client.clientId, key)) },
      { authorization: `Bearer ${token}` },
    )
    await expectProblem(response, 400, 'invalid_request', 'application/json')
  })

  it('answers a bad assertion at introspection with the same 401', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const other = await createClient()
    const token = await tokenFor(other)
    const bad = await assertion(client.clientId, key, { exp: Math.floor(Date.now() / 1000) - 60 })
    await expectRefused(await postForm('/oauth/introspect', { token, ...assertionFields(bad) }))
  })
})

describe('oauth4webapi PrivateKeyJwt, unadapted', () => {
  it('gets a token, introspects and revokes with each key type', async () => {
    const customFetch = (url: string, options: RequestInit) =>
      exports.default.fetch(new Request(url, options))
    const options = { [oauth.customFetch]: customFetch }
    const issuer = new URL(ORIGIN)
    const discovery = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...options })
    const as = await oauth.processDiscoveryResponse(issuer, discovery)
    for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
      const key = await generateClientKey(alg)
      const registered = await createKeyClient([key])
      const client = { client_id: registered.clientId }
      const auth = oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid })
      const grant = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        auth,
        new URLSearchParams({ scope: 'tokens:introspect' }),
        options,
      )
      const { access_token } = await oauth.processClientCredentialsResponse(as, client, grant)
      const introspected = await oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth, access_token, options),
      )
      expect(introspected.active, alg).toBe(true)
      const revoked = await oauth.revocationRequest(as, client, auth, access_token, options)
      await oauth.processRevocationResponse(revoked)
    }
  })
})
