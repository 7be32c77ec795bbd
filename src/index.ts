// The Worker's entry point: HTTP requests, the dispatch queues, and the five-minute clean-up.
import { app } from './app.ts'
import { loadChannelConfig } from './config.ts'
import { log } from './http/log.ts'
import { createNotifiers } from './providers/channels.ts'
import { consumeDeadLetters, consumeDispatchBatch } from './queue/consumer.ts'
import { DEAD_LETTER_QUEUE_NAME } from './queue/job.ts'
import { sweepOverdueDeliveries } from './queue/sweeper.ts'
import { deleteExpiredRevocations } from './storage/revoked-tokens.ts'

export default {
  fetch: app.fetch,

  async queue(batch, env) {
    if (batch.queue === DEAD_LETTER_QUEUE_NAME) return consumeDeadLetters(batch, { db: env.DB })
    const notifiers = createNotifiers(loadChannelConfig(env), env.CACHE)
    return consumeDispatchBatch(batch, { db: env.DB, notifiers, now: () => new Date() })
  },

  // wrangler.toml [triggers]: revocation rows are useless once their token has expired, and
  // overdue deliveries go back to the queue.
  async scheduled(controller, env) {
    const now = new Date(controller.scheduledTime)
    const [purged, requeued] = await Promise.all([
      deleteExpiredRevocations(env.DB, now),
      sweepOverdueDeliveries(env.DB, env.DISPATCH_QUEUE, now),
    ])
    log('info', 'scheduled clean-up', { purged, requeued })
  },
} satisfies ExportedHandler<Env>
