// insertMessage answers with the deliveries it wrote in the order listDeliveries reads them (part,
// channel, id), whatever order they were given in: POST /Services and the status view agree. And
// a message's one status summed up in SQL, to search by it, is the one messageStatus gives.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { DELIVERY_STATUSES } from '../../src/channel.ts'
import { messageStatus } from '../../src/domain/dispatch.ts'
import {
  claimDelivery,
  findOverdueDeliveries,
  insertMessage,
  listDeliveries,
  MESSAGE_STATUS_SQL,
  type NewDelivery,
} from '../../src/storage/messages.ts'
import { newMessageId } from '../../src/domain/message-ids.ts'
import { readOne } from '../../src/storage/batch.ts'
import { createSender } from '../helpers/dispatch.ts'
import { shardDb } from '../helpers/shards.ts'
import { testMessage } from '../helpers/messages.ts'

describe('insertMessage', () => {
  it('returns the deliveries in the order listDeliveries gives, not the order given', async () => {
    const sender = await createSender()
    const id = newMessageId(sender.providerId, null)
    const base = crypto.randomUUID()
    const delivery = (
      part: NewDelivery['part'],
      channel: NewDelivery['channel'],
      suffix: string,
    ) => ({
      id: `${base.slice(0, 30)}-${suffix}`,
      part,
      channel,
      address: channel === 'sms' ? '+5491155550000' : `device-${suffix}`,
      title: 'Turno',
      body: 'Oftalmologo',
      link: null,
    })
    // In neither order: some pairs come in listing order, others the other way round.
    const given = [
      delivery('advertisement', 'sms', 'd'),
      delivery('notification', 'sms', 'b'),
      delivery('notification', 'sms', 'a'),
      delivery('notification', 'fcm', 'c'),
    ]
    const message = testMessage(sender.providerId, {
      id,
      serviceId: sender.serviceId,
      destination: sender.userId,
    })
    const shard = shardDb(sender.providerId)
    const inserted = await readOne(shard, insertMessage(shard, message, given))
    const listed = await listDeliveries(shard, id)
    expect(inserted!.map((d) => d.id)).toEqual(listed.map((d) => d.id))
    expect(listed.map((d) => d.id.slice(-1))).toEqual(['d', 'c', 'a', 'b'])
  })
})

describe('MESSAGE_STATUS_SQL', () => {
  // Every delivery state the sum depends on: each status, tried or not.
  const STATES = [
    ...DELIVERY_STATUSES.flatMap((status) =>
      [0, 1].map((attempts) => ({ status, attempts, scheduledFor: null, errorCode: null })),
    ),
    // decisions.md D44: scheduled (not yet handed to the queue), and cancelled.
    { status: 'queued' as const, attempts: 0, scheduledFor: 1, errorCode: null },
    { status: 'failed' as const, attempts: 0, scheduledFor: 1, errorCode: 'cancelled' },
  ]
  type State = (typeof STATES)[number]

  /** Every multiset of `size` states (the order of a message's deliveries does not matter). */
  function mixes(size: number, from = 0): State[][] {
    if (size === 0) return [[]]
    return STATES.slice(from).flatMap((state, i) =>
      mixes(size - 1, from + i).map((rest) => [state, ...rest]),
    )
  }

  it.each([1, 2, 3])('agrees with messageStatus on every mix of %i deliveries', async (size) => {
    const groups = mixes(size)
    const rows = groups.flatMap((deliveries, group) =>
      deliveries.map(
        (d) =>
          `(${group}, '${d.status}', ${d.attempts}, ${d.scheduledFor}, ` +
          `${d.errorCode === null ? 'NULL' : `'${d.errorCode}'`})`,
      ),
    )
    const { results } = await env.DB.prepare(
      `WITH deliveries (grp, status, attempts, scheduled_for, error_code) AS (
         VALUES ${rows.join(', ')})
       SELECT grp, ${MESSAGE_STATUS_SQL} AS status FROM deliveries GROUP BY grp ORDER BY grp`,
    ).all<{ grp: number; status: string }>()
    expect(results.map((r) => r.status)).toEqual(groups.map((g) => messageStatus(g)))
    expect(new Set(results.map((r) => r.status)).size).toBeGreaterThan(size === 1 ? 5 : 7)
  })
})

describe('a scheduled delivery (decisions.md D44)', () => {
  it('is neither overdue nor claimed before its time, and is both once due', async () => {
    const sender = await createSender()
    const now = new Date()
    const due = Math.floor(now.getTime() / 1000) + 3600
    const message = testMessage(sender.providerId, {
      serviceId: sender.serviceId,
      destination: sender.userId,
      createdAt: now.toISOString(),
    })
    const delivery = {
      id: crypto.randomUUID(),
      part: 'notification' as const,
      channel: 'sms' as const,
      address: '+5491155550000',
      title: 'Turno',
      body: 'Oftalmologo',
      link: null,
    }
    const shard = shardDb(sender.providerId)
    const [stored] = (await readOne(shard, insertMessage(shard, message, [delivery], due)))!
    expect(stored).toMatchObject({ status: 'queued', scheduledFor: due })

    // However late past the sweeper's grace, a job that named it early changes nothing.
    const early = new Date((due - 1) * 1000)
    expect(await findOverdueDeliveries(shard, early, 0, 100)).not.toContain(delivery.id)
    expect(await claimDelivery({ shard }, delivery.id, early, 30)).toBeNull()

    const onTime = new Date(due * 1000)
    expect(await findOverdueDeliveries(shard, onTime, 30, 100)).toContain(delivery.id)
    expect(await claimDelivery({ shard }, delivery.id, onTime, 30)).toMatchObject({
      status: 'sending',
      attempts: 1,
    })
  })
})
