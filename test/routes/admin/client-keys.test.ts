// /admin/clients/{id}/keys: registering public keys for private_key_jwt refuses, naming the key at
// fault, anything that is not a public P-256, Ed25519 or RSA (2048 bits or more) key with a kid.
import { env } from 'cloudflare:workers'
import { exportJWK, generateKeyPair, generateSecret } from 'jose'
import { describe, expect, it } from 'vitest'
import { adminCall, adminToken, json } from '../../helpers/admin.ts'
import { eventuallyAudited } from '../../helpers/audit.ts'
import { assertion, assertionFields, generateClientKey } from '../../helpers/client-keys.ts'
import { createClient } from '../../helpers/clients.ts'
import { expectProblem, postForm } from '../../helpers/http.ts'
import { expectActive, expectInactive } from '../../helpers/token-state.ts'
import { eventually } from '../../helpers/tokens.ts'

type KeyList = {
  client_id: string
  keys: { kid: string; alg: string; jwk: Record<string, unknown>; expires_at: string | null }[]
}

async function setup() {
  const admin = await adminToken()
  const client = await createClient()
  const path = `/admin/clients/${client.clientId}/keys`
  return { admin, client, path }
}

describe('/admin/clients/{id}/keys', () => {
  it('registers, lists, rotates with overlap and removes keys; audited', async () => {
    const { admin, client, path } = await setup()
    const [a, b, c] = [
      await generateClientKey('ES256'),
      await generateClientKey('EdDSA'),
      await generateClientKey('RS256'),
    ]
    const added = await json<KeyList>(
      await adminCall(admin, 'POST', path, { keys: [a.publicJwk, b.publicJwk] }),
    )
    expect(added.keys.map((k) => k.kid).sort()).toEqual([a.kid, b.kid].sort())
    expect(added.keys.every((k) => k.expires_at === null)).toBe(true)
    // Only public members are kept.
    expect(Object.keys(added.keys.find((k) => k.kid === a.kid)!.jwk).sort()).toEqual(
      ['alg', 'crv', 'kid', 'kty', 'x', 'y'].sort(),
    )

    const rotated = await json<KeyList>(
      await adminCall(admin, 'PUT', path, {
        keys: [c.publicJwk],
        old_keys_valid_for: 600,
      }),
    )
    const ends = Object.fromEntries(rotated.keys.map((k) => [k.kid, k.expires_at]))
    expect(ends[c.kid]).toBeNull()
    const overlapEnd = Date.parse(ends[a.kid]!)
    expect(overlapEnd).toBeGreaterThan(Date.now() + 590_000)
    expect(ends[b.kid]).toBe(ends[a.kid])

    expect((await adminCall(admin, 'DELETE', `${path}/${a.kid}`)).status).toBe(204)
    await expectProblem(await adminCall(admin, 'DELETE', `${path}/${a.kid}`), 404, 'not_found')
    const listed = await json<KeyList>(await adminCall(admin, 'GET', path))
    expect(listed.keys.map((k) => k.kid).sort()).toEqual([b.kid, c.kid].sort())

    const actions = await eventually(
      async () =>
        (
          await env.DB.prepare(
            `SELECT action FROM audit_events WHERE target = ?1 AND action LIKE 'client.keys.%'`,
          )
            .bind(client.clientId)
            .all<{ action: string }>()
        ).results.map((r) => r.action),
      (found) => found.length >= 4,
    )
    // The second removal failed (404), and is audited as a failure.
    expect(actions.sort()).toEqual([
      'client.keys.add',
      'client.keys.remove',
      'client.keys.remove',
      'client.keys.rotate',
    ])
  })

  it('refuses each kind of key that is not a public signing key, naming it', async () => {
    const { admin, path } = await setup()
    const ec = await generateKeyPair('ES256', { extractable: true })
    const privateEc = { ...(await exportJWK(ec.privateKey)), kid: 'private' }
    const rsa = await generateKeyPair('RS256', { extractable: true })
    const privateRsa = await exportJWK(rsa.privateKey)
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicRsa } = privateRsa
    // jose refuses to make one this small: WebCrypto does.
    const small = (await crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair
    const p384 = await generateKeyPair('ES384', { extractable: true })
    const hmac = await exportJWK(await generateSecret('HS256', { extractable: true }))
    const good = (await generateClientKey()).publicJwk
    const refused: [string, unknown, RegExp][] = [
      ['a private EC key', privateEc, /private key/],
      ['a private RSA key', { ...privateRsa, kid: 'rsa-private' }, /private key/],
      ['a symmetric key', { ...hmac, kid: 'hmac' }, /symmetric/],
      ['a key without kid', { ...good, kid: undefined }, /kid is required/],
      ['RSA under 2048 bits', { ...(await exportJWK(small.publicKey)), kid: 'small' }, /2048/],
      ['P-384', { ...(await exportJWK(p384.publicKey)), kid: 'p384' }, /P-256/],
      ['alg HS256 on an EC key', { ...good, kid: 'hs', alg: 'HS256' }, /alg must be/],
      ['alg RS256 on an EC key', { ...good, kid: 'mismatch', alg: 'RS256' }, /does not fit/],
      ['use enc', { ...good, kid: 'enc', use: 'enc' }, /use must be sig/],
      ['not an object', 'a string', /JWK/],
      ['a point off the curve', { ...good, kid: 'off', y: good.x }, /not a valid public key/],
    ]
    for (const [name, key, message] of refused) {
      const response = await adminCall(admin, 'POST', path, { keys: [key] })
      const body = await expectProblem(response, 400, 'invalid_request')
      expect(body.errors, name).toEqual([
        { path: 'keys.0', message: expect.stringMatching(message) },
      ])
    }
    // An RSA public key of 2048 bits is fine.
    const ok = await adminCall(admin, 'POST', path, { keys: [{ ...publicRsa, kid: 'rsa' }] })
    expect(ok.status).toBe(200)
    // A duplicate kid, within the set or with a key the client holds.
    const dup = await adminCall(admin, 'POST', path, { keys: [good, good] })
    expect((await expectProblem(dup, 400, 'invalid_request')).errors).toEqual([
      { path: 'keys.1', message: expect.stringMatching(/already used/) },
    ])
    const held = await adminCall(admin, 'POST', path, {
      keys: [{ ...(await generateClientKey()).publicJwk, kid: 'rsa' }],
    })
    await expectProblem(held, 400, 'invalid_request')
    await expectProblem(await adminCall(admin, 'POST', path, { keys: [] }), 400, 'invalid_request')
  })

  it('404 for an unknown client; a client may hold at most 10 keys', async () => {
    const { admin, path } = await setup()
    const key = (await generateClientKey()).publicJwk
    const unknown = await adminCall(admin, 'POST', '/admin/clients/nobody-here/keys', {
      keys: [key],
    })
    await expectProblem(unknown, 404, 'not_found')
    await expectProblem(
      await adminCall(admin, 'GET', '/admin/clients/nobody/keys'),
      404,
      'not_found',
    )
    const ten = await Promise.all(Array.from({ length: 10 }, () => generateClientKey()))
    expect(
      (await adminCall(admin, 'POST', path, { keys: ten.map((k) => k.publicJwk) })).status,
    ).toBe(200)
    await expectProblem(
      await adminCall(admin, 'POST', path, { keys: [key] }),
      400,
      'invalid_request',
    )
  })

  it('creates a client with jwks; refuses with_secret false without keys', async () => {
    const admin = await adminToken()
    const key = await generateClientKey()
    const created = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: null,
      name: `with keys ${crypto.randomUUID()}`,
      jwks: { keys: [key.publicJwk] },
    })
    const body = await json<{ client_id: string; client_secret: string }>(created, 201)
    expect(typeof body.client_secret).toBe('string')
    const listed = await json<KeyList>(
      await adminCall(admin, 'GET', `/admin/clients/${body.client_id}/keys`),
    )
    expect(listed.keys.map((k) => k.kid)).toEqual([key.kid])
    const keyless = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: null,
      name: `no keys ${crypto.randomUUID()}`,
      with_secret: false,
    })
    await expectProblem(keyless, 400, 'invalid_request')
    const privateKey = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: null,
      name: `private ${crypto.randomUUID()}`,
      jwks: { keys: [{ ...key.publicJwk, d: 'AAAA' }] },
    })
    const refused = await expectProblem(privateKey, 400, 'invalid_request')
    expect(refused.errors).toEqual([{ path: 'jwks.keys.0', message: expect.any(String) }])
  })
})

describe('POST /admin/clients/{id}/revoke-tokens', () => {
  it('ends the tokens of a client with keys only, gives it no secret, and keeps its keys', async () => {
    const admin = await adminToken()
    const key = await generateClientKey()
    const created = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: null,
      name: `keys only ${crypto.randomUUID()}`,
      allowed_scopes: ['tokens:introspect'],
      jwks: { keys: [key.publicJwk] },
      with_secret: false,
    })
    const { client_id: id } = await json<{ client_id: string }>(created, 201)
    const login = async () => {
      const form = assertionFields(await assertion(id, key), id)
      const response = await postForm('/oauth/token', { grant_type: 'client_credentials', ...form })
      return (await json<{ access_token: string }>(response)).access_token
    }
    const leaked = await login()
    await expectActive(leaked)

    const revoke = await adminCall(admin, 'POST', `/admin/clients/${id}/revoke-tokens`)
    expect(revoke.status).toBe(204)
    expect(await revoke.text()).toBe('')
    await expectInactive(leaked)
    // Its key still logs in, and the new token is live.
    await expectActive(await login())
    const listed = await json<KeyList>(await adminCall(admin, 'GET', `/admin/clients/${id}/keys`))
    expect(listed.keys.map((k) => k.kid)).toEqual([key.kid])
    const audited = await eventuallyAudited(
      () =>
        env.DB.prepare('SELECT outcome FROM audit_events WHERE action = ?1 AND target = ?2')
          .bind('client.revoke_tokens', id)
          .first<{ outcome: string }>(),
      (row) => row !== null,
    )
    expect(audited?.outcome).toBe('success')
  })

  it('answers 404 for an unknown client', async () => {
    const admin = await adminToken()
    const response = await adminCall(
      admin,
      'POST',
      `/admin/clients/nobody-${crypto.randomUUID()}/revoke-tokens`,
    )
    await expectProblem(response, 404, 'not_found')
  })
})
