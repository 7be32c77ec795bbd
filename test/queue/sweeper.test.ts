import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { GRACE_SECONDS } from '../../src/queue/sweeper.ts'
import { findDeliveryById } from '../../src/storage/messages.ts'
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
        createScheduledController({ scheduledTime: new Date(), cron: '*/5 * * * *' }),
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
      createScheduledController({ scheduledTime: new Date(), cron: '*/5 * * * *' }),
      env,
    )
    // The test queue delivers at once (vitest.config.ts): anything enqueued would be sent by now.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect((await findDeliveryById(env.DB, id!))!).toMatchObject({ status: 'queued', attempts: 0 })
  })
})
