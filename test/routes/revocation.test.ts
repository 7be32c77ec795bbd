import { env } from 'cloudflare:workers'
import { createScheduledController } from 'cloudflare:test'
import { decodeJwt } from 'jose'
import { describe, expect, it, vi } from 'vitest'
import worker from '../../src/index.ts'
import { eventuallyAudited } from '../helpers/audit.ts'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, expectProblem, freshIp, inOneLimiterMinute, postForm } from '../helpers/http.ts'
import { claims, signToken } from '../helpers/keys.ts'
import { eventually, tokenFor } from '../helpers/tokens.ts'
import { clientRecordKeys } from '../../src/storage/client-records.ts'
import { tombstoneKey } from '../../src/storage/token-tombstones.ts'

function revoke(client: { clientId: string; clientSecret: string }, token: string) {
  return postForm(
    '/oauth/revoke',
    { token },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  )
}

async function isActive(token: string): Promise<boolean> {
  const auditor = await createClient({ allowedScopes: ['tokens:introspect:any'] })
  const response = await postForm(
    '/oauth/introspect',
    { token },
    { authorization: `Bearer ${await tokenFor(auditor)}` },
  )
  return ((await response.json()) as { active: boolean }).active
}

describe('POST /oauth/revoke (RFC 7009)', () => {
  it('revokes the owner’s token: 200, empty body, inactive at once', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    expect(await isActive(token)).toBe(true)
    const response = await revoke(owner, token)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('')
    expect(await isActive(token)).toBe(false)
    const row = await env.DB.prepare(
      'SELECT client_id, expires_at FROM revoked_tokens WHERE jti = ?1',
    )
      .bind(decodeJwt(token).jti)
      .first<{ client_id: string; expires_at: number }>()
    expect(row?.client_id).toBe(owner.clientId)
  })

  it('answers 200 again for an already revoked token', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    expect((await revoke(owner, token)).status).toBe(200)
    expect((await revoke(owner, token)).status).toBe(200)
  })

  it('answers 200 for something that is not a token, and stores nothing', async () => {
    const owner = await createClient()
    const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM revoked_tokens').first<{
      n: number
    }>()
    expect((await revoke(owner, 'not-a-token')).status).toBe(200)
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM revoked_tokens').first<{
      n: number
    }>()
    expect(after?.n).toBe(before?.n)
  })

  it('leaves another client’s token alone, still answering 200', async () => {
    const owner = await createClient()
    const other = await createClient()
    const token = await tokenFor(owner)
    expect((await revoke(other, token)).status).toBe(200)
    expect(await isActive(token)).toBe(true)
  })

  // The owner's own jti under its own client_id, signed by the real key: a revocation acting on a
  // token Portero would refuse could end the genuine token that shares its jti.
  it.each<[string, (claims: Record<string, unknown>) => void]>([
    ['without aud', (c) => delete c.aud],
    ['without scope', (c) => delete c.scope],
    ['with an iat an hour ahead', (c) => (c.iat = Math.floor(Date.now() / 1000) + 3600)],
    ['with an exp ten years ahead', (c) => (c.exp = (c.iat as number) + 10 * 365 * 86400)],
    ['whose sub is another client', (c) => (c.sub = `other-${crypto.randomUUID()}`)],
  ])('answers 200 and revokes nothing for a token %s', async (_, change) => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const claims = { ...decodeJwt(token) }
    change(claims)
    expect((await revoke(owner, await signToken(claims))).status).toBe(200)
    const row = await env.DB.prepare('SELECT 1 FROM revoked_tokens WHERE jti = ?1')
      .bind(decodeJwt(token).jti)
      .first()
    expect(row).toBeNull()
    expect(await isActive(token)).toBe(true)
  })

  it('accepts client_secret_post', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const response = await postForm('/oauth/revoke', {
      token,
      client_id: owner.clientId,
      client_secret: owner.clientSecret,
    })
    expect(response.status).toBe(200)
    expect(await isActive(token)).toBe(false)
  })

  it('answers 401 invalid_client without client authentication, and revokes nothing', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const response = await postForm('/oauth/revoke', { token })
    await expectProblem(response, 401, 'invalid_client', 'application/json')
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="portero"')
    expect(await isActive(token)).toBe(true)
  })

  it('answers 401 for a wrong secret', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const response = await postForm(
      '/oauth/revoke',
      { token },
      {
        authorization: basicAuth(owner.clientId, 'wrong'),
        'cf-connecting-ip': freshIp(),
      },
    )
    await expectProblem(response, 401, 'invalid_client', 'application/json')
    expect(await isActive(token)).toBe(true)
  })

  it('answers 400 without token', async () => {
    const owner = await createClient()
    await expectProblem(
      await postForm(
        '/oauth/revoke',
        {},
        { authorization: basicAuth(owner.clientId, owner.clientSecret) },
      ),
      400,
      'invalid_request',
      'application/json',
    )
  })

  it('records the revocation in the audit log without the token', { timeout: 30_000 }, async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    await revoke(owner, token)
    const rows = await eventuallyAudited(
      async () =>
        (
          await env.DB.prepare(
            "SELECT detail FROM audit_events WHERE action = 'token.revoked' AND actor = ?1",
          )
            .bind(owner.clientId)
            .all<{ detail: string }>()
        ).results,
      (r) => r.length > 0,
    )
    expect(JSON.parse(rows[0]!.detail)).toEqual({ outcome: 'revoked' })
    expect(JSON.stringify(rows)).not.toContain(token)
  })
})

// SECURITY.md "Lockouts": RFC 7009 answers 200 whether or not anything was revoked, so a
// revocation of nothing counts as a failed attempt of the client from its address (wrangler.toml:
// 10 a minute).
// A revocation is written twice (decisions.md D8): a KV tombstone, which every check reads, and a
// D1 row, which a check reads where the client's record is not at the edge. Each test leaves only
// one of them, so each fails when that one is not written or not read.
describe('POST /oauth/revoke, each record of a revocation on its own', () => {
  it('refuses the token by its tombstone alone, with no D1 row', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const jti = decodeJwt(token).jti!
    expect(await isActive(token)).toBe(true)
    expect((await revoke(owner, token)).status).toBe(200)
    expect(await env.CACHE.get(await tombstoneKey(jti))).toBe('1')
    await env.DB.prepare('DELETE FROM revoked_tokens WHERE jti = ?1').bind(jti).run()
    expect(await isActive(token)).toBe(false)
  })

  it('refuses the token by its D1 row alone where neither tombstone nor client is at the edge', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    const jti = decodeJwt(token).jti!
    expect(await isActive(token)).toBe(true)
    expect((await revoke(owner, token)).status).toBe(200)
    // Another location: KV has neither the tombstone nor the client's record yet.
    const { published, filled } = (await clientRecordKeys(owner.clientId))!
    await Promise.all(
      [tombstoneKey(jti), published, filled].map(async (k) => env.CACHE.delete(await k)),
    )
    expect(await isActive(token)).toBe(false)
    // And the check writes the tombstone back from D1.
    const restored = await eventually(
      async () => env.CACHE.get(await tombstoneKey(jti)),
      (value) => value !== null,
    )
    expect(restored).toBe('1')
  })
})

describe('POST /oauth/revoke throttling', () => {
  const PAIR_LIMIT = 10
  const SLOW = { timeout: 40_000 }
  const revokeFrom = (
    client: { clientId: string; clientSecret: string },
    ip: string,
    token: string,
  ) =>
    postForm(
      '/oauth/revoke',
      { token },
      { authorization: basicAuth(client.clientId, client.clientSecret), 'cf-connecting-ip': ip },
    )

  it(
    'answers 429 once a client revokes nothing too often from one address',
    SLOW,
    inOneLimiterMinute(async () => {
      const client = await createClient()
      const foreign = await tokenFor(await createClient())
      const ip = freshIp()
      for (let i = 0; i < PAIR_LIMIT; i++) {
        expect((await revokeFrom(client, ip, i % 2 ? foreign : `not-a-token-${i}`)).status).toBe(
          200,
        )
      }
      const refused = await revokeFrom(client, ip, 'not-a-token')
      await expectProblem(refused, 429, 'rate_limited', 'application/json')
      expect(refused.headers.get('retry-after')).toBe('60')

      // From another address the client still revokes its own tokens; the other's token is
      // untouched.
      const own = await tokenFor(client)
      expect((await revokeFrom(client, freshIp(), own)).status).toBe(200)
      expect(await isActive(own)).toBe(false)
      expect(await isActive(foreign)).toBe(true)
    }),
  )

  it(
    'does not count revoking its own tokens, expired ones included',
    SLOW,
    inOneLimiterMinute(async () => {
      const client = await createClient()
      const ip = freshIp()
      const now = Math.floor(Date.now() / 1000)
      const expired = await signToken(
        claims({
          sub: client.clientId,
          client_id: client.clientId,
          iat: now - 120,
          nbf: now - 120,
          exp: now - 60,
        }),
      )
      for (let i = 0; i < PAIR_LIMIT + 2; i++) {
        expect(
          (await revokeFrom(client, ip, i % 2 ? expired : await tokenFor(client))).status,
        ).toBe(200)
      }
    }),
  )
})

describe('scheduled clean-up', () => {
  it('purges revocation rows of tokens that have expired, and keeps the others', async () => {
    const now = Math.floor(Date.now() / 1000)
    const [expired, live] = [crypto.randomUUID(), crypto.randomUUID()]
    await env.DB.batch([
      env.DB.prepare(
        'INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES (?1, ?2, ?3)',
      ).bind(expired, 'c', now - 10),
      env.DB.prepare(
        'INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES (?1, ?2, ?3)',
      ).bind(live, 'c', now + 600),
    ])
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(), cron: '7 * * * *' }),
      env,
    )
    const { results } = await env.DB.prepare('SELECT jti FROM revoked_tokens WHERE jti IN (?1, ?2)')
      .bind(expired, live)
      .all<{ jti: string }>()
    expect(results.map((r) => r.jti)).toEqual([live])
  })

  it('logs how much each part did, every count readable (none taken for a secret)', async () => {
    const lines: string[] = []
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line))
    vi.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line))
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(), cron: '7 * * * *' }),
      env,
    )
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.message === 'scheduled clean-up')
    expect(line).toBeDefined()
    const counts = Object.entries(line).filter(
      ([key]) => !['level', 'message', 'time'].includes(key),
    )
    expect(counts.length).toBeGreaterThan(5)
    for (const [key, value] of counts) expect(value, key).not.toBe('[redacted]')
  })
})
