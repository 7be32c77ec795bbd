// A provider's recent events and asking for them again (decisions.md D40): GET
// /webhooks/{id}/events, POST /webhooks/{id}/events/{eventId}/redeliver and POST
// /webhooks/{id}/redeliver, through the real queue and consumer to the stand-in's receiver; what
// arrives again verifies with the official standardwebhooks library.
import { env } from 'cloudflare:workers'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { markWebhookDeliveryDead, publishWebhookEvents } from '../../src/storage/webhooks.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { eventuallyAudited } from '../helpers/audit.ts'
import { call, expectProblem, postJson } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'
import {
  createWebhookProvider,
  emitEvent,
  receiverAt,
  registerEndpoint,
  type WebhookProvider,
} from '../helpers/webhooks.ts'

const auth = (provider: WebhookProvider) => ({ authorization: `Bearer ${provider.token}` })

async function setUp() {
  const standIn = useStandIn()
  const provider = await createWebhookProvider()
  const endpoint = await registerEndpoint(provider)
  const receiver = receiverAt(standIn, endpoint.url)
  receiver.secrets = [endpoint.secret]
  return { provider, endpoint, receiver }
}

/** An event whose first attempt failed and which then died for the endpoint. */
async function deadEvent(
  provider: WebhookProvider,
  endpointId: string,
  receiver: ReturnType<typeof receiverAt>,
) {
  receiver.failNext = 1
  const seen = receiver.received.length
  const eventId = await emitEvent(provider.providerId)
  expect(await publishWebhookEvents(env.WEBHOOK_QUEUE, [eventId])).toBe(true)
  await eventually(
    async () => receiver.received.length,
    (n) => n > seen,
  )
  // As the end of its retry schedule (or the dead-letter consumer) leaves it.
  expect(await markWebhookDeliveryDead(env.DB, eventId, endpointId)).toBe(true)
  return eventId
}

type EventPage = { items: { event_id: string; status: string; type: string }[] }

describe('GET /webhooks/{id}/events', () => {
  it("lists the endpoint's events newest first, by status", async () => {
    const { provider, endpoint, receiver } = await setUp()
    const dead = await deadEvent(provider, endpoint.id, receiver)
    const all = await call(`/webhooks/${endpoint.id}/events`, { headers: auth(provider) })
    expect(all.status).toBe(200)
    expect(((await all.json()) as EventPage).items).toEqual([
      expect.objectContaining({ event_id: dead, type: 'message.delivered', status: 'dead' }),
    ])
    const pending = await call(`/webhooks/${endpoint.id}/events?status=pending`, {
      headers: auth(provider),
    })
    expect(((await pending.json()) as EventPage).items).toEqual([])
  })

  it('refuses a malformed status, since or cursor with 400', async () => {
    const { provider, endpoint } = await setUp()
    for (const query of ['status=lost', 'since=yesterday', 'cursor=bm9wZQ']) {
      const answer = await call(`/webhooks/${endpoint.id}/events?${query}`, {
        headers: auth(provider),
      })
      await expectProblem(answer, 400, 'invalid_request')
    }
  })
})

describe('POST /webhooks/{id}/events/{eventId}/redeliver', () => {
  it('sends a dead event again; it arrives and verifies with standardwebhooks', async () => {
    const { provider, endpoint, receiver } = await setUp()
    const eventId = await deadEvent(provider, endpoint.id, receiver)
    const answer = await call(`/webhooks/${endpoint.id}/events/${eventId}/redeliver`, {
      method: 'POST',
      headers: auth(provider),
    })
    expect(answer.status).toBe(202)
    expect(await answer.json()).toEqual({ redelivered: [eventId], more: false })
    const received = await eventually(
      async () => receiver.received.filter((r) => r.id === eventId && r.status === 200),
      (r) => r.length > 0,
    )
    const [again] = received
    const headers = {
      'webhook-id': again!.id!,
      'webhook-timestamp': again!.timestamp!,
      'webhook-signature': again!.signatures.join(' '),
    }
    expect(new Webhook(endpoint.secret).verify(again!.raw, headers)).toMatchObject({
      type: 'message.delivered',
    })
    const events = await call(`/webhooks/${endpoint.id}/events`, { headers: auth(provider) })
    expect(((await events.json()) as EventPage).items[0]).toMatchObject({ status: 'succeeded' })
  })

  it('answers 409 while the event is pending, and 404 for an unknown or malformed one', async () => {
    const { provider, endpoint } = await setUp()
    const pending = await emitEvent(provider.providerId)
    await env.DB.prepare(
      `INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at) VALUES (?1, ?2, 0)`,
    )
      .bind(pending, endpoint.id)
      .run()
    const redeliver = (eventId: string) =>
      call(`/webhooks/${endpoint.id}/events/${eventId}/redeliver`, {
        method: 'POST',
        headers: auth(provider),
      })
    await expectProblem(await redeliver(pending), 409, 'conflict')
    await expectProblem(await redeliver(`msg_${'0'.repeat(32)}`), 404, 'not_found')
    await expectProblem(await redeliver('msg_<script>'), 404, 'not_found')
  })

  it("answers 404 for another provider's endpoint and 409 for a disabled one", async () => {
    const { provider, endpoint, receiver } = await setUp()
    const eventId = await deadEvent(provider, endpoint.id, receiver)
    const other = await createWebhookProvider()
    const path = `/webhooks/${endpoint.id}/events/${eventId}/redeliver`
    await expectProblem(
      await call(path, { method: 'POST', headers: auth(other) }),
      404,
      'not_found',
    )
    await call(`/webhooks/${endpoint.id}`, {
      method: 'PATCH',
      headers: { ...auth(provider), 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: false }),
    })
    await expectProblem(
      await call(path, { method: 'POST', headers: auth(provider) }),
      409,
      'conflict',
    )
    const still = await env.DB.prepare(
      'SELECT status FROM webhook_deliveries WHERE event_id = ?1 AND endpoint_id = ?2',
    )
      .bind(eventId, endpoint.id)
      .first<{ status: string }>()
    expect(still?.status).toBe('dead')
  })
})

describe('POST /webhooks/{id}/redeliver', () => {
  it('sends every event dead since the time again, and none before it', async () => {
    const { provider, endpoint, receiver } = await setUp()
    const old = await deadEvent(provider, endpoint.id, receiver)
    await env.DB.prepare('UPDATE webhook_events SET created_at = created_at - 7200 WHERE id = ?1')
      .bind(old)
      .run()
    const since = new Date(Date.now() - 3600_000).toISOString()
    const recent = [
      await deadEvent(provider, endpoint.id, receiver),
      await deadEvent(provider, endpoint.id, receiver),
    ]
    // The endpoint is back: it answers a new event in time, which ends its run of failures (a
    // struggling endpoint would get one request a batch, decisions.md D36).
    const fresh = await emitEvent(provider.providerId)
    await publishWebhookEvents(env.WEBHOOK_QUEUE, [fresh])
    await eventually(
      async () => receiver.received.some((r) => r.id === fresh && r.status === 200),
      (done) => done,
    )
    const answer = await postJson(`/webhooks/${endpoint.id}/redeliver`, { since }, auth(provider))
    expect(answer.status).toBe(202)
    const body = (await answer.json()) as { redelivered: string[]; more: boolean }
    expect(body.redelivered.sort()).toEqual([...recent].sort())
    expect(body.more).toBe(false)
    await eventually(
      async () =>
        recent.every((id) => receiver.received.some((r) => r.id === id && r.status === 200)),
      (done) => done,
    )
    expect(receiver.received.some((r) => r.id === old && r.status === 200)).toBe(false)
  })

  it('refuses a body without an instant, with 400 and no redelivery', async () => {
    const { provider, endpoint } = await setUp()
    for (const body of [{}, { since: 'last week' }, { since: '2026-11-22T00:00:00Z', x: 1 }]) {
      const answer = await postJson(`/webhooks/${endpoint.id}/redeliver`, body, auth(provider))
      await expectProblem(answer, 400, 'invalid_request')
    }
  })
})

describe('the same for an operator, /admin/providers/{id}/webhooks/{endpointId}', () => {
  it("lists a provider's events and sends one again on its behalf, audited", async () => {
    const admin = await adminToken()
    const { provider, endpoint, receiver } = await setUp()
    const eventId = await deadEvent(provider, endpoint.id, receiver)
    const base = `/admin/providers/${provider.providerId}/webhooks/${endpoint.id}`
    const listed = await adminCall(admin, 'GET', `${base}/events?status=dead`)
    expect(listed.status).toBe(200)
    expect(((await listed.json()) as EventPage).items.map((e) => e.event_id)).toEqual([eventId])
    const answer = await adminCall(admin, 'POST', `${base}/events/${eventId}/redeliver`)
    expect(answer.status).toBe(202)
    await eventually(
      async () => receiver.received.some((r) => r.id === eventId && r.status === 200),
      (done) => done,
    )
    const audited = await eventuallyAudited(
      async () =>
        (
          await env.DB.prepare(
            `SELECT detail FROM audit_events WHERE action = 'webhook.redeliver' AND target = ?1`,
          )
            .bind(endpoint.id)
            .all<{ detail: string }>()
        ).results,
      (rows) => rows.length > 0,
    )
    expect(JSON.parse(audited[0]!.detail)).toMatchObject({ event_id: eventId })
  })

  it("answers 404 for another provider's endpoint and 400 for a malformed since", async () => {
    const admin = await adminToken()
    const { endpoint } = await setUp()
    const other = await createWebhookProvider()
    const foreign = `/admin/providers/${other.providerId}/webhooks/${endpoint.id}`
    await expectProblem(await adminCall(admin, 'GET', `${foreign}/events`), 404, 'not_found')
    await expectProblem(
      await adminCall(admin, 'POST', `${foreign}/redeliver`, { since: '2026-11-22T00:00:00Z' }),
      404,
      'not_found',
    )
    const own = `/admin/providers/${(await setUp()).provider.providerId}/webhooks/ep_x/events`
    await expectProblem(await adminCall(admin, 'GET', own), 404, 'not_found')
    const mine = endpoint.id
    const path = `/admin/providers/${other.providerId}/webhooks/${mine}/redeliver`
    await expectProblem(
      await adminCall(admin, 'POST', path, { since: 'soon' }),
      400,
      'invalid_request',
    )
  })
})
