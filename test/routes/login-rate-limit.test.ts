// Failed logins throttle the address and the (client, address) pair, never a client id alone
// (SECURITY.md "Lockouts"), and operators can lift locks through the management API.
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { KV_PREFIX } from '../../src/storage/login-locks.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { createClient } from '../helpers/clients.ts'
import {
  expectProblem,
  freshIp,
  freshIpv6Prefix,
  inOneLimiterMinute,
  postForm,
  postJson,
} from '../helpers/http.ts'
import { eventually } from '../helpers/tokens.ts'

// wrangler.toml: 10 failures per (client, address) and 20 per address a minute, then a 60 s lock;
// over 50 failures of one client id a minute from anywhere is reported, never locked.
const PAIR_LIMIT = 10
const ADDRESS_LIMIT = 20
const SPIKE_THRESHOLD = 50
const SLOW = { timeout: 40_000 }

function login(clientId: string, clientSecret: string, ip: string) {
  return postJson('/auth/login', { clientId, clientSecret }, { 'cf-connecting-ip': ip })
}

/** A 429 `rate_limited` problem: the login was refused by a lock. */
function expectLocked(response: Response) {
  return expectProblem(response, 429, 'rate_limited')
}

/** `count` failed logins from `ip`, each for a client id nobody has: only the address counts up. */
async function failFrom(ip: string, count: number) {
  for (let i = 0; i < count; i++) {
    expect((await login(`unknown-${crypto.randomUUID()}`, 'guess', ip)).status).toBe(401)
  }
}

type AuditRow = {
  action: string
  outcome: string
  actor: string | null
  target: string | null
  detail: string
}

function auditEvents(action: string, target: string): Promise<AuditRow[]> {
  return env.DB.prepare(
    'SELECT action, outcome, actor, target, detail FROM audit_events ' +
      'WHERE action = ?1 AND target = ?2',
  )
    .bind(action, target)
    .all<AuditRow>()
    .then((r) => r.results)
}

describe('failed login throttling', () => {
  it(
    'lets the right secret through from a fresh address after many addresses failed ' +
      'for the client id',
    SLOW,
    inOneLimiterMinute(async () => {
      const victim = await createClient()
      // Client ids are public: anyone can fail for one, from as many addresses as they have.
      for (let i = 0; i < PAIR_LIMIT + 5; i++) {
        expect((await login(victim.clientId, `guess-${i}`, freshIp())).status).toBe(401)
      }
      expect((await login(victim.clientId, victim.clientSecret, freshIp())).status).toBe(200)
    }),
  )

  it(
    'locks the failing address for that client, even with its right secret, ' +
      'with 429 and Retry-After',
    SLOW,
    inOneLimiterMinute(async () => {
      const victim = await createClient()
      const other = await createClient()
      const attackerIp = freshIp()
      for (let i = 0; i < PAIR_LIMIT; i++) {
        expect((await login(victim.clientId, `guess-${i}`, attackerIp)).status).toBe(401)
      }
      const locked = await login(victim.clientId, 'one-more-guess', attackerIp)
      const body = await expectProblem(locked, 429, 'rate_limited')
      expect(locked.headers.get('retry-after')).toBe('60')
      expect(body.ack).toBe(899)

      await expectLocked(await login(victim.clientId, victim.clientSecret, attackerIp))
      // The client itself, from anywhere else, and other clients from that address are unaffected.
      expect((await login(victim.clientId, victim.clientSecret, freshIp())).status).toBe(200)
      expect((await login(other.clientId, other.clientSecret, attackerIp)).status).toBe(200)
    }),
  )

  it(
    'locks an address after too many failures across client ids, for every client',
    SLOW,
    inOneLimiterMinute(async () => {
      const ip = freshIp()
      await failFrom(ip, ADDRESS_LIMIT)
      await expectLocked(await login(`unknown-${crypto.randomUUID()}`, 'guess', ip))

      const client = await createClient()
      await expectLocked(await login(client.clientId, client.clientSecret, ip))
      expect((await login(client.clientId, client.clientSecret, freshIp())).status).toBe(200)
    }),
  )

  it(
    'counts an IPv6 address by its /64: two hosts of one /64 share a lock, another /64 does not',
    SLOW,
    inOneLimiterMinute(async () => {
      const prefix = freshIpv6Prefix()
      const client = await createClient()
      await failFrom(`${prefix}::1`, ADDRESS_LIMIT / 2)
      await failFrom(`${prefix}:0:0:0:2`.toUpperCase(), ADDRESS_LIMIT / 2)
      await expectLocked(
        await login(`unknown-${crypto.randomUUID()}`, 'guess', `${prefix}:ffff::3`),
      )
      await expectLocked(await login(client.clientId, client.clientSecret, `${prefix}::4`))

      const neighbour = `${freshIpv6Prefix()}::1`
      expect((await login(client.clientId, client.clientSecret, neighbour)).status).toBe(200)
    }),
  )

  it(
    'counts an IPv4-mapped IPv6 address as the IPv4 address',
    SLOW,
    inOneLimiterMinute(async () => {
      const ip = freshIp()
      await failFrom(`::ffff:${ip}`, ADDRESS_LIMIT)
      await expectLocked(await login(`unknown-${crypto.randomUUID()}`, 'guess', ip))
      const client = await createClient()
      await expectLocked(await login(client.clientId, client.clientSecret, ip))
    }),
  )

  it(
    'counts failures at /oauth/token too, answering in the OAuth shape',
    SLOW,
    inOneLimiterMinute(async () => {
      const client = await createClient()
      const ip = freshIp()
      const attempt = (secret: string) =>
        postForm(
          '/oauth/token',
          { grant_type: 'client_credentials', client_id: client.clientId, client_secret: secret },
          { 'cf-connecting-ip': ip },
        )
      for (let i = 0; i < PAIR_LIMIT; i++) expect((await attempt(`guess-${i}`)).status).toBe(401)
      const body = await expectProblem(
        await attempt('guess'),
        429,
        'rate_limited',
        'application/json',
      )
      expect(body.error).toBe('rate_limited')
    }),
  )

  it(
    'does not count successful logins',
    SLOW,
    inOneLimiterMinute(async () => {
      const client = await createClient()
      const ip = freshIp()
      for (let i = 0; i < ADDRESS_LIMIT + 5; i++) {
        expect((await login(client.clientId, client.clientSecret, ip)).status).toBe(200)
      }
    }),
  )

  it(
    'keys locks by hashes only, whatever the client id holds',
    SLOW,
    inOneLimiterMinute(async () => {
      const clientId = `\u0000\u001b[31m${'x'.repeat(150)}\n:${crypto.randomUUID()}`
      const ip = freshIp()
      for (let i = 0; i < PAIR_LIMIT; i++)
        expect((await login(clientId, 'guess', ip)).status).toBe(401)
      await expectLocked(await login(clientId, 'guess', ip))

      const { keys } = await env.CACHE.list({ prefix: KV_PREFIX })
      expect(keys.length).toBeGreaterThan(0)
      for (const { name } of keys)
        expect(name).toMatch(/^login-lock:(ip:[0-9a-f]{64}|pair:[0-9a-f]{64}:[0-9a-f]{64})$/)
    }),
  )
})

describe('failures of one client id from many addresses', () => {
  it(
    'are logged and audited once as login.spike, and lock nothing',
    { timeout: 60_000 },
    inOneLimiterMinute(async () => {
      const warn = vi.spyOn(console, 'warn')
      const victim = await createClient()
      for (let i = 0; i < SPIKE_THRESHOLD + 10; i++) {
        expect((await login(victim.clientId, `guess-${i}`, freshIp())).status).toBe(401)
      }
      expect((await login(victim.clientId, victim.clientSecret, freshIp())).status).toBe(200)

      const reports = warn.mock.calls.filter(([line]) => String(line).includes(victim.clientId))
      expect(reports).toHaveLength(1)
      expect(JSON.parse(String(reports[0]![0]))).toMatchObject({
        level: 'warn',
        message: 'failed logins for one client id from many addresses',
        clientId: victim.clientId,
      })
      const events = await eventually(
        () => auditEvents('login.spike', victim.clientId),
        (rows) => rows.length > 0,
      )
      expect(events).toEqual([
        {
          action: 'login.spike',
          outcome: 'failure',
          actor: null,
          target: victim.clientId,
          detail: '{"via":"auth/login:bridge"}',
        },
      ])
    }),
  )
})

describe('DELETE /admin/clients/{id}/login-locks', () => {
  it(
    "lifts the client's locks from every address, audited",
    SLOW,
    inOneLimiterMinute(async () => {
      const admin = await adminToken()
      const client = await createClient()
      const [first, second] = [freshIp(), freshIp()]
      for (const ip of [first, second]) {
        for (let i = 0; i <= PAIR_LIMIT; i++) await login(client.clientId, 'guess', ip)
        await expectLocked(await login(client.clientId, client.clientSecret, ip))
      }

      const response = await adminCall(
        admin,
        'DELETE',
        `/admin/clients/${encodeURIComponent(client.clientId)}/login-locks`,
      )
      expect(response.status).toBe(204)
      for (const ip of [first, second])
        expect((await login(client.clientId, client.clientSecret, ip)).status).toBe(200)

      const events = await eventually(
        () => auditEvents('client.unlock', client.clientId),
        (rows) => rows.length > 0,
      )
      expect(events).toEqual([
        expect.objectContaining({
          outcome: 'success',
          actor: expect.any(String),
          detail: '{"status":204,"locks_removed":2}',
        }),
      ])
    }),
  )

  it('answers 404 for an unknown client', async () => {
    const response = await adminCall(
      await adminToken(),
      'DELETE',
      `/admin/clients/missing-${crypto.randomUUID()}/login-locks`,
    )
    await expectProblem(response, 404, 'not_found')
  })
})

describe('DELETE /admin/login-locks', () => {
  it(
    "lifts an address's lock (an IPv6 /64, named by any of its addresses), audited",
    SLOW,
    inOneLimiterMinute(async () => {
      const admin = await adminToken()
      const client = await createClient()
      const prefix = freshIpv6Prefix()
      await failFrom(`${prefix}::1`, ADDRESS_LIMIT)
      await expectLocked(await login(`unknown-${crypto.randomUUID()}`, 'guess', `${prefix}::1`))
      await expectLocked(await login(client.clientId, client.clientSecret, `${prefix}::1`))

      const named = `${prefix}::abcd`
      const response = await adminCall(
        admin,
        'DELETE',
        `/admin/login-locks?ip=${encodeURIComponent(named)}`,
      )
      expect(response.status).toBe(204)
      expect((await login(client.clientId, client.clientSecret, `${prefix}::1`)).status).toBe(200)

      const events = await eventually(
        () => auditEvents('address.unlock', named),
        (rows) => rows.length > 0,
      )
      expect(events).toEqual([
        expect.objectContaining({ outcome: 'success', actor: expect.any(String) }),
      ])
    }),
  )

  it('answers 400 naming ip when it is missing or not an address', async () => {
    const admin = await adminToken()
    for (const query of ['', '?ip=', '?ip=not-an-address', '?ip=10.0.0.256']) {
      const body = await expectProblem(
        await adminCall(admin, 'DELETE', `/admin/login-locks${query}`),
        400,
        'invalid_request',
      )
      expect(body.errors).toEqual([{ path: 'ip', message: 'ip must be an IPv4 or IPv6 address' }])
    }
  })
})
