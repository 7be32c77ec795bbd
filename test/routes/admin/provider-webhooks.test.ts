// GET /admin/providers/{id}/webhooks and …/{endpointId}/attempts through the Worker's fetch
// handler: a provider's endpoints and their attempts, read only, as the provider's own listing
// answers them, never with a secret; the refusals.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { adminCall, adminToken, json, walkPages, type Page } from '../../helpers/admin.ts'
import { call, expectProblem } from '../../helpers/http.ts'
import {
  createWebhookProvider,
  registerEndpoint,
  type Registered,
  type WebhookProvider,
} from '../../helpers/webhooks.ts'

type EndpointView = { id: string; url: string; event_types: string[]; consecutive_failures: number }
type AttemptView = { id: number; event_id: string; attempt: number; outcome: string }
type FieldError = { path: string; message: string }

let admin: string
let provider: WebhookProvider
let endpoints: Registered[]
let eventId: string

async function recordAttempt(endpointId: string, attempt: number, status: number, outcome: string) {
  await env.DB.prepare(
    `INSERT INTO webhook_attempts (event_id, endpoint_id, attempt, attempted_at, http_status,
       duration_ms, outcome) VALUES (?1, ?2, ?3, ?4, ?5, 12, ?6)`,
  )
    .bind(eventId, endpointId, attempt, new Date().toISOString(), status, outcome)
    .run()
}

beforeAll(async () => {
  admin = await adminToken()
  provider = await createWebhookProvider()
  endpoints = [
    await registerEndpoint(provider),
    await registerEndpoint(provider, ['message.dead']),
  ].sort((a, b) => a.id.localeCompare(b.id))
  eventId = `msg_${crypto.randomUUID().replaceAll('-', '')}`
  await recordAttempt(endpoints[0]!.id, 1, 500, 'retrying')
  await recordAttempt(endpoints[0]!.id, 2, 503, 'dead')
  await recordAttempt(endpoints[0]!.id, 3, 200, 'succeeded')
})

const own = (path: string) => call(path, { headers: { authorization: `Bearer ${provider.token}` } })

describe('GET /admin/providers/{id}/webhooks', () => {
  it("is the provider's own listing, page for page, without a secret", async () => {
    const path = `/admin/providers/${provider.providerId}/webhooks`
    const response = await adminCall(admin, 'GET', path)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = await response.text()
    for (const { secret } of endpoints) expect(body).not.toContain(secret.slice(6))
    expect(body).not.toContain('secret"')
    const page = JSON.parse(body) as Page<EndpointView>
    expect(page.items.map((e) => [e.id, e.url])).toEqual(endpoints.map((e) => [e.id, e.url]))
    expect(page.items[0]).toMatchObject({ consecutive_failures: 0, enabled: true })
    expect(page.items).toEqual((await json<Page<EndpointView>>(await own('/webhooks'))).items)

    const { pages, bodies } = await walkPages<EndpointView>(admin, `${path}?limit=1`)
    expect(pages.map((p) => p.items.map((e) => e.id))).toEqual(endpoints.map((e) => [e.id]))
    for (const text of bodies) expect(text).not.toContain('secret"')
  })

  it('is an empty page for a provider without endpoints', async () => {
    const other = await createWebhookProvider()
    const response = await adminCall(admin, 'GET', `/admin/providers/${other.providerId}/webhooks`)
    expect(await json(response)).toEqual({
      items: [],
      page_size: 50,
      next_cursor: null,
      links: { next: null },
    })
  })

  it('is 404 for an unknown provider, 400 for a bad page size or cursor', async () => {
    const unknown = await adminCall(admin, 'GET', '/admin/providers/999999999999999/webhooks')
    await expectProblem(unknown, 404, 'not_found')
    const base = `/admin/providers/${provider.providerId}/webhooks`
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['cursor=%25%25', 'cursor'],
      [`cursor=${btoa('not-an-endpoint')}`, 'cursor'],
    ]) {
      const problem = await expectProblem(
        await adminCall(admin, 'GET', `${base}?${query}`),
        400,
        'invalid_request',
      )
      expect((problem.errors as FieldError[]).map((e) => e.path)).toEqual([field])
    }
  })

  it('is read only, and refused without the admin scope', async () => {
    const path = `/admin/providers/${provider.providerId}/webhooks`
    const post = await adminCall(admin, 'POST', path, { url: 'https://x.example/' })
    expect(post.status).toBe(405)
    await expectProblem(await call(path), 401, 'token_missing')
    await expectProblem(await adminCall(provider.token, 'GET', path), 403, 'insufficient_scope')
  })
})

describe('GET /admin/providers/{id}/webhooks/{endpointId}/attempts', () => {
  const attemptsOf = (endpointId: string, query = '') =>
    `/admin/providers/${provider.providerId}/webhooks/${endpointId}/attempts${query}`

  it('pages the attempts newest first, as the provider sees them', async () => {
    const { id } = endpoints[0]!
    const { pages } = await walkPages<AttemptView>(admin, attemptsOf(id, '?limit=2'))
    expect(pages.map((p) => p.items.map((a) => [a.attempt, a.outcome]))).toEqual([
      [
        [3, 'succeeded'],
        [2, 'dead'],
      ],
      [[1, 'retrying']],
    ])
    expect(pages[0]!.items[0]).toMatchObject({ event_id: eventId, http_status: 200 })
    const ownPage = await json<Page<AttemptView>>(await own(`/webhooks/${id}/attempts`))
    expect(pages.flatMap((p) => p.items)).toEqual(ownPage.items)
  })

  it('lists only the dead ones with ?outcome=dead', async () => {
    const response = await adminCall(admin, 'GET', attemptsOf(endpoints[0]!.id, '?outcome=dead'))
    expect(response.headers.get('cache-control')).toBe('no-store')
    const page = await json<Page<AttemptView>>(response)
    expect(page.items.map((a) => [a.event_id, a.attempt, a.outcome])).toEqual([
      [eventId, 2, 'dead'],
    ])
    const none = await adminCall(admin, 'GET', attemptsOf(endpoints[1]!.id, '?outcome=dead'))
    expect((await json<Page<AttemptView>>(none)).items).toEqual([])
    const bad = await adminCall(admin, 'GET', attemptsOf(endpoints[0]!.id, '?outcome=lost'))
    const problem = await expectProblem(bad, 400, 'invalid_request')
    expect((problem.errors as FieldError[]).map((e) => e.path)).toEqual(['outcome'])
  })

  it("is 404 for another provider's endpoint, an unknown one or an unknown provider", async () => {
    const other = await createWebhookProvider()
    const foreign = await registerEndpoint(other)
    for (const path of [
      attemptsOf(foreign.id),
      attemptsOf(`ep_${'0'.repeat(32)}`),
      attemptsOf('not-an-endpoint'),
      `/admin/providers/999999999999999/webhooks/${endpoints[0]!.id}/attempts`,
    ]) {
      await expectProblem(await adminCall(admin, 'GET', path), 404, 'not_found')
    }
    // The endpoint's own provider reads it under its own id only.
    const ok = await adminCall(
      admin,
      'GET',
      `/admin/providers/${other.providerId}/webhooks/${foreign.id}/attempts`,
    )
    expect((await json<Page<AttemptView>>(ok)).items).toEqual([])
  })

  it('is refused without the admin scope', async () => {
    const path = attemptsOf(endpoints[0]!.id)
    await expectProblem(await call(path), 401, 'token_missing')
    await expectProblem(await adminCall(provider.token, 'GET', path), 403, 'insufficient_scope')
  })
})
