// Message retention (decisions.md D33): each send shard's alarm deletes its messages older than
// MESSAGE_RETENTION_DAYS with their deliveries and timelines, and the five-minute run deletes
// their index rows and webhook events in D1, both in bounded pages. Messages here are dated
// relative to the run, or in 1971, before any other test's, where a run's page must be this
// file's own.
import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import worker from '../../src/index.ts'
import {
  PURGE_MAX_PAGES,
  PURGE_PAGE_SIZE,
  purgeMessagesBefore,
} from '../../src/queue/message-retention.ts'
import { WEBHOOK_EVENT_TYPES } from '../../src/storage/webhooks.ts'
import { dispatch, freshSender, readMessage, settle, smsRequest } from '../helpers/dispatch.ts'
import { rowsOf, writeMessageLife, type MessageRows } from '../helpers/message-life.ts'
import { runShardAlarm, shardDbOfMessage } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { createWebhookProvider, registerEndpoint } from '../helpers/webhooks.ts'

const DAY = 24 * 3600_000
const NONE: MessageRows = {
  messages: 0,
  deliveries: 0,
  delivery_events: 0,
  message_index: 0,
  webhook_events: 0,
  webhook_deliveries: 0,
  webhook_attempts: 0,
}

function runCleanUp(overrides: Partial<Env> = {}, scheduledTime = new Date()) {
  const controller = createScheduledController({ scheduledTime, cron: '*/5 * * * *' })
  return worker.scheduled(controller, { ...env, ...overrides })
}

/** A provider with an endpoint subscribed to every event, so its messages have webhook rows. */
async function webhookProvider() {
  const provider = await createWebhookProvider()
  const endpoint = await registerEndpoint(provider, [...WEBHOOK_EVENT_TYPES])
  return { providerId: provider.providerId, endpointId: endpoint.id }
}

describe('the scheduled run with MESSAGE_RETENTION_DAYS = 30', () => {
  const key = `order-${crypto.randomUUID()}`
  const ids: Record<'delivered' | 'awaitingReceipt' | 'recent' | 'otherProvider', string> = {
    delivered: '',
    awaitingReceipt: '',
    recent: '',
    otherProvider: '',
  }
  const before: Record<string, MessageRows> = {}

  beforeAll(async () => {
    const a = await webhookProvider()
    const b = await webhookProvider()
    const now = Date.now()
    ids.delivered = await writeMessageLife(a.providerId, new Date(now - 31 * DAY), {
      endpointId: a.endpointId,
      idempotencyKey: key,
    })
    ids.awaitingReceipt = await writeMessageLife(a.providerId, new Date(now - 30 * DAY - 60_000), {
      endpointId: a.endpointId,
      smsReceipt: false,
    })
    ids.recent = await writeMessageLife(a.providerId, new Date(now - 29 * DAY), {
      endpointId: a.endpointId,
    })
    ids.otherProvider = await writeMessageLife(b.providerId, new Date(now - DAY), {
      endpointId: b.endpointId,
      idempotencyKey: key,
    })
    for (const [name, id] of Object.entries(ids)) before[name] = await rowsOf(id)
    expect(env.MESSAGE_RETENTION_DAYS).toBe('30')
    await runCleanUp()
    // Each shard purges its own messages when its alarm runs.
    await Promise.all([runShardAlarm(a.providerId), runShardAlarm(b.providerId)])
  })

  it('wrote what a message owns in every table before the run', () => {
    expect(before.delivered).toEqual({
      messages: 1,
      deliveries: 2,
      delivery_events: 7,
      message_index: 1,
      webhook_events: 3,
      webhook_deliveries: 3,
      webhook_attempts: 3,
    })
  })

  it('deletes an older message with its deliveries, timeline and webhook events', async () => {
    expect(await rowsOf(ids.delivered)).toEqual(NONE)
  })

  it('deletes an older message whatever its state: an SMS still waiting for its receipt', async () => {
    expect(before.awaitingReceipt).toMatchObject({ messages: 1, delivery_events: 6 })
    expect(await rowsOf(ids.awaitingReceipt)).toEqual(NONE)
  })

  it('keeps a message inside the retention, and every row of it', async () => {
    expect(await rowsOf(ids.recent)).toEqual(before.recent)
  })

  it("keeps another provider's message that used the same Idempotency-Key", async () => {
    expect(await rowsOf(ids.otherProvider)).toEqual(before.otherProvider)
    const kept = await shardDbOfMessage(ids.otherProvider)
      .prepare('SELECT id FROM messages WHERE idempotency_key = ?1')
      .bind(key)
      .all<{ id: string }>()
    expect(kept.results.map((r) => r.id)).toEqual([ids.otherProvider])
  })
})

describe('a purged message', () => {
  it(
    'frees its Idempotency-Key: the same request is accepted again as a new message',
    { timeout: 30_000 },
    async () => {
      useStandIn()
      const sender = await freshSender()
      const body = smsRequest(sender)
      const headers = { 'idempotency-key': `order-${crypto.randomUUID()}` }
      const first = await dispatch(sender, body, headers)
      expect(first.status).toBe(201)
      const { id } = (await first.json()) as { id: string }
      await settle(sender, id)
      await shardDbOfMessage(id)
        .prepare('UPDATE messages SET created_at = ?2 WHERE id = ?1')
        .bind(id, new Date(Date.now() - 31 * DAY).toISOString())
        .run()

      await runShardAlarm(sender.providerId)
      expect((await readMessage(sender, id)).status).toBe(404)
      const again = await dispatch(sender, body, headers)
      expect(again.status).toBe(201)
      expect(again.headers.get('idempotent-replayed')).toBeNull()
      const second = (await again.json()) as { id: string }
      expect(second.id).not.toBe(id)
      await settle(sender, second.id)
    },
  )
})

describe('purgeMessagesBefore', () => {
  it('deletes at most pageSize × maxPages index rows a run, oldest first, and warns', async () => {
    const { providerId, endpointId } = await webhookProvider()
    const written: string[] = []
    for (let i = 0; i < 7; i++) {
      const createdAt = new Date(Date.UTC(1971, 0, 1, 0, i))
      written.push(await writeMessageLife(providerId, createdAt, { endpointId }))
    }
    const cutoff = new Date(Date.UTC(1972, 0, 1))
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})

    // 7 index rows and 21 webhook events: 3 pages of 2 of each.
    expect(await purgeMessagesBefore(env.DB, cutoff, { pageSize: 2, maxPages: 3 })).toBe(12)
    const left = await Promise.all(written.map(async (id) => (await rowsOf(id)).message_index))
    expect(left).toEqual([0, 0, 0, 0, 0, 0, 1])
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('message purge stopped at its bound'))

    // The next run takes the last index row and 6 more events; one with room for 5 pages takes
    // the 9 events left and, not stopped by the bound, says nothing.
    expect(await purgeMessagesBefore(env.DB, cutoff, { pageSize: 2, maxPages: 3 })).toBe(7)
    warn.mockClear()
    expect(await purgeMessagesBefore(env.DB, cutoff, { pageSize: 2, maxPages: 5 })).toBe(9)
    const gone = await rowsOf(written[6]!)
    expect(gone).toMatchObject({ message_index: 0, webhook_events: 0, webhook_attempts: 0 })
    expect(warn).not.toHaveBeenCalled()
  })

  it('runs with pages of 100 and at most 5,000 messages a run by default', () => {
    expect([PURGE_PAGE_SIZE, PURGE_PAGE_SIZE * PURGE_MAX_PAGES]).toEqual([100, 5000])
  })
})

describe('a malformed MESSAGE_RETENTION_DAYS', () => {
  it.each(['', '0', '30.5', 'thirty', '3651'])(
    'fails the run loudly at %j and deletes no message',
    async (value) => {
      const { providerId } = await createWebhookProvider()
      const id = await writeMessageLife(providerId, new Date(Date.now() - 400 * DAY))
      await expect(runCleanUp({ MESSAGE_RETENTION_DAYS: value })).rejects.toThrow(
        /^MESSAGE_RETENTION_DAYS /,
      )
      expect((await rowsOf(id)).message_index).toBe(1)
    },
  )
})
