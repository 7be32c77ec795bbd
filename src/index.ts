// The Worker's entry point: HTTP requests, the dispatch, audit and webhook queues, and the
// five-minute clean-up.
import { app } from './app.ts'
import {
  loadAuditRetentionDays,
  loadChannelConfig,
  loadConfig,
  loadMessageRetentionDays,
} from './config.ts'
import { backfillTombstones } from './domain/revocation.ts'
import { WEBHOOK_DELIVERY_RULES } from './domain/webhooks.ts'
import { log } from './log.ts'
import { createNotifiers } from './channels/channels.ts'
import { consumeAuditBatch } from './queue/audit-consumer.ts'
import { consumeDeadLetters, consumeDispatchBatch } from './queue/consumer.ts'
import { purgeMessagesBefore } from './queue/message-retention.ts'
import { sweepOverdueDeliveries } from './queue/sweeper.ts'
import { consumeWebhookBatch, consumeWebhookDeadLetters } from './queue/webhook-consumer.ts'
import { sweepWebhookOutbox } from './queue/webhook-sweeper.ts'
import { deleteAuditEventsBefore } from './storage/audit-events.ts'
import { deleteExpiredRevocations } from './storage/revoked-tokens.ts'

const DAY_MS = 24 * 60 * 60 * 1000

// The Durable Object classes wrangler.toml binds (durable_objects, migrations).
export { SendShard } from './shards/send-shard.ts'

export default {
  fetch: app.fetch,

  // Queues are told apart by the names configured for this environment (wrangler.toml's
  // *_QUEUE_NAME vars), never by names written here: staging and production share an account.
  async queue(batch, env) {
    switch (batch.queue) {
      case env.DISPATCH_QUEUE_NAME: {
        const notifiers = createNotifiers(loadChannelConfig(env), env.CACHE)
        const deps = { db: env.DB, webhooks: env.WEBHOOK_QUEUE, notifiers, now: () => new Date() }
        return consumeDispatchBatch(batch, deps)
      }
      case env.DEAD_LETTER_QUEUE_NAME:
        return consumeDeadLetters(batch, {
          db: env.DB,
          webhooks: env.WEBHOOK_QUEUE,
          now: () => new Date(),
        })
      case env.AUDIT_QUEUE_NAME:
        return consumeAuditBatch(batch, { db: env.DB })
      case env.WEBHOOK_QUEUE_NAME: {
        const { webhookSecretKey } = await loadConfig(env)
        return consumeWebhookBatch(batch, {
          db: env.DB,
          queue: env.WEBHOOK_QUEUE,
          secretKey: webhookSecretKey,
          now: () => new Date(),
          rules: WEBHOOK_DELIVERY_RULES,
        })
      }
      case env.WEBHOOK_DEAD_LETTER_QUEUE_NAME:
        return consumeWebhookDeadLetters(batch, { db: env.DB })
      default:
        // Thrown, so the batch is retried (and kept) until the configuration names this queue.
        log('error', 'a batch from a queue no *_QUEUE_NAME var names', {
          queue: batch.queue,
          messages: batch.messages.length,
        })
        throw new Error(`no consumer is configured for queue "${batch.queue}"`)
    }
  },

  // wrangler.toml [triggers]: revocation rows are useless once their token has expired, overdue
  // deliveries and stranded webhook events go back to the queue, audit events leave after
  // AUDIT_RETENTION_DAYS and messages (their deliveries, timelines and webhook events with them)
  // after MESSAGE_RETENTION_DAYS, and every revocation's tombstone is confirmed.
  async scheduled(controller, env) {
    const now = new Date(controller.scheduledTime)
    // Settled one by one: a failing part (a D1 error, a malformed *_RETENTION_DAYS) neither
    // stops nor hides the others, and the run still fails loudly.
    const settled = await Promise.allSettled([
      deleteExpiredRevocations(env.DB, now),
      sweepOverdueDeliveries(env.DB, env.DISPATCH_QUEUE, now),
      purgeOldAuditEvents(env, now),
      backfillTombstones({ db: env.DB, cache: env.CACHE, now }),
      sweepWebhookOutbox(env.DB, env.WEBHOOK_QUEUE, now),
      purgeOldMessages(env, now),
    ])
    const [purged, requeued, auditPurged, tombstoned, webhooksRequeued, messagesPurged] = settled
    const value = (r: PromiseSettledResult<number>) =>
      r.status === 'fulfilled' ? r.value : String(r.reason)
    const failed = settled.find((r) => r.status === 'rejected')
    log(failed ? 'error' : 'info', 'scheduled clean-up', {
      purged: value(purged),
      requeued: value(requeued),
      auditPurged: value(auditPurged),
      tombstoned: value(tombstoned),
      webhooksRequeued: value(webhooksRequeued),
      messagesPurged: value(messagesPurged),
    })
    if (failed) throw failed.reason
  },
} satisfies ExportedHandler<Env>

async function purgeOldAuditEvents(env: Env, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - loadAuditRetentionDays(env) * DAY_MS)
  return deleteAuditEventsBefore(env.DB, cutoff)
}

async function purgeOldMessages(env: Env, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - loadMessageRetentionDays(env) * DAY_MS)
  return purgeMessagesBefore(env.DB, cutoff)
}
