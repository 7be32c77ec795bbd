// A send shard's alarm (src/queue/shard-alarm.ts): its outboxes handed to D1 many rows a
// statement, about once a second while busy, the overview's hours at most every 10 s, the admin
// index kept up with its messages, webhook events no endpoint wants dropped without a D1
// statement, and an alarm set only while the shard has something to watch.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { sendShardName } from '../../src/domain/admission.ts'
import {
  handOverIndexRows,
  handOverWebhookEvents,
  OUTBOX_PAGE,
  OVERVIEW_EVERY_MS,
  tendSendShard,
  type ShardAlarmDeps,
  type ShardAlarmMemory,
} from '../../src/queue/shard-alarm.ts'
import { statusChange } from '../../src/storage/delivery-lifecycle.ts'
import { insertMessage, type NewDelivery } from '../../src/storage/messages.ts'
import {
  OUTBOX_EVERY_MS,
  runStatements,
  shardDatabaseIn,
  statementsOf,
} from '../../src/storage/shard-database.ts'
import { adminCall, adminToken, json, type Page } from '../helpers/admin.ts'
import { dispatch, freshSender, settle, smsRequest, type Sender } from '../helpers/dispatch.ts'
import { countRoundTrips } from '../helpers/round-trips.ts'
import { testMessage } from '../helpers/messages.ts'
import { runShardAlarm, shardDb, shardOf } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { createWebhookProvider, registerEndpoint } from '../helpers/webhooks.ts'

type Indexed = { id: string; status: string }

/** The send shard class of src/index.ts, whose alarm's dependencies a test may take. */
type Tended = { alarmDeps(now: Date): ShardAlarmDeps }

async function searchOf(sender: Sender): Promise<Indexed[]> {
  const admin = await adminToken()
  const page = await json<Page<Indexed>>(
    await adminCall(admin, 'GET', `/admin/messages?provider_id=${sender.providerId}`),
  )
  return page.items.map(({ id, status }) => ({ id, status }))
}

/**
 * `count` one-SMS messages written straight into the provider's shard's SQLite in one transaction,
 * as its `accept` writes them but without waking its alarm: the test hands the outboxes on itself.
 */
async function writeMessages(providerId: string, count: number): Promise<void> {
  const shard = shardDb(providerId)
  const statements = Array.from({ length: count }, (_, i) => {
    const delivery: NewDelivery = {
      id: crypto.randomUUID(),
      part: 'notification',
      channel: 'sms',
      address: '+5491155550000',
      title: 'Turno',
      body: `mensaje ${i}`,
      link: null,
    }
    const message = testMessage(providerId)
    return insertMessage(shard, message, [delivery]).statements
  })
  await runInDurableObject(shardOf(providerId), (_, state) => {
    state.storage.transactionSync(() =>
      runStatements(state.storage.sql, statementsOf(statements.flat())),
    )
  })
}

/** The hand-over of a provider's shard, its D1 counted. */
async function countedHandOver(providerId: string) {
  const counter = countRoundTrips(env)
  const name = sendShardName(providerId, null)
  const deps = {
    shard: shardDatabaseIn(env.SEND_SHARDS, name),
    name,
    db: counter.env.DB,
    webhooks: counter.env.WEBHOOK_QUEUE,
    now: new Date(),
  }
  const rows = await handOverIndexRows(deps)
  const events = await handOverWebhookEvents(deps)
  return { rows, events, d1Statements: counter.snapshot().d1Statements, counter }
}

describe("a send shard's alarm", () => {
  it(
    'lists a message sent through /Services in the admin search, its status following its deliveries',
    { timeout: 30_000 },
    async () => {
      useStandIn()
      const sender = await freshSender()
      const response = await dispatch(sender, smsRequest(sender))
      expect(response.status).toBe(201)
      const { id } = (await response.json()) as { id: string }
      await runShardAlarm(sender.providerId)
      expect(await searchOf(sender)).toContainEqual({ id, status: expect.any(String) })
      await settle(sender, id)
      await runShardAlarm(sender.providerId)
      expect(await searchOf(sender)).toEqual([{ id, status: 'sent' }])
      // Searched by the status the index holds now.
      const admin = await adminToken()
      const sent = await json<Page<Indexed>>(
        await adminCall(
          admin,
          'GET',
          `/admin/messages?provider_id=${sender.providerId}&status=sent`,
        ),
      )
      expect(sent.items.map((m) => m.id)).toEqual([id])
    },
  )

  it(`writes ${OUTBOX_PAGE} messages' index rows to D1 in one statement`, async () => {
    const { providerId } = await createWebhookProvider()
    await writeMessages(providerId, OUTBOX_PAGE)
    const { rows, events, d1Statements } = await countedHandOver(providerId)
    expect({ rows, events, d1Statements }).toEqual({
      rows: OUTBOX_PAGE,
      events: 0,
      d1Statements: 1,
    })
    const indexed = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM message_index WHERE provider_id = CAST(?1 AS INTEGER)',
    )
      .bind(providerId)
      .first<{ n: number }>()
    expect(indexed!.n).toBe(OUTBOX_PAGE)
  })

  it(`writes ${OUTBOX_PAGE} webhook events to D1 in one statement, and enqueues them`, async () => {
    const provider = await createWebhookProvider()
    await registerEndpoint(provider, ['message.sent'])
    await writeMessages(provider.providerId, OUTBOX_PAGE)
    const shard = shardDb(provider.providerId)
    const { results } = await shard.prepare('SELECT id FROM deliveries').all<{ id: string }>()
    const at = new Date()
    const nowSeconds = Math.floor(at.getTime() / 1000)
    const changes = results.flatMap(({ id: deliveryId }) =>
      [
        { kind: 'claim', leaseUntil: nowSeconds + 30, nowSeconds } as const,
        {
          kind: 'sent',
          providerMessageId: `SM${crypto.randomUUID().replaceAll('-', '')}`,
        } as const,
      ].map((change) => statusChange(shard, { ...change, deliveryId, at }).statements),
    )
    await runInDurableObject(shardOf(provider.providerId), (_, state) => {
      state.storage.transactionSync(() =>
        runStatements(state.storage.sql, statementsOf(changes.flat())),
      )
    })
    const { rows, events, d1Statements, counter } = await countedHandOver(provider.providerId)
    expect({ rows, events }).toEqual({ rows: OUTBOX_PAGE, events: OUTBOX_PAGE })
    // One statement each: the index rows, the events.
    expect(d1Statements).toBe(2)
    expect(counter.sent('WEBHOOK_QUEUE')).toHaveLength(OUTBOX_PAGE)
  })

  it('hands D1 no webhook event while no endpoint wants one, and the next once one is registered', async () => {
    const sender = await freshSender()
    const { providerId } = sender
    // The shard's copy of the send facts, as its first check makes it: no endpoint yet.
    await shardOf(providerId).runFresh([])
    const sendOne = async () => {
      await writeMessages(providerId, 1)
      const shard = shardDb(providerId)
      const { id: deliveryId } = (await shard
        .prepare("SELECT id FROM deliveries WHERE status = 'queued'")
        .first<{ id: string }>())!
      const at = new Date()
      for (const change of [
        { kind: 'claim', leaseUntil: 4102444800, nowSeconds: Math.floor(at.getTime() / 1000) },
        { kind: 'sent', providerMessageId: `SM${crypto.randomUUID().replaceAll('-', '')}` },
      ] as const) {
        await shard.batch(statusChange(shard, { ...change, deliveryId, at }).statements)
      }
    }
    const eventsInD1 = async () =>
      (
        await env.DB.prepare(
          'SELECT type FROM webhook_events WHERE provider_id = CAST(?1 AS INTEGER)',
        )
          .bind(providerId)
          .all<{ type: string }>()
      ).results.map((e) => e.type)

    await sendOne()
    const unwanted = await countedHandOver(providerId)
    // The index rows' statement only: the events went nowhere.
    expect({ events: unwanted.events, d1Statements: unwanted.d1Statements }).toEqual({
      events: 0,
      d1Statements: 1,
    })
    const left = await shardDb(providerId)
      .prepare('SELECT COUNT(*) AS n FROM webhook_outbox')
      .first<{ n: number }>()
    expect(left!.n).toBe(0)
    expect(await eventsInD1()).toEqual([])

    // Registered through the API, the endpoint is in the shard's copy before the answer.
    await registerEndpoint(sender, ['message.sent'])
    await sendOne()
    const wanted = await countedHandOver(providerId)
    expect(wanted.events).toBe(1)
    expect(await eventsInD1()).toEqual(['message.sent'])
  })

  it('hands the overview hours to D1 at most every 10 s, and comes back for them', async () => {
    const { providerId } = await createWebhookProvider()
    const memory: ShardAlarmMemory = { overviewHandedAt: 0 }
    const tendAt = (at: number) =>
      runInDurableObject(shardOf(providerId), (shard) => {
        const deps = (shard as unknown as Tended).alarmDeps(new Date(at))
        return tendSendShard({ ...deps, memory })
      })
    const pendingHours = async () =>
      (await shardDb(providerId)
        .prepare('SELECT COUNT(*) AS n FROM overview_hours WHERE pending = 1')
        .first<{ n: number }>())!.n
    const start = Date.now()
    await writeMessages(providerId, 1)
    expect(await pendingHours()).toBeGreaterThan(0)
    await tendAt(start)
    expect(await pendingHours()).toBe(0)
    expect(memory.overviewHandedAt).toBe(start)

    await writeMessages(providerId, 1)
    const next = await tendAt(start + 2000)
    // Counted, not handed on yet: the run after next 10 s comes for them (the deliveries on their
    // way would bring it back only after 30 s).
    expect(await pendingHours()).toBeGreaterThan(0)
    expect(next).toBe(start + OVERVIEW_EVERY_MS)
    await tendAt(start + OVERVIEW_EVERY_MS)
    expect(await pendingHours()).toBe(0)
  })

  it('comes back within a second, not at once, for what calls left during its run', async () => {
    const { providerId } = await createWebhookProvider()
    await writeMessages(providerId, 2)
    const at = Date.now()
    const next = await runInDurableObject(shardOf(providerId), (shard, state) => {
      // A call marks a message again while the run writes the index to D1.
      let marked = false
      const db = new Proxy(env.DB, {
        get(target, prop) {
          if (prop === 'prepare')
            return (sql: string) => {
              if (!marked && sql.includes('message_index')) {
                marked = true
                state.storage.sql.exec(
                  'INSERT OR REPLACE INTO index_outbox (message_id) SELECT id FROM messages LIMIT 1',
                )
              }
              return target.prepare(sql)
            }
          const value = Reflect.get(target, prop) as unknown
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
      const deps = (shard as unknown as Tended).alarmDeps(new Date(at))
      return tendSendShard({ ...deps, db })
    })
    expect(next).toBe(at + OUTBOX_EVERY_MS)
    const left = await shardDb(providerId)
      .prepare('SELECT COUNT(*) AS n FROM index_outbox')
      .first<{ n: number }>()
    expect(left!.n).toBe(1)
  })

  it('is set while the shard holds messages, and not once it holds none', async () => {
    useStandIn()
    const sender = await freshSender()
    const alarmAt = () =>
      runInDurableObject(shardOf(sender.providerId), (_, state) => state.storage.getAlarm())
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    expect(await alarmAt()).not.toBeNull()
    await shardOf(sender.providerId).forget()
    expect(await alarmAt()).toBeNull()
    // Nothing of the provider is left in the shard.
    const left = await shardDb(sender.providerId)
      .prepare(
        `SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM deliveries)
           + (SELECT COUNT(*) FROM index_outbox) + (SELECT COUNT(*) FROM sandbox_receipts) AS n`,
      )
      .first<{ n: number }>()
    expect(left!.n).toBe(0)
    // An alarm of an empty shard sets none again.
    await runInDurableObject(shardOf(sender.providerId), (_, state) =>
      state.storage.setAlarm(Date.now()),
    )
    await runShardAlarm(sender.providerId)
    expect(await alarmAt()).toBeNull()
  })
})
