// GET /admin/audit through the Worker's fetch handler: issued tokens, failed logins, revocations
// and admin actions recorded with actor, target, request id and outcome; the filters; paging newest
// first; and no secret, token or Authorization header value in any event. Admin actions are written
// after the response (waitUntil); per-request events travel through the audit queue, which the
// local runtime delivers by itself within a second or so: every read polls. How events reach the
// log (no D1 write on the request path, refused calls counted) and the retention purge are tested
// with the queue's batch handed to the consumer by the test itself.
import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { app } from '../../../src/app.ts'
import { loadAuditRetentionDays } from '../../../src/config.ts'
import worker from '../../../src/index.ts'
import { insertAuditEvent } from '../../../src/storage/audit-events.ts'
import { adminCall, json, walkPages, type Page } from '../../helpers/admin.ts'
import {
  consumeAudit,
  countingDb,
  eventuallyAudited,
  keptQueue,
  writes,
} from '../../helpers/audit.ts'
import { createClient, createProvider, type TestClient } from '../../helpers/clients.ts'
import {
  basicAuth,
  call,
  expectProblem,
  freshIp,
  ORIGIN,
  postForm,
  postJson,
} from '../../helpers/http.ts'
import { tokenFor } from '../../helpers/tokens.ts'

type AuditView = {
  id: number
  occurred_at: string
  last_occurred_at: string
  count: number
  action: string
  outcome: 'success' | 'failure'
  actor: string | null
  target: string | null
  request_id: string | null
  ip: string | null
  detail: Record<string, unknown>
}
type Created = { client_id: string; client_secret: string; provider_id: string | null }

const STORED_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

let admin: string

beforeAll(async () => {
  admin = await tokenFor(await createClient({ providerId: null, allowedScopes: ['admin'] }))
})

/** A fresh operator, so that `actor=` finds only what this test did. */
async function newOperator(): Promise<{ id: string; token: string }> {
  const operator = await createClient({ providerId: null, allowedScopes: ['admin'] })
  return { id: operator.clientId, token: await tokenFor(operator) }
}

const walk = (first: string) => walkPages<AuditView>(admin, first)

/** Every event matching `query`, newest first. */
async function events(query: string): Promise<AuditView[]> {
  const { pages } = await walk(`/admin/audit?limit=100&${query}`)
  return pages.flatMap((p) => p.items)
}

/** The events matching `query`, once at least `count` have landed (after the responses). */
async function eventsOnce(query: string, count: number): Promise<AuditView[]> {
  const found = await eventuallyAudited(
    () => events(query),
    (list) => list.length >= count,
  )
  expect(found.length).toBeGreaterThanOrEqual(count)
  return found
}

function requestIdOf(response: Response): string {
  const id = response.headers.get('x-request-id')
  expect(id).toMatch(/^[0-9a-f-]{36}$/)
  return id!
}

function login(client: TestClient, ip = freshIp()): Promise<Response> {
  return postForm(
    '/oauth/token',
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, client.clientSecret), 'cf-connecting-ip': ip },
  )
}

async function createOverHttp(token: string, body: Record<string, unknown> = {}) {
  const response = await adminCall(token, 'POST', '/admin/clients', {
    provider_id: await createProvider(),
    name: `client ${crypto.randomUUID()}`,
    allowed_scopes: ['services:send', 'tokens:introspect'],
    ...body,
  })
  return { response, created: await json<Created>(response.clone(), 201) }
}

describe('GET /admin/audit: what is recorded', { timeout: 60_000 }, () => {
  it('records token.issued with actor, target, request id, address and jti', async () => {
    const client = await createClient()
    const ip = freshIp()
    const response = await login(client, ip)
    const { access_token: token, scope } = await json<{ access_token: string; scope: string }>(
      response,
    )
    const bridge = await postJson(
      '/auth/login',
      { clientId: client.clientId, clientSecret: client.clientSecret },
      { 'cf-connecting-ip': ip },
    )
    const bridgeToken = (await json<{ token: string }>(bridge)).token

    const [second, first] = await eventsOnce(`action=token.issued&target=${client.clientId}`, 2)
    expect(first).toEqual({
      id: expect.any(Number),
      occurred_at: expect.stringMatching(STORED_TIME),
      last_occurred_at: first!.occurred_at,
      count: 1,
      action: 'token.issued',
      outcome: 'success',
      actor: client.clientId,
      target: client.clientId,
      request_id: requestIdOf(response),
      ip,
      detail: { via: 'oauth/token', jti: decodeJwt(token).jti, scope, aud: [env.ISSUER] },
    })
    expect(second).toMatchObject({
      request_id: requestIdOf(bridge),
      detail: { via: 'auth/login:bridge', jti: decodeJwt(bridgeToken).jti },
    })
    expect(second!.occurred_at > first!.occurred_at).toBe(true)
  })

  it('records login.failed with the reason, and no actor', async () => {
    const client = await createClient()
    const disabled = await createClient({ status: 'disabled' })
    const unknownId = `missing-${crypto.randomUUID()}`
    const ip = freshIp()
    const wrong = await login({ ...client, clientSecret: 'not-the-secret-not-the-secret-1234' }, ip)
    expect(wrong.status).toBe(401)
    const yativo = await postJson(
      '/auth/login',
      { account_id: client.clientId, app_secret: 'still-not-the-secret-at-all-5678' },
      { 'cf-connecting-ip': ip },
    )
    expect(yativo.status).toBe(401)
    expect((await login(disabled)).status).toBe(401)
    expect((await login({ ...client, clientId: unknownId })).status).toBe(401)

    const failed = await eventsOnce(`action=login.failed&target=${client.clientId}`, 2)
    expect(failed.map((e) => e.request_id).sort()).toEqual(
      [requestIdOf(wrong), requestIdOf(yativo)].sort(),
    )
    expect(failed.find((e) => e.request_id === requestIdOf(wrong))).toMatchObject({
      action: 'login.failed',
      outcome: 'failure',
      actor: null,
      target: client.clientId,
      ip,
      detail: { via: 'oauth/token', reason: 'wrong_secret' },
    })
    expect(failed.find((e) => e.request_id === requestIdOf(yativo))?.detail).toEqual({
      via: 'auth/login:yativo',
      reason: 'wrong_secret',
    })
    const [off] = await eventsOnce(`action=login.failed&target=${disabled.clientId}`, 1)
    expect(off!.detail).toEqual({ via: 'oauth/token', reason: 'client_disabled' })
    const [unknown] = await eventsOnce(`action=login.failed&target=${unknownId}`, 1)
    expect(unknown!.detail).toEqual({ via: 'oauth/token', reason: 'unknown_client' })
  })

  it('records token.revoked: success for the owner, failure for another client', async () => {
    const owner = await createClient()
    const other = await createClient()
    const token = await tokenFor(owner)
    const revoke = (client: TestClient) =>
      postForm(
        '/oauth/revoke',
        { token },
        { authorization: basicAuth(client.clientId, client.clientSecret) },
      )
    const refused = await revoke(other)
    const revoked = await revoke(owner)
    expect([refused.status, revoked.status]).toEqual([200, 200])

    const [mine] = await eventsOnce(`action=token.revoked&actor=${owner.clientId}`, 1)
    expect(mine).toMatchObject({
      outcome: 'success',
      actor: owner.clientId,
      target: owner.clientId,
      request_id: requestIdOf(revoked),
      detail: { outcome: 'revoked' },
    })
    const [theirs] = await eventsOnce(`action=token.revoked&actor=${other.clientId}`, 1)
    expect(theirs).toMatchObject({
      outcome: 'failure',
      request_id: requestIdOf(refused),
      detail: { outcome: 'not_owner' },
    })
  })

  it('records every client change with the operator as actor, the client as target', async () => {
    const operator = await newOperator()
    const { response: create, created } = await createOverHttp(operator.token)
    const path = `/admin/clients/${created.client_id}`
    const update = await adminCall(operator.token, 'PATCH', path, {
      name: 'renamed',
      status: 'disabled',
    })
    const rotate = await adminCall(operator.token, 'POST', `${path}/secret`, {
      grace_period_seconds: 60,
      revoke_tokens: true,
    })
    const remove = await adminCall(operator.token, 'DELETE', path)
    expect([update.status, rotate.status, remove.status]).toEqual([204, 200, 204])

    // The operator's own login is the oldest event it is the actor of.
    const recorded = await eventsOnce(`actor=${operator.id}`, 5)
    const common = { outcome: 'success', actor: operator.id, target: created.client_id }
    expect(recorded).toEqual([
      expect.objectContaining({
        ...common,
        action: 'client.delete',
        request_id: requestIdOf(remove),
        detail: { status: 204 },
      }),
      expect.objectContaining({
        ...common,
        action: 'client.rotate_secret',
        request_id: requestIdOf(rotate),
        detail: { status: 200, grace_period_seconds: 60, revoke_tokens: true },
      }),
      expect.objectContaining({
        ...common,
        action: 'client.update',
        request_id: requestIdOf(update),
        detail: { status: 204, changed: ['name', 'status'] },
      }),
      expect.objectContaining({
        ...common,
        action: 'client.create',
        request_id: requestIdOf(create),
        detail: { status: 201, imported_secret: false },
      }),
      expect.objectContaining({ action: 'token.issued', actor: operator.id, target: operator.id }),
    ])
  })

  it('records refused admin actions as failures, and reads not at all', async () => {
    const operator = await newOperator()
    const { created } = await createOverHttp(operator.token, {
      id: `audited-${crypto.randomUUID()}`,
    })
    const duplicate = await adminCall(operator.token, 'POST', '/admin/clients', {
      id: created.client_id,
      provider_id: created.provider_id,
      name: 'another',
    })
    expect(duplicate.status).toBe(409)
    const missing = `missing-${crypto.randomUUID()}`
    const notFound = await adminCall(operator.token, 'PATCH', `/admin/clients/${missing}`, {
      name: 'x',
    })
    expect(notFound.status).toBe(404)
    const invalid = await adminCall(
      operator.token,
      'POST',
      `/admin/clients/${created.client_id}/secret`,
      {
        grace_period_seconds: -1,
      },
    )
    expect(invalid.status).toBe(400)
    expect(
      (await adminCall(operator.token, 'GET', `/admin/clients/${created.client_id}`)).status,
    ).toBe(200)
    expect((await adminCall(operator.token, 'GET', '/admin/audit')).status).toBe(200)
    const anonymousIp = freshIp()
    const anonymous = await postJson(
      '/admin/clients',
      { name: 'x', provider_id: null },
      { 'cf-connecting-ip': anonymousIp },
    )
    expect(anonymous.status).toBe(401)

    const recorded = await eventsOnce(`actor=${operator.id}&outcome=failure`, 3)
    expect(recorded).toHaveLength(3)
    expect(recorded.find((e) => e.request_id === requestIdOf(duplicate))).toMatchObject({
      action: 'client.create',
      target: created.client_id,
      detail: { status: 409 },
    })
    expect(recorded.find((e) => e.request_id === requestIdOf(notFound))).toMatchObject({
      action: 'client.update',
      target: missing,
      detail: { status: 404, changed: ['name'] },
    })
    // Refused by validation before the handler named its action: method and route pattern instead
    // (never the path the caller wrote).
    expect(recorded.find((e) => e.request_id === requestIdOf(invalid))).toMatchObject({
      action: 'POST /admin/clients/:id/secret',
      detail: { status: 400 },
    })
    // The two GETs left nothing: only the operator's login and the creation succeeded.
    expect(await eventsOnce(`actor=${operator.id}&outcome=success`, 2)).toEqual([
      expect.objectContaining({ action: 'client.create', target: created.client_id }),
      expect.objectContaining({ action: 'token.issued', target: operator.id }),
    ])
    // Nobody's action: counted through the audit queue as a refused call.
    const refused = await eventuallyAudited(
      () => events('action=admin.refused&target=POST%20/admin/clients'),
      (list) => list.some((e) => e.ip === anonymousIp),
    )
    expect(refused.find((e) => e.ip === anonymousIp)).toMatchObject({
      outcome: 'failure',
      actor: null,
      request_id: requestIdOf(anonymous),
      count: 1,
      detail: { status: 401 },
    })
  })
})

describe('GET /admin/audit: filters and paging', { timeout: 60_000 }, () => {
  /** One client's story: created, changed, logged in, failed a login, rotated. Six events. */
  async function story() {
    const operator = await newOperator()
    const { created } = await createOverHttp(operator.token)
    const id = created.client_id
    const client = { clientId: id, clientSecret: created.client_secret, providerId: '' }
    expect(
      (await adminCall(operator.token, 'PATCH', `/admin/clients/${id}`, { token_lifetime: 600 }))
        .status,
    ).toBe(204)
    expect((await login(client)).status).toBe(200)
    expect(
      (await login({ ...client, clientSecret: 'wrong-wrong-wrong-wrong-wrong-wrong' })).status,
    ).toBe(401)
    expect(
      (await adminCall(operator.token, 'POST', `/admin/clients/${id}/secret`, {})).status,
    ).toBe(200)
    expect((await login(client)).status).toBe(401)
    const all = await eventsOnce(`target=${id}`, 6)
    expect(all).toHaveLength(6)
    return { operator, id, all }
  }

  it('filters by action, actor, target and outcome, alone and together', async () => {
    const { operator, id, all } = await story()
    expect(all.map((e) => e.action)).toEqual([
      'login.failed',
      'client.rotate_secret',
      'login.failed',
      'token.issued',
      'client.update',
      'client.create',
    ])
    expect((await events(`target=${id}&action=login.failed`)).map((e) => e.detail.reason)).toEqual([
      'wrong_secret',
      'wrong_secret',
    ])
    expect(
      (await events(`target=${id}&outcome=failure`)).every((e) => e.action === 'login.failed'),
    ).toBe(true)
    expect(await events(`target=${id}&outcome=success`)).toHaveLength(4)
    const byOperator = await events(`actor=${operator.id}`)
    expect(byOperator.map((e) => e.action)).toEqual([
      'client.rotate_secret',
      'client.update',
      'client.create',
      'token.issued',
    ])
    expect(await events(`actor=${id}`)).toEqual([
      expect.objectContaining({ action: 'token.issued', target: id }),
    ])
    expect(
      await events(`actor=${operator.id}&action=client.update&target=${id}&outcome=success`),
    ).toHaveLength(1)
    expect(await events(`actor=${operator.id}&action=token.issued&target=${id}`)).toEqual([])
    expect(await events(`target=nobody-${crypto.randomUUID()}`)).toEqual([])
  })

  it('filters by since and until, inclusive, with Z or an offset', async () => {
    const { id, all } = await story()
    const oldestFirst = [...all].reverse()
    const pivot = oldestFirst[2]!.occurred_at
    const atOrAfter = all.filter((e) => e.occurred_at >= pivot).map((e) => e.id)
    const atOrBefore = all.filter((e) => e.occurred_at <= pivot).map((e) => e.id)
    expect(atOrAfter.length).toBeGreaterThan(0)
    expect(atOrBefore.length).toBeGreaterThan(0)

    const ids = async (query: string) => (await events(`target=${id}&${query}`)).map((e) => e.id)
    expect(await ids(`since=${pivot}`)).toEqual(atOrAfter)
    expect(await ids(`until=${pivot}`)).toEqual(atOrBefore)
    expect(await ids(`since=${pivot}&until=${pivot}`)).toEqual(
      all.filter((e) => e.occurred_at === pivot).map((e) => e.id),
    )
    // The same instant two hours ahead of UTC.
    const local = new Date(Date.parse(pivot) + 2 * 3600_000).toISOString().replace('Z', '+02:00')
    expect(await ids(`since=${encodeURIComponent(local)}`)).toEqual(atOrAfter)
    expect(await ids('since=2999-01-01T00:00:00Z')).toEqual([])
    expect(await ids('until=2000-01-01T00:00:00Z')).toEqual([])
    expect(await ids('since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z')).toEqual(
      all.map((e) => e.id),
    )
  })

  it.each([
    { case: 'a since that is not a date', query: 'since=yesterday', path: 'since' },
    { case: 'a since with month 13', query: 'since=2026-13-01T00:00:00Z', path: 'since' },
    { case: 'a since without a time', query: 'since=2026-11-22', path: 'since' },
    { case: 'an until that is not a date', query: 'until=tomorrow', path: 'until' },
    { case: 'an unknown outcome', query: 'outcome=maybe', path: 'outcome' },
    { case: 'limit 0', query: 'limit=0', path: 'limit' },
    { case: 'a cursor this API did not return', query: 'cursor=YWJj', path: 'cursor' },
  ])('answers 400 invalid_request naming the parameter for $case', async ({ query, path }) => {
    const problem = await expectProblem(
      await adminCall(admin, 'GET', `/admin/audit?${query}`),
      400,
      'invalid_request',
    )
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]))
  })

  it('pages newest first with limit and links.next, without duplicates or gaps', async () => {
    const { id, all } = await story()
    const { pages } = await walk(`/admin/audit?target=${id}&limit=4`)
    expect(pages.map((p) => p.items.length)).toEqual([4, 2])
    expect(new URL(pages[0]!.links.next!, 'https://x').searchParams.get('target')).toBe(id)
    expect(pages[1]!.links.next).toBeNull()
    const paged = pages.flatMap((p) => p.items)
    expect(paged).toEqual(all)
    const paged2 = (await walk(`/admin/audit?target=${id}&limit=1`)).pages.flatMap((p) => p.items)
    expect(paged2).toEqual(all)
    // Newest first by when events happened: queued events reach the table after later admin
    // actions, so ids only break ties.
    for (let i = 1; i < paged.length; i++) {
      const [newer, older] = [paged[i - 1]!, paged[i]!]
      expect(
        older.occurred_at < newer.occurred_at ||
          (older.occurred_at === newer.occurred_at && older.id < newer.id),
      ).toBe(true)
    }
  })

  it('keeps its pages stable while new events arrive', async () => {
    const { id, all } = await story()
    const first = await json<Page<AuditView>>(
      await adminCall(admin, 'GET', `/admin/audit?target=${id}&limit=3`),
    )
    expect(first.items).toEqual(all.slice(0, 3))
    const client = {
      clientId: id,
      clientSecret: 'wrong-wrong-wrong-wrong-wrong-wrong',
      providerId: '',
    }
    expect((await login(client)).status).toBe(401)
    await eventsOnce(`target=${id}`, 7)
    const rest = (await walk(first.links.next!)).pages.flatMap((p) => p.items)
    expect(rest).toEqual(all.slice(3))
  })
})

describe('GET /admin/audit: never a secret, a token or credentials', { timeout: 60_000 }, () => {
  it('holds no secret, token or Authorization value from the requests it records', async () => {
    const operator = await newOperator()
    const { created } = await createOverHttp(operator.token)
    const id = created.client_id
    const client = { clientId: id, clientSecret: created.client_secret, providerId: '' }
    const wrongSecret = `wrong-${crypto.randomUUID()}`
    const basic = basicAuth(id, created.client_secret)
    const token = await tokenFor(client)
    const bridge = await postJson('/auth/login', {
      clientId: id,
      clientSecret: created.client_secret,
    })
    const bridgeToken = (await json<{ token: string }>(bridge)).token
    expect((await login({ ...client, clientSecret: wrongSecret })).status).toBe(401)
    const bad = await postJson(
      '/auth/login',
      { clientId: id, clientSecret: wrongSecret },
      { 'cf-connecting-ip': freshIp() },
    )
    expect(bad.status).toBe(401)
    const me = await call('/auth/me', { method: 'POST', headers: { 'x-access-token': token } })
    expect(me.status).toBe(200)
    const rotation = await adminCall(operator.token, 'POST', `/admin/clients/${id}/secret`, {
      revoke_tokens: true,
    })
    const { client_secret: newSecret } = await json<{ client_secret: string }>(rotation)
    const revoke = await postForm(
      '/oauth/revoke',
      { token: bridgeToken },
      { authorization: basicAuth(id, newSecret) },
    )
    expect(revoke.status).toBe(200)
    expect((await adminCall(operator.token, 'DELETE', `/admin/clients/${id}`)).status).toBe(204)

    const byTarget = await eventuallyAudited(
      () => walk(`/admin/audit?target=${id}&limit=2`),
      ({ pages }) => pages.flatMap((p) => p.items).length >= 8,
    )
    const byActor = await walk(`/admin/audit?actor=${operator.id}`)
    expect(byActor.pages.flatMap((p) => p.items).map((e) => e.action)).toEqual([
      'client.delete',
      'client.rotate_secret',
      'client.create',
      'token.issued',
    ])
    const rows = await env.DB.prepare('SELECT * FROM audit_events WHERE target = ?1 OR actor = ?1')
      .bind(id)
      .all()
    const texts = [...byTarget.bodies, ...byActor.bodies, JSON.stringify(rows.results)]
    const forbidden = [
      created.client_secret,
      newSecret,
      wrongSecret,
      token,
      bridgeToken,
      operator.token,
      basic,
      basic.slice('Basic '.length),
    ]
    for (const text of texts) {
      for (const value of forbidden) expect(text).not.toContain(value)
      expect(text).not.toMatch(/Bearer |Basic |secret_digest|\b[0-9a-f]{64}\b/i)
      expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+/) // no JWT at all
    }
  })
})

/**
 * A request to the app whose D1 binding writes down every statement and whose audit queue keeps
 * what it is sent; returns once the work it deferred past the response is done.
 */
async function requestKept(path: string, init: RequestInit) {
  const counted = countingDb()
  const kept = keptQueue()
  const ctx = createExecutionContext()
  const response = await app.request(
    ORIGIN + path,
    init,
    { ...env, DB: counted.db, AUDIT_QUEUE: kept.queue },
    ctx,
  )
  const atResponse = [...counted.statements]
  await waitOnExecutionContext(ctx)
  return { response, atResponse, statements: counted.statements, sent: kept.sent }
}

describe('GET /admin/audit: how per-request events reach it', { timeout: 30_000 }, () => {
  it('issues a token without writing to D1, and lists its event once the queue has delivered it', async () => {
    const client = await createClient()
    const ip = freshIp()
    const { response, atResponse, statements, sent } = await requestKept('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(client.clientId, client.clientSecret),
        'cf-connecting-ip': ip,
      },
      body: 'grant_type=client_credentials',
    })
    expect(response.status).toBe(200)
    // Neither before the response nor after it: the event went to the queue instead.
    expect(writes(atResponse)).toEqual([])
    expect(writes(statements)).toEqual([])
    expect(sent).toEqual([
      expect.objectContaining({
        action: 'token.issued',
        target: client.clientId,
        requestId: requestIdOf(response),
        ip,
        occurredAt: expect.stringMatching(STORED_TIME),
      }),
    ])
    expect(await events(`action=token.issued&target=${client.clientId}`)).toEqual([])

    const result = await consumeAudit(sent)
    expect(result.ackAll).toBe(true)
    const [listed] = await events(`action=token.issued&target=${client.clientId}`)
    expect(listed).toMatchObject({
      occurred_at: (sent[0] as { occurredAt: string }).occurredAt,
      count: 1,
      actor: client.clientId,
      request_id: requestIdOf(response),
      ip,
    })
  })

  it('counts anonymous calls to a 15 KB admin path in one row, by route pattern, never the path', async () => {
    const ip = freshIp()
    const path = `/admin/${'a'.repeat(15 * 1024)}`
    const calls = []
    for (let i = 0; i < 3; i++) {
      calls.push(
        await requestKept(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
          body: '{}',
        }),
      )
    }
    for (const { response, statements } of calls) {
      expect(response.status).toBe(401)
      expect(writes(statements)).toEqual([]) // no row of its own
    }
    const sent = calls.flatMap((c) => c.sent)
    expect(sent).toHaveLength(3)
    expect(JSON.stringify(sent)).not.toContain('aaaaaaaaaa')

    await consumeAudit(sent)
    const refused = (await events('action=admin.refused&target=POST%20/admin/*')).filter(
      (e) => e.ip === ip,
    )
    expect(refused).toEqual([
      expect.objectContaining({
        outcome: 'failure',
        actor: null,
        target: 'POST /admin/*',
        count: 3,
        request_id: requestIdOf(calls[0]!.response),
        detail: { status: 401 },
      }),
    ])
    expect(refused[0]!.last_occurred_at >= refused[0]!.occurred_at).toBe(true)
  })

  it('names the route pattern of a refused call, and counts a wrong scope apart from no token', async () => {
    const ip = freshIp()
    const provider = await tokenFor(await createClient())
    const target = `/admin/clients/${'b'.repeat(2000)}`
    const patch = (authorization?: string) =>
      requestKept(target, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/json',
          'cf-connecting-ip': ip,
          ...(authorization ? { authorization } : {}),
        },
        body: '{"name":"x"}',
      })
    const calls = [await patch(), await patch(`Bearer ${provider}`), await patch()]
    expect(calls.map((c) => c.response.status)).toEqual([401, 403, 401])
    await consumeAudit(calls.flatMap((c) => c.sent))
    const refused = (await events('action=admin.refused&target=PATCH%20/admin/clients/:id')).filter(
      (e) => e.ip === ip,
    )
    expect(refused.map((e) => [e.detail.status, e.count]).sort()).toEqual([
      [401, 2],
      [403, 1],
    ])
  })
})

describe('audit retention', () => {
  const DAY = 24 * 3600_000

  async function runCleanUp(retentionDays: string, scheduledTime = new Date()) {
    const controller = createScheduledController({ scheduledTime, cron: '*/5 * * * *' })
    await worker.scheduled(controller, { ...env, AUDIT_RETENTION_DAYS: retentionDays })
  }

  async function seed(target: string, daysAgo: number[]) {
    for (const days of daysAgo) {
      await insertAuditEvent(env.DB, {
        action: 'client.update',
        outcome: 'success',
        actor: 'operator',
        target,
        requestId: crypto.randomUUID(),
        ip: null,
        detail: { days },
        occurredAt: new Date(Date.now() - days * DAY).toISOString(),
      })
    }
  }

  const daysKept = async (target: string) =>
    (await events(`target=${target}`)).map((e) => e.detail.days as number)

  it('deletes the events older than AUDIT_RETENTION_DAYS, and only those', async () => {
    const target = `retention-${crypto.randomUUID()}`
    await seed(target, [400, 31, 30.01, 29.99, 2, 0])
    await runCleanUp('30')
    expect(await daysKept(target)).toEqual([0, 2, 29.99])
    await runCleanUp('1')
    expect(await daysKept(target)).toEqual([0])
  })

  it.each(['', '0', '-5', '30.5', 'thirty', '3651', '1e3'])(
    'refuses AUDIT_RETENTION_DAYS=%j loudly and deletes nothing',
    async (value) => {
      expect(() => loadAuditRetentionDays({ ...env, AUDIT_RETENTION_DAYS: value })).toThrow(
        /^AUDIT_RETENTION_DAYS /,
      )
      const target = `retention-${crypto.randomUUID()}`
      await seed(target, [400])
      await expect(runCleanUp(value)).rejects.toThrow(/AUDIT_RETENTION_DAYS/)
      expect(await daysKept(target)).toEqual([400])
    },
  )

  it('reads the deployed default of 30 days', () => {
    expect(loadAuditRetentionDays(env)).toBe(30)
  })
})
