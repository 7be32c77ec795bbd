// GET /admin/overview: the hourly counts a provider's send shard keeps with each acceptance and
// status change, handed to D1 by its alarm, and the tokens and failed logins the audit consumer
// adds; read from those hourly rows alone, so its D1 work does not grow with the messages.
import { createScheduledController, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { sendShardName } from '../../../src/domain/admission.ts'
import worker from '../../../src/index.ts'
import { handOverOverviewHours, OUTBOX_PAGE } from '../../../src/queue/shard-alarm.ts'
import { changeDeliveryStatus } from '../../../src/storage/delivery-lifecycle.ts'
import { insertMessage, type NewDelivery } from '../../../src/storage/messages.ts'
import { OVERVIEW_KEPT_DAYS } from '../../../src/storage/overview-hours.ts'
import {
  runStatements,
  shardDatabaseIn,
  statementsOf,
} from '../../../src/storage/shard-database.ts'
import { adminCall, adminToken, json } from '../../helpers/admin.ts'
import { consumeAudit } from '../../helpers/audit.ts'
import { createClient, createProvider } from '../../helpers/clients.ts'
import { expectProblem, ORIGIN } from '../../helpers/http.ts'
import { probe } from '../../helpers/probe.ts'
import { countRoundTrips } from '../../helpers/round-trips.ts'
import { handOverOutboxes, shardDb, shardOf } from '../../helpers/shards.ts'
import { testMessage } from '../../helpers/messages.ts'

type Counts = Record<string, number | null>
type Overview = {
  range: string
  provider_id: string | null
  hours: (Counts & { hour: string })[]
  totals: Counts
  error_codes: { code: string; count: number }[]
}

/** `count` one-SMS messages accepted `secondsAgo` ago, written as the shard's `accept` writes them. */
async function acceptMessages(providerId: string, count: number, secondsAgo = 0) {
  const shard = shardDb(providerId)
  const createdAt = new Date(Date.now() - secondsAgo * 1000).toISOString()
  const deliveries: string[] = []
  const statements = Array.from({ length: count }, () => {
    const delivery: NewDelivery = {
      id: crypto.randomUUID(),
      part: 'notification',
      channel: 'sms',
      address: '+5491155550000',
      title: 'Turno',
      body: 'Lunes 9:15',
      link: null,
    }
    deliveries.push(delivery.id)
    const message = testMessage(providerId, { createdAt })
    return insertMessage(shard, message, [delivery]).statements
  })
  await runInDurableObject(shardOf(providerId), (_, state) => {
    state.storage.transactionSync(() =>
      runStatements(state.storage.sql, statementsOf(statements.flat())),
    )
  })
  return deliveries
}

/** Claims and sends a delivery, then applies the SMS API's receipt. */
async function deliver(
  providerId: string,
  deliveryId: string,
  receipt: 'delivered' | 'undelivered' | null,
) {
  const deps = { shard: shardDb(providerId) }
  const at = new Date()
  const nowSeconds = Math.floor(at.getTime() / 1000)
  const change = { deliveryId, at }
  await changeDeliveryStatus(deps, {
    ...change,
    kind: 'claim',
    leaseUntil: nowSeconds + 30,
    nowSeconds,
  })
  await changeDeliveryStatus(deps, {
    ...change,
    kind: 'sent',
    providerMessageId: `SM${deliveryId}`,
  })
  if (receipt === 'delivered') await changeDeliveryStatus(deps, { ...change, kind: 'delivered' })
  if (receipt === 'undelivered') {
    await changeDeliveryStatus(deps, {
      ...change,
      kind: 'undelivered',
      error: 'Unknown destination handset',
      errorCode: '30003',
    })
  }
}

async function overviewOf(query: string): Promise<Overview> {
  const admin = await adminToken()
  return json<Overview>(await adminCall(admin, 'GET', `/admin/overview?${query}`))
}

describe('GET /admin/overview', () => {
  it("counts a provider's messages, deliveries, error codes and latency per hour", async () => {
    const providerId = await createProvider()
    // Accepted 4 s ago: delivered now, within (3, 5] s.
    const [a, b, c] = await acceptMessages(providerId, 3, 4)
    await deliver(providerId, a!, 'delivered')
    await deliver(providerId, b!, 'delivered')
    await deliver(providerId, c!, 'undelivered')
    // A change that does not apply (a late, repeated receipt) counts nothing.
    await changeDeliveryStatus(
      { shard: shardDb(providerId) },
      {
        deliveryId: a!,
        at: new Date(),
        kind: 'delivered',
      },
    )
    await handOverOutboxes(providerId)

    const overview = await overviewOf(`range=hour&provider_id=${providerId}`)
    expect(overview).toMatchObject({ range: 'hour', provider_id: providerId })
    expect(overview.hours).toHaveLength(2)
    const expected = {
      accepted: 3,
      sent: 3,
      delivered: 2,
      undelivered: 1,
      failed: 0,
      dead: 0,
      latency_p50_seconds: 5,
      latency_p95_seconds: 5,
    }
    expect(overview.totals).toMatchObject(expected)
    expect(overview.hours.at(-1)).toMatchObject(expected)
    expect(overview.error_codes).toEqual([{ code: '30003', count: 1 }])
    // Every provider's together include this one's.
    const all = await overviewOf('range=day')
    expect(all.hours).toHaveLength(25)
    expect(all.totals.accepted).toBeGreaterThanOrEqual(3)
  })

  it('hands a changed hour to D1 again with its new count, and only what changed', async () => {
    const providerId = await createProvider()
    await acceptMessages(providerId, 2)
    expect(await handOverOutboxes(providerId)).toMatchObject({ hours: 1 })
    expect(await handOverOutboxes(providerId)).toMatchObject({ hours: 0 })
    await acceptMessages(providerId, 1)
    expect(await handOverOutboxes(providerId)).toMatchObject({ hours: 1 })
    expect((await overviewOf(`range=hour&provider_id=${providerId}`)).totals.accepted).toBe(3)
  })

  it("adds the audit consumer's tokens issued and failed logins to the client's provider", async () => {
    const client = await createClient()
    const occurredAt = new Date().toISOString()
    const event = (action: string, outcome: string) => ({
      action,
      outcome,
      actor: null,
      target: client.clientId,
      requestId: crypto.randomUUID(),
      ip: '203.0.113.9',
      detail: { via: 'oauth/token' },
      occurredAt,
    })
    const result = await consumeAudit([
      event('token.issued', 'success'),
      event('token.issued', 'success'),
      // Folded into one row that counts 3: counted 3 times.
      ...Array.from({ length: 3 }, () => event('login.failed', 'failure')),
      event('token.revoked', 'success'),
    ])
    expect(result.ackAll).toBe(true)
    const overview = await overviewOf(`range=hour&provider_id=${client.providerId}`)
    expect(overview.totals).toMatchObject({ tokens_issued: 2, failed_logins: 3, accepted: 0 })
  })

  it('answers from the hourly rows: one D1 statement, however many messages the range holds', async () => {
    const providerId = await createProvider()
    const admin = await adminToken()
    const request = () =>
      new Request(`${ORIGIN}/admin/overview?range=week&provider_id=${providerId}`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    const statements: number[] = []
    for (const count of [10, 200]) {
      const deliveries = await acceptMessages(providerId, count)
      for (const id of deliveries.slice(0, 3)) await deliver(providerId, id, 'delivered')
      await handOverOutboxes(providerId)
      // The first request warms the operator's edge record; the second is measured.
      await probe(request())
      const { response, trips, body } = await probe(request())
      expect(response.status).toBe(200)
      statements.push(trips.d1Statements)
      expect(trips.d1).toBe(1)
      expect(JSON.parse(body).totals.accepted).toBe(count === 10 ? 10 : 210)
    }
    expect(statements).toEqual([1, 1])
  })

  it(`hands a shard's changed hours to D1 ${OUTBOX_PAGE} rows a statement`, async () => {
    const providerId = await createProvider()
    const hours = 2 * OUTBOX_PAGE + 50
    const now = Math.floor(Date.now() / 3_600_000) * 3600
    await runInDurableObject(shardOf(providerId), (_, state) => {
      for (let i = 0; i < hours; i++) {
        state.storage.sql.exec(
          "INSERT INTO overview_hours (hour, metric, key, count) VALUES (?, 'accepted', '', 1)",
          now - i * 3600,
        )
      }
    })
    const counter = countRoundTrips(env)
    const name = sendShardName(providerId, null)
    const deps = { shard: shardDatabaseIn(env.SEND_SHARDS, name), name, db: counter.env.DB }
    expect(
      await handOverOverviewHours({ ...deps, webhooks: env.WEBHOOK_QUEUE, now: new Date() }),
    ).toBe(hours)
    expect(counter.snapshot().d1Statements).toBe(3)
    // The week's hours, and the hour in progress.
    expect((await overviewOf(`range=week&provider_id=${providerId}`)).totals.accepted).toBe(169)
  })

  it(`forgets hours older than ${OVERVIEW_KEPT_DAYS} days in the scheduled clean-up`, async () => {
    const providerId = await createProvider()
    const hour = (daysAgo: number) => Math.floor(Date.now() / 3_600_000) * 3600 - daysAgo * 86_400
    for (const daysAgo of [OVERVIEW_KEPT_DAYS + 1, 1]) {
      await env.DB.prepare(
        `INSERT INTO overview_hours (hour, provider_id, source, metric, key, count)
         VALUES (?1, CAST(?2 AS INTEGER), 'test', 'accepted', '', 1)`,
      )
        .bind(hour(daysAgo), providerId)
        .run()
    }
    const controller = createScheduledController({ scheduledTime: Date.now(), cron: '*/5 * * * *' })
    await worker.scheduled(controller, env)
    const { results } = await env.DB.prepare(
      'SELECT hour FROM overview_hours WHERE provider_id = CAST(?1 AS INTEGER)',
    )
      .bind(providerId)
      .all<{ hour: number }>()
    expect(results.map((r) => r.hour)).toEqual([hour(1)])
  })

  it('shows the last day when no range is given', async () => {
    const overview = await overviewOf('')
    expect(overview).toMatchObject({ range: 'day', provider_id: null })
    expect(overview.hours).toHaveLength(25)
  })

  it.each([
    ['an unknown range', 'range=month'],
    ['an empty range', 'range='],
    ['a malformed provider id', 'provider_id=abc'],
    ['a provider id of zero', 'provider_id=0'],
    ['an oversized provider id', `provider_id=${'9'.repeat(30)}`],
    ['a hostile provider id', 'provider_id=1%20OR%201%3D1--'],
  ])('answers 400 invalid_request for %s', async (_, query) => {
    const admin = await adminToken()
    await expectProblem(
      await adminCall(admin, 'GET', `/admin/overview?${query}`),
      400,
      'invalid_request',
    )
  })
})
