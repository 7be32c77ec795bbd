import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { MAX_WEBHOOK_ENDPOINTS, webhookUrlProblem } from '../../src/domain/webhooks.ts'
import { createClient } from '../helpers/clients.ts'
import { call, postJson } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'
import {
  createWebhookProvider,
  RECEIVER,
  registerEndpoint,
  type WebhookProvider,
} from '../helpers/webhooks.ts'

const bearer = (p: WebhookProvider) => ({ authorization: `Bearer ${p.token}` })

function send(p: WebhookProvider, method: string, path: string, body?: unknown) {
  return call(path, {
    method,
    headers: {
      ...bearer(p),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

async function expectFieldError(response: Response, path: string, message: RegExp) {
  expect(response.status).toBe(400)
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  const problem = (await response.json()) as {
    code: string
    errors: Array<{ path: string; message: string }>
  }
  expect(problem.code).toBe('invalid_request')
  expect(problem.errors).toContainEqual({ path, message: expect.stringMatching(message) })
}

describe('POST /webhooks', () => {
  it('registers an endpoint and shows its secret this once', async () => {
    const provider = await createWebhookProvider()
    const url = `${RECEIVER}/${crypto.randomUUID()}`
    const response = await postJson(
      '/webhooks',
      { url, event_types: ['message.delivered', 'message.dead', 'message.delivered'] },
      bearer(provider),
    )
    expect(response.status).toBe(201)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = (await response.json()) as Record<string, unknown> & { id: string }
    expect(response.headers.get('location')).toBe(`/webhooks/${body.id}`)
    expect(body).toMatchObject({
      id: expect.stringMatching(/^ep_[0-9a-f]{32}$/),
      url,
      event_types: ['message.delivered', 'message.dead'],
      enabled: true,
      disabled_reason: null,
      consecutive_failures: 0,
      previous_secret_valid_until: null,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    })
    // ≥ 24 random bytes (32 here).
    expect(atob((body.secret as string).slice(6)).length).toBe(32)

    const read = await call(`/webhooks/${body.id}`, { headers: bearer(provider) })
    expect(read.status).toBe(200)
    const readBody = await read.text()
    expect(readBody).not.toContain('secret"')
    expect(readBody).not.toContain((body.secret as string).slice(6))
    // Never in clear in D1 either.
    const row = await env.DB.prepare('SELECT secret FROM webhook_endpoints WHERE id = ?1')
      .bind(body.id)
      .first<{ secret: string }>()
    expect(row!.secret).toMatch(/^v1\./)
    expect(row!.secret).not.toContain((body.secret as string).slice(6, 20))
  })

  it.each([
    ['http://hooks.example.com/x', /must be https/],
    ['https://user:pass@hooks.example.com/x', /must not carry credentials/],
    ['https://portero.test/webhooks', /must not point at Portero itself/],
    ['https://PORTERO.test./x', /must not point at Portero itself/],
    ['https://localhost:8788/x', /localhost only in development/],
    ['https://127.0.0.1/x', /localhost only in development/],
    ['https://10.0.0.8/x', /private or special-use address \(private\)/],
    ['https://[::ffff:10.0.0.8]/x', /special-use address \(ipv4Mapped\)/],
    ['https://[::ffff:127.0.0.1]/x', /special-use address \(ipv4Mapped\)/],
    ['https://a.b.localhost/x', /localhost only in development/],
    ['https://hooks.example.com/x#frag', /fragment/],
    ['not a url', /absolute https URL/],
    [`https://hooks.example.com/${'a'.repeat(2000)}`, /at most 2000/],
  ])('refuses the url %s', async (url, message) => {
    const provider = await createWebhookProvider()
    const response = await postJson(
      '/webhooks',
      { url, event_types: ['message.delivered'] },
      bearer(provider),
    )
    await expectFieldError(response, 'url', message)
  })

  it.each([
    [[], /at least one event type/],
    [['message.opened'], /event_types lists message\.sent/],
    ['message.delivered', /event_types lists/],
  ])('refuses event_types %j', async (eventTypes, message) => {
    const provider = await createWebhookProvider()
    const response = await postJson(
      '/webhooks',
      { url: `${RECEIVER}/x`, event_types: eventTypes },
      bearer(provider),
    )
    await expectFieldError(
      response,
      'event_types' + (Array.isArray(eventTypes) && eventTypes.length ? '.0' : ''),
      message,
    )
  })

  it(`refuses a provider's endpoint beyond ${MAX_WEBHOOK_ENDPOINTS} with 409`, async () => {
    const provider = await createWebhookProvider()
    for (let i = 0; i < MAX_WEBHOOK_ENDPOINTS; i++) await registerEndpoint(provider)
    const response = await postJson(
      '/webhooks',
      { url: `${RECEIVER}/one-more`, event_types: ['message.sent'] },
      bearer(provider),
    )
    expect(response.status).toBe(409)
    expect(((await response.json()) as { code: string }).code).toBe('conflict')
  })

  it('answers 403 forbidden for an operator token without a provider', async () => {
    const operator = await createClient({ providerId: null, allowedScopes: ['services:send'] })
    const response = await postJson(
      '/webhooks',
      { url: `${RECEIVER}/x`, event_types: ['message.sent'] },
      { authorization: `Bearer ${await tokenFor(operator)}` },
    )
    expect(response.status).toBe(403)
    expect(((await response.json()) as { code: string }).code).toBe('forbidden')
  })
})

describe('webhookUrlProblem', () => {
  const development = ['http://localhost:8787']
  const production = ['https://portero.test']

  // Every special-use range, in the spellings URL accepts (it rewrites 0x7f.1 and 2130706433 to
  // 127.0.0.1, and ::ffff:127.0.0.1 to ::ffff:7f00:1 before the filter sees them).
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.8', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['169.254.169.254', 'linkLocal'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.254', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['[::]', 'unspecified'],
    ['[fd00::1]', 'uniqueLocal'],
    ['[fc00::1]', 'uniqueLocal'],
    ['[fe80::1]', 'linkLocal'],
    ['[ff02::1]', 'multicast'],
    ['[::ffff:10.0.0.8]', 'ipv4Mapped'],
    ['[::ffff:127.0.0.1]', 'ipv4Mapped'],
    ['[::ffff:169.254.169.254]', 'ipv4Mapped'],
    ['[::ffff:8.8.8.8]', 'ipv4Mapped'],
    ['[::10.0.0.8]', 'ipv4Compatible'],
    ['[::127.0.0.1]', 'ipv4Compatible'],
    ['[64:ff9b::a00:8]', 'rfc6052'],
    ['[64:ff9b::127.0.0.1]', 'rfc6052'],
    ['[2002:a00:8::1]', '6to4'],
    ['[2002:7f00:1::]', '6to4'],
    ['[2001::1]', 'teredo'],
    ['[2001:db8::1]', 'reserved'],
  ])('refuses %s (%s) in production', (host, range) => {
    expect(webhookUrlProblem(`https://${host}/hook`, production)).toBe(
      `must be a public host, not a private or special-use address (${range})`,
    )
  })

  it.each(['0x7f.1', '2130706433', '127.1', '127.0.0.1', '[::1]', 'localhost', 'a.b.localhost'])(
    'refuses the loopback host %s in production',
    (host) => {
      expect(webhookUrlProblem(`https://${host}/hook`, production)).toMatch(
        /localhost only in development/,
      )
    },
  )

  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '198.20.0.1', '[2606:4700::1111]', 'a.example'])(
    'accepts the public host %s',
    (host) => {
      expect(webhookUrlProblem(`https://${host}/hook`, production)).toBeNull()
    },
  )

  it('allows the stand-in on localhost, over http too, when Portero runs on localhost', () => {
    expect(webhookUrlProblem('http://localhost:8788/webhooks/receiver/a', development)).toBeNull()
    expect(webhookUrlProblem('http://127.0.0.1:9000/x', development)).toBeNull()
  })
  it("refuses Portero's own port on localhost", () => {
    expect(webhookUrlProblem('http://localhost:8787/x', development)).toMatch(/Portero itself/)
  })
  it("refuses API_RESOURCE's host as well as the issuer's", () => {
    const own = ['https://auth.example.com', 'https://api.example.com']
    expect(webhookUrlProblem('https://api.example.com/hook', own)).toMatch(/Portero itself/)
    expect(webhookUrlProblem('https://api.example.com:8443/hook', own)).toMatch(/Portero itself/)
    expect(webhookUrlProblem('https://hooks.example.com/hook', own)).toBeNull()
  })
})

describe('GET /webhooks', () => {
  it("pages the provider's own endpoints, never another's", async () => {
    const provider = await createWebhookProvider()
    const other = await createWebhookProvider()
    const mine = [await registerEndpoint(provider), await registerEndpoint(provider)]
    const theirs = await registerEndpoint(other)
    const first = await call('/webhooks?limit=1', { headers: bearer(provider) })
    const page1 = (await first.json()) as {
      items: Array<{ id: string }>
      next_cursor: string
      links: { next: string }
    }
    expect(page1.items).toHaveLength(1)
    const second = await call(page1.links.next, { headers: bearer(provider) })
    const page2 = (await second.json()) as { items: Array<{ id: string }>; next_cursor: null }
    expect(page2.next_cursor).toBeNull()
    const ids = [...page1.items, ...page2.items].map((e) => e.id)
    expect(ids.sort()).toEqual(mine.map((e) => e.id).sort())
    const foreign = await call(`/webhooks/${theirs.id}`, { headers: bearer(provider) })
    expect(foreign.status).toBe(404)
    const bad = await call('/webhooks?cursor=bm9wZQ', { headers: bearer(provider) })
    expect(bad.status).toBe(400)
  })

  it('answers 404 for a malformed or unknown id', async () => {
    const provider = await createWebhookProvider()
    for (const id of ['nope', `ep_${'0'.repeat(32)}`]) {
      const response = await call(`/webhooks/${id}`, { headers: bearer(provider) })
      expect(response.status).toBe(404)
      expect(((await response.json()) as { code: string }).code).toBe('not_found')
    }
  })
})

describe('PATCH and DELETE /webhooks/{id}', () => {
  it('changes the url and event types, validated as at registration', async () => {
    const provider = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    const url = `${RECEIVER}/moved-${crypto.randomUUID()}`
    const changed = await send(provider, 'PATCH', `/webhooks/${endpoint.id}`, {
      url,
      event_types: ['message.failed'],
    })
    expect(changed.status).toBe(200)
    expect(await changed.json()).toMatchObject({ url, event_types: ['message.failed'] })
    const refused = await send(provider, 'PATCH', `/webhooks/${endpoint.id}`, {
      url: 'https://portero.test/x',
    })
    await expectFieldError(refused, 'url', /Portero itself/)
    const empty = await send(provider, 'PATCH', `/webhooks/${endpoint.id}`, {})
    expect(empty.status).toBe(400)
  })

  it('disables by the provider and re-enables', async () => {
    const provider = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    const off = await send(provider, 'PATCH', `/webhooks/${endpoint.id}`, { enabled: false })
    expect(await off.json()).toMatchObject({
      enabled: false,
      disabled_reason: 'disabled by the provider',
    })
    const on = await send(provider, 'PATCH', `/webhooks/${endpoint.id}`, { enabled: true })
    expect(await on.json()).toMatchObject({ enabled: true, disabled_reason: null })
  })

  it("answers 404 to another provider's PATCH and changes nothing", async () => {
    const provider = await createWebhookProvider()
    const other = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    for (const change of [
      { url: `${RECEIVER}/stolen-${crypto.randomUUID()}` },
      { enabled: false },
      { event_types: ['message.failed'] },
    ]) {
      const response = await send(other, 'PATCH', `/webhooks/${endpoint.id}`, change)
      expect(response.status, JSON.stringify(change)).toBe(404)
      expect(((await response.json()) as { code: string }).code).toBe('not_found')
    }
    const read = await send(provider, 'GET', `/webhooks/${endpoint.id}`)
    expect(await read.json()).toMatchObject({
      url: endpoint.url,
      enabled: true,
      event_types: ['message.delivered', 'message.undelivered'],
    })
  })

  it('deletes the endpoint; another provider cannot', async () => {
    const provider = await createWebhookProvider()
    const other = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    expect((await send(other, 'DELETE', `/webhooks/${endpoint.id}`)).status).toBe(404)
    expect((await send(provider, 'DELETE', `/webhooks/${endpoint.id}`)).status).toBe(204)
    expect((await send(provider, 'GET', `/webhooks/${endpoint.id}`)).status).toBe(404)
  })
})

describe('POST /webhooks/{id}/secret/rotate', () => {
  it('shows a new secret once, with the overlap it was asked for (default 24 h)', async () => {
    const provider = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    const before = Date.now()
    const response = await send(provider, 'POST', `/webhooks/${endpoint.id}/secret/rotate`, {})
    expect(response.status).toBe(200)
    const body = (await response.json()) as { secret: string; previous_secret_valid_until: string }
    expect(body.secret).toMatch(/^whsec_/)
    expect(body.secret).not.toBe(endpoint.secret)
    const until = Date.parse(body.previous_secret_valid_until)
    expect(until - before).toBeGreaterThan(24 * 3600 * 1000 - 5000)
    expect(until - before).toBeLessThan(24 * 3600 * 1000 + 5000)

    const none = await send(provider, 'POST', `/webhooks/${endpoint.id}/secret/rotate`, {
      overlap_seconds: 0,
    })
    expect(await none.json()).toMatchObject({ previous_secret_valid_until: null })
  })

  it("answers 404 to another provider's rotation and keeps the secret", async () => {
    const provider = await createWebhookProvider()
    const other = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    const sealed = () =>
      env.DB.prepare('SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ?1')
        .bind(endpoint.id)
        .first<{ secret: string; previous_secret: string | null }>()
    const before = await sealed()
    const response = await send(other, 'POST', `/webhooks/${endpoint.id}/secret/rotate`, {})
    expect(response.status).toBe(404)
    const body = (await response.json()) as Record<string, unknown>
    expect(body.code).toBe('not_found')
    expect(body).not.toHaveProperty('secret')
    expect(await sealed()).toEqual(before)
  })

  it('refuses an overlap over 7 days', async () => {
    const provider = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    const response = await send(provider, 'POST', `/webhooks/${endpoint.id}/secret/rotate`, {
      overlap_seconds: 7 * 24 * 3600 + 1,
    })
    await expectFieldError(response, 'overlap_seconds', /at most 7 days/)
  })
})

describe('GET /webhooks/{id}/attempts', () => {
  it('pages the recent attempts, newest first', async () => {
    const provider = await createWebhookProvider()
    const endpoint = await registerEndpoint(provider)
    for (const [attempt, status, outcome] of [
      [1, 500, 'retrying'],
      [2, 200, 'succeeded'],
    ] as const) {
      await env.DB.prepare(
        `INSERT INTO webhook_attempts (event_id, endpoint_id, attempt, attempted_at, http_status,
           duration_ms, outcome) VALUES ('msg_test', ?1, ?2, ?3, ?4, 12, ?5)`,
      )
        .bind(endpoint.id, attempt, new Date().toISOString(), status, outcome)
        .run()
    }
    const first = await call(`/webhooks/${endpoint.id}/attempts?limit=1`, {
      headers: bearer(provider),
    })
    expect(first.status).toBe(200)
    const page1 = (await first.json()) as { items: unknown[]; links: { next: string } }
    expect(page1.items).toEqual([
      expect.objectContaining({ event_id: 'msg_test', attempt: 2, http_status: 200 }),
    ])
    const page2 = (await (await call(page1.links.next, { headers: bearer(provider) })).json()) as {
      items: unknown[]
      next_cursor: null
    }
    expect(page2.items).toEqual([
      expect.objectContaining({ attempt: 1, http_status: 500, outcome: 'retrying' }),
    ])
    expect(page2.next_cursor).toBeNull()
    const other = await createWebhookProvider()
    const foreign = await call(`/webhooks/${endpoint.id}/attempts`, { headers: bearer(other) })
    expect(foreign.status).toBe(404)
  })
})
