import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { GRACE_SECONDS, RECOVERY_CRON } from '../../src/queue/sweeper.ts'
import { LEASE_SECONDS } from '../../src/queue/consumer.ts'
import { claimDelivery, findDeliveryById } from '../../src/storage/messages.ts'
import { createSender, writeOutbox } from '../helpers/dispatch.ts'
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
      await worker.scheduled(
        createScheduledController({ scheduledTime: new Date(), cron: RECOVERY_CRON }),
        env,
      )
      const delivery = await eventually(
        async () => (await findDeliveryById(env.DB, id!))!,
        (d) => d.status === 'sent',
      )
      expect(delivery.status).toBe('sent')
      expect(delivery.attempts).toBe(1)
    },
  )

  it('leaves deliveries that are not overdue alone', async () => {
    const sender = await createSender()
    const [id] = await writeOutbox(sender, [{}])
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(), cron: RECOVERY_CRON }),
      env,
    )
    // The test queue delivers at once (vitest.config.ts): anything enqueued would be sent by now.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect((await findDeliveryById(env.DB, id!))!).toMatchObject({ status: 'queued', attempts: 0 })
  })

  it(
    'takes up a delivery as soon as its lease ran out, not before',
    { timeout: 20_000 },
    async () => {
      useStandIn()
      const sender = await createSender()
      const [held, stranded] = await writeOutbox(sender, [{}, {}])
      const lifecycle = { db: env.DB, webhooks: env.WEBHOOK_QUEUE }
      const now = Date.now()
      // A consumer holds one lease now; the other consumer's ran out a second ago.
      await claimDelivery(lifecycle, held!, new Date(now), LEASE_SECONDS)
      await claimDelivery(
        lifecycle,
        stranded!,
        new Date(now - (LEASE_SECONDS + 1) * 1000),
        LEASE_SECONDS,
      )
      await worker.scheduled(
        createScheduledController({ scheduledTime: new Date(now), cron: RECOVERY_CRON }),
        env,
      )
      const delivery = await eventually(
        async () => (await findDeliveryById(env.DB, stranded!))!,
        (d) => d.status === 'sent',
      )
      expect(delivery).toMatchObject({ status: 'sent', attempts: 2 })
      expect((await findDeliveryById(env.DB, held!))!).toMatchObject({
        status: 'sending',
        attempts: 1,
      })
    },
  )

  it(
    'runs on the every-minute trigger, not the five-minute clean-up',
    { timeout: 20_000 },
    async () => {
      useStandIn()
      const sender = await createSender()
      const [id] = await writeOutbox(sender, [{}], new Date(Date.now() - 2 * GRACE_SECONDS * 1000))
      await worker.scheduled(
        createScheduledController({ scheduledTime: new Date(), cron: '*/5 * * * *' }),
        env,
      )
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect((await findDeliveryById(env.DB, id!))!.status).toBe('queued')
      await worker.scheduled(
        createScheduledController({ scheduledTime: new Date(), cron: RECOVERY_CRON }),
        env,
      )
      const delivery = await eventually(
        async () => (await findDeliveryById(env.DB, id!))!,
        (d) => d.status === 'sent',
      )
      expect(delivery.status).toBe('sent')
    },
  )
})
