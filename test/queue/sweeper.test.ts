// The outbox sweeper, run by each send shard's alarm over its own deliveries (decisions.md D32).
import { describe, expect, it } from 'vitest'
import { GRACE_SECONDS } from '../../src/queue/sweeper.ts'
import { LEASE_SECONDS } from '../../src/queue/consumer.ts'
import { claimDelivery, findDeliveryById } from '../../src/storage/messages.ts'
import { createSender, writeOutbox } from '../helpers/dispatch.ts'
import { runShardAlarm, shardDb } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'

describe('outbox sweeper', () => {
  it(
    'enqueues a delivery that was written but never enqueued, and it gets sent',
    { timeout: 20_000 },
    async () => {
      useStandIn()
      const sender = await createSender()
      // As if the Worker died between the D1 write and the enqueue, long ago.
      const [id] = await writeOutbox(sender, [{}], new Date(Date.now() - 2 * GRACE_SECONDS * 1000))
      await runShardAlarm(sender.providerId)
      const delivery = await eventually(
        async () => (await findDeliveryById(shardDb(sender.providerId), id!))!,
        (d) => d.status === 'sent',
      )
      expect(delivery.status).toBe('sent')
      expect(delivery.attempts).toBe(1)
    },
  )

  it('leaves deliveries that are not overdue alone', async () => {
    const sender = await createSender()
    const [id] = await writeOutbox(sender, [{}])
    await runShardAlarm(sender.providerId)
    // The test queue delivers at once (vitest.config.ts): anything enqueued would be sent by now.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect((await findDeliveryById(shardDb(sender.providerId), id!))!).toMatchObject({
      status: 'queued',
      attempts: 0,
    })
  })

  it(
    'takes up a delivery as soon as its lease ran out, not before',
    { timeout: 20_000 },
    async () => {
      useStandIn()
      const sender = await createSender()
      const [held, stranded] = await writeOutbox(sender, [{}, {}])
      const shard = shardDb(sender.providerId)
      const lifecycle = { shard }
      const now = Date.now()
      // A consumer holds one lease now; the other consumer's ran out a second ago.
      await claimDelivery(lifecycle, held!, new Date(now), LEASE_SECONDS)
      await claimDelivery(
        lifecycle,
        stranded!,
        new Date(now - (LEASE_SECONDS + 1) * 1000),
        LEASE_SECONDS,
      )
      await runShardAlarm(sender.providerId)
      const delivery = await eventually(
        async () => (await findDeliveryById(shard, stranded!))!,
        (d) => d.status === 'sent',
      )
      expect(delivery).toMatchObject({ status: 'sent', attempts: 2 })
      expect((await findDeliveryById(shard, held!))!).toMatchObject({
        status: 'sending',
        attempts: 1,
      })
    },
  )

  it(
    'takes up a stranded delivery by itself: the shard sets its own alarm, no cron is needed',
    { timeout: 20_000 },
    async () => {
      useStandIn()
      const sender = await createSender()
      const [id] = await writeOutbox(sender, [{}], new Date(Date.now() - 2 * GRACE_SECONDS * 1000))
      // Nothing runs the alarm or the scheduled handler here: the write set the alarm.
      const delivery = await eventually(
        async () => (await findDeliveryById(shardDb(sender.providerId), id!))!,
        (d) => d.status === 'sent',
      )
      expect(delivery).toMatchObject({ status: 'sent', attempts: 1 })
    },
  )
})
