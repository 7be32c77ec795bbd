import { env } from 'cloudflare:workers'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { eventuallyAudited } from '../helpers/audit.ts'
import { createClient } from '../helpers/clients.ts'
import { call, expectProblem, freshIp, postJson } from '../helpers/http.ts'

// Document 003's own example, imported as a migrated client.
const BRIDGE_ID = 'bridge-api-client'
const BRIDGE_SECRET = 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709'

describe('POST /auth/login, Bridge dialect (document 003)', () => {
  it('answers {ack: 0, token, expires_in} for the document example credentials', async () => {
    await createClient({ id: BRIDGE_ID, secret: BRIDGE_SECRET })
    // The request exactly as document 003's curl sends it.
    const response = await call('/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body:
        '{\n   \n  "clientId":"bridge-api-client",\n   \n  ' +
        '"clientSecret":"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"\n}',
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as { ack: number; token: string; expires_in: number }
    expect(Object.keys(body).sort()).toEqual(['ack', 'expires_in', 'token'])
    expect(body.ack).toBe(0)
    expect(body.expires_in).toBe(3600)
    expect(decodeProtectedHeader(body.token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' })
    expect(decodeJwt(body.token)).toMatchObject({
      iss: env.ISSUER,
      sub: BRIDGE_ID,
      client_id: BRIDGE_ID,
    })
  })

  it('answers 401 with ack 899 for a wrong secret', async () => {
    const { clientId } = await createClient()
    const response = await postJson(
      '/auth/login',
      { clientId, clientSecret: 'x'.repeat(43) },
      { 'cf-connecting-ip': freshIp() },
    )
    const body = await expectProblem(response, 401, 'invalid_client')
    expect(body.ack).toBe(899)
  })

  it('answers an unknown client exactly as a wrong secret', async () => {
    const { clientId } = await createClient()
    const ip = freshIp()
    const wrong = await postJson(
      '/auth/login',
      { clientId, clientSecret: 'nope' },
      { 'cf-connecting-ip': ip },
    )
    const unknown = await postJson(
      '/auth/login',
      { clientId: `unknown-${crypto.randomUUID()}`, clientSecret: 'nope' },
      { 'cf-connecting-ip': ip },
    )
    expect(unknown.status).toBe(wrong.status)
    expect(await unknown.json()).toEqual(await wrong.json())
  })

  it('refuses a disabled client with the same 401', async () => {
    const { clientId, clientSecret } = await createClient({ status: 'disabled' })
    const response = await postJson(
      '/auth/login',
      { clientId, clientSecret },
      { 'cf-connecting-ip': freshIp() },
    )
    const body = await expectProblem(response, 401, 'invalid_client')
    expect(body.ack).toBe(899)
  })

  it('answers 400 with ack 899 and a field error for a missing clientSecret', async () => {
    const response = await postJson('/auth/login', { clientId: 'someone' })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(body.ack).toBe(899)
    expect(body.errors).toEqual([
      { path: 'clientSecret', message: 'clientSecret is required and must be a string' },
    ])
  })

  it('answers 400 for credentials that are not strings', async () => {
    const response = await postJson('/auth/login', { clientId: 42, clientSecret: ['a'] })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect((body.errors as { path: string }[]).map((e) => e.path)).toEqual([
      'clientId',
      'clientSecret',
    ])
  })
})

describe('POST /auth/login, Yativo dialect (document 002)', () => {
  it('answers {status, status_code, message, data} for account_id and app_secret', async () => {
    const { clientId, clientSecret } = await createClient({ tokenLifetime: 600 })
    const response = await postJson('/auth/login', {
      account_id: clientId,
      app_secret: clientSecret,
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { data: { access_token: string } }
    expect(body).toEqual({
      status: 'success',
      status_code: 200,
      message: 'Request successful',
      data: { access_token: expect.any(String), token_type: 'bearer', expires_in: 600 },
    })
    const claims = decodeJwt(body.data.access_token)
    expect(claims.exp! - claims.iat!).toBe(600)
  })

  it('keeps the Yativo envelope on errors, with an honest status', async () => {
    const { clientId } = await createClient()
    const response = await postJson(
      '/auth/login',
      { account_id: clientId, app_secret: 'wrong' },
      { 'cf-connecting-ip': freshIp() },
    )
    const body = await expectProblem(response, 401, 'invalid_client')
    expect(body).toMatchObject({ status_code: 401, message: body.detail, data: null })
    expect(body.ack).toBeUndefined()
  })

  it('names the missing field', async () => {
    const body = await expectProblem(
      await postJson('/auth/login', { account_id: 'a' }),
      400,
      'invalid_request',
    )
    expect(body.errors).toEqual([
      { path: 'app_secret', message: 'app_secret is required and must be a string' },
    ])
    expect(body.status_code).toBe(400)
  })
})

describe('POST /auth/login, malformed requests', () => {
  it('answers 400 for a body with neither dialect', async () => {
    const body = await expectProblem(
      await postJson('/auth/login', { username: 'a', password: 'b' }),
      400,
      'invalid_request',
    )
    expect(body.detail).toContain('/oauth/token')
  })

  it.each([
    ['an array', '[]'],
    ['a string', '"clientId"'],
    ['null', 'null'],
  ])('answers 400 for %s', async (_, json) => {
    await expectProblem(await postJson('/auth/login', json), 400, 'invalid_request')
  })

  it('answers 400 invalid_request for a body holding both the Bridge and the Yativo pair', async () => {
    const client = await createClient()
    const other = await createClient()
    const both = {
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      account_id: other.clientId,
      app_secret: other.clientSecret,
    }
    const response = await postJson('/auth/login', both, { 'cf-connecting-ip': freshIp() })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(body.detail).toMatch(/ambiguous/i)
    expect(body).not.toHaveProperty('token')
    // Each dialect's client finds its own members (document 003's ack, document 002's envelope).
    expect(body).toMatchObject({ ack: 899, status_code: 400, message: body.detail, data: null })
  })

  it('answers 400 for a body mixing fields of the two dialects', async () => {
    const client = await createClient()
    const response = await postJson('/auth/login', {
      clientId: client.clientId,
      app_secret: client.clientSecret,
    })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(body.detail).toMatch(/ambiguous/i)
    expect(body).toMatchObject({ ack: 899, status_code: 400 })
  })

  it.each([
    [
      'a Bridge pair beside a lone Yativo field',
      { clientId: 'a', clientSecret: 'b', app_secret: 'c' },
    ],
    [
      'a lone Bridge field beside a Yativo pair',
      { clientSecret: 'b', account_id: 'a', app_secret: 'c' },
    ],
    ['a non-string clientId', { clientId: 42, clientSecret: 'b' }],
    ['an empty clientSecret', { clientId: 'a', clientSecret: '' }],
    ['no clientSecret', { clientId: 'a' }],
  ])('carries a Bridge ack on the 400 for %s', async (_, login) => {
    const body = await expectProblem(await postJson('/auth/login', login), 400, 'invalid_request')
    expect(body.ack).toBe(899)
  })

  it('answers 413 for a body over 16 KiB, before reading it', async () => {
    const response = await postJson('/auth/login', {
      clientId: 'a',
      clientSecret: 'b'.repeat(17 * 1024),
    })
    await expectProblem(response, 413, 'payload_too_large')
  })

  it('answers 400 for a secret longer than any real one', async () => {
    const body = await expectProblem(
      await postJson('/auth/login', { clientId: 'a', clientSecret: 'b'.repeat(300) }),
      400,
      'invalid_request',
    )
    expect(body.errors).toEqual([
      { path: 'clientSecret', message: 'clientSecret must be at most 256 characters' },
    ])
  })
})

describe('POST /auth/login, audit trail', () => {
  it(
    'records issued tokens and failed logins without secrets or tokens',
    { timeout: 30_000 },
    async () => {
      const { clientId, clientSecret } = await createClient()
      const ok = await postJson('/auth/login', { clientId, clientSecret })
      const { token } = (await ok.json()) as { token: string }
      await postJson(
        '/auth/login',
        { clientId, clientSecret: 'wrong-secret' },
        { 'cf-connecting-ip': freshIp() },
      )

      // Audit events reach D1 through the audit queue, after the response; wait until both are
      // there.
      const rows = await eventuallyAudited(
        async () =>
          (
            await env.DB.prepare(
              'SELECT action, outcome, detail, request_id FROM audit_events ' +
                'WHERE target = ?1 ORDER BY occurred_at',
            )
              .bind(clientId)
              .all<{ action: string; outcome: string; detail: string }>()
          ).results,
        (found) => found.length >= 2,
      )
      expect(rows.map((r) => [r.action, r.outcome])).toEqual([
        ['token.issued', 'success'],
        ['login.failed', 'failure'],
      ])
      expect(JSON.parse(rows[1]!.detail)).toMatchObject({ reason: 'wrong_secret' })
      const dump = JSON.stringify(rows)
      expect(dump).not.toContain(clientSecret)
      expect(dump).not.toContain('wrong-secret')
      expect(dump).not.toContain(token)
    },
  )
})
