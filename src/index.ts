// The Worker's entry point: HTTP requests, the dispatch, audit and webhook queues, the five-minute
// clean-up, and the send shards' Durable Object class with its alarm.
import { app } from './app.ts'
import {
  dispatchQueueNames,
  dispatchQueueOf,
  loadAuditRetentionDays,
  loadChannelConfig,
  loadConfig,
  loadMessageRetentionDays,
} from './config.ts'
import { republishLaggingRecords } from './domain/client-records.ts'
import { ackUrl } from './domain/push-acks.ts'
import { backfillTombstones } from './domain/revocation.ts'
import { WEBHOOK_DELIVERY_RULES } from './domain/webhooks.ts'
import { log } from './log.ts'
import { createNotifiers, createSecondarySmsNotifier } from './channels/channels.ts'
import { createSmsNotifier } from './channels/sms.ts'
import { consumeAuditBatch } from './queue/audit-consumer.ts'
import { consumeDeadLetters, consumeDispatchBatch } from './queue/consumer.ts'
import { rememberRouteHealth, type RouteMemory } from './queue/sms-routes.ts'
import { purgeMessagesBefore } from './queue/message-retention.ts'
import { tendSendShard, type ShardAlarmDeps, type ShardAlarmMemory } from './queue/shard-alarm.ts'
import { consumeWebhookBatch, consumeWebhookDeadLetters } from './queue/webhook-consumer.ts'
import { sweepWebhookOutbox } from './queue/webhook-sweeper.ts'
import { SendShard as SendShardState } from './shards/send-shard.ts'
export { RouteHealth } from './shards/route-health.ts'
import { deleteAuditEventsBefore } from './storage/audit-events.ts'
import { deleteOverviewHoursBefore, OVERVIEW_KEPT_DAYS } from './storage/overview-hours.ts'
import { FCM_TOKEN_MAX_AGE_DAYS, pruneStaleFcmTokens } from './storage/recipients.ts'
import { deleteExpiredRevocations } from './storage/revoked-tokens.ts'
import {
  freshShardDatabaseIn,
  shardDatabaseIn,
  sharedShardDatabaseIn,
} from './storage/shard-database.ts'
import { purgeFactChanges } from './storage/send-facts.ts'
import { FACT_CHANGES_KEPT_SECONDS } from './shards/send-facts.ts'

const DAY_MS = 24 * 60 * 60 * 1000
/** Recipients whose stale FCM tokens one run prunes, the longest unrefreshed first. */
const FCM_PRUNE_BATCH = 500

/**
 * The Durable Object class wrangler.toml binds (durable_objects, migrations): a provider's send
 * shard (src/shards/send-shard.ts), whose alarm does src/queue/shard-alarm.ts's work.
 */
export class SendShard extends SendShardState {
  readonly #alarmMemory: ShardAlarmMemory = { overviewHandedAt: 0 }

  protected override tend(now: Date): Promise<number | null> {
    return tendSendShard(this.alarmDeps(now))
  }

  /** What the alarm works with: the shard's own database, and the Worker's bindings. */
  protected alarmDeps(now: Date): ShardAlarmDeps {
    const { env } = this
    const sms = loadChannelConfig(env).sms
    return {
      shard: this.database,
      name: this.name,
      db: env.DB,
      dispatch: dispatchQueueOf(env),
      webhooks: env.WEBHOOK_QUEUE,
      metrics: env.METRICS,
      sms: sms ? createSmsNotifier(sms) : undefined,
      retentionDays: () => loadMessageRetentionDays(env),
      memory: this.#alarmMemory,
      now,
    }
  }
}

/** This isolate's memory of the SMS routes' breaker (src/queue/sms-routes.ts). */
const routeMemory: { current: RouteMemory } = { current: null }

/** A send shard's database by its name. */
const shardsOf = (env: Env) => (name: string) => shardDatabaseIn(env.SEND_SHARDS, name)

export default {
  fetch: app.fetch,

  // Queues are told apart by the names configured for this environment (wrangler.toml's
  // *_QUEUE_NAME vars), never by names written here: staging and production share an account.
  // Every dispatch queue's batch is a dispatch batch (decisions.md D49).
  async queue(batch, env) {
    const dispatch = dispatchQueueNames(env).includes(batch.queue)
    switch (dispatch ? env.DISPATCH_QUEUE_NAME : batch.queue) {
      case env.DISPATCH_QUEUE_NAME: {
        // FCM through workload identity federation signs with Portero's own key.
        const signer = async () => {
          const { issuer, keys } = await loadConfig(env)
          return { issuer, signing: keys.signing }
        }
        const channels = loadChannelConfig(env)
        const notifiers = createNotifiers(channels, env.CACHE, signer)
        const secondary = createSecondarySmsNotifier(channels)
        const deps = {
          db: env.DB,
          shards: shardsOf(env),
          freshShards: (name: string) => freshShardDatabaseIn(env.SEND_SHARDS, name),
          sharedShards: (name: string, tasks: number) =>
            sharedShardDatabaseIn(env.SEND_SHARDS, name, tasks),
          metrics: env.METRICS,
          notifiers,
          // One breaker for the deployment's primary SMS route (decisions.md D45).
          ...(secondary
            ? {
                routes: {
                  secondary,
                  health: rememberRouteHealth(env.ROUTE_HEALTH.getByName('sms'), routeMemory),
                },
              }
            : {}),
          now: () => new Date(),
          dispatch: dispatchQueueOf(env),
          ackUrl: async (push: { shard: string; deliveryId: string }) => {
            const { issuer, ackKey } = await loadConfig(env)
            return ackUrl({ key: ackKey, issuer }, push, new Date())
          },
        }
        return consumeDispatchBatch(batch, deps)
      }
      case env.DEAD_LETTER_QUEUE_NAME:
        return consumeDeadLetters(batch, {
          shards: shardsOf(env),
          metrics: env.METRICS,
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

  // wrangler.toml [triggers], every five minutes (src/queue/schedule.ts): revocation rows are
  // useless once their token has expired, stranded webhook events go back to the queue, audit
  // events leave after AUDIT_RETENTION_DAYS and the admin index rows and webhook events of
  // messages after MESSAGE_RETENTION_DAYS (the messages leave their shards by alarm), the
  // overview's hours after OVERVIEW_KEPT_DAYS (decisions.md D42), every
  // revocation's tombstone is confirmed, every client's edge record D1 changed and KV may not
  // hold is published again (decisions.md D35), the log of changes the send shards follow is kept a
  // day (decisions.md D48), and FCM tokens not registered for 270 days are
  // dropped (decisions.md D12).
  async scheduled(controller, env) {
    const now = new Date(controller.scheduledTime)
    return settleAll('scheduled clean-up', {
      purged: deleteExpiredRevocations(env.DB, now),
      auditPurged: purgeOldAuditEvents(env, now),
      tombstoned: backfillTombstones({ db: env.DB, cache: env.CACHE, now }),
      webhooksRequeued: sweepWebhookOutbox(env.DB, env.WEBHOOK_QUEUE, now),
      messagesPurged: purgeOldMessages(env, now),
      overviewPurged: deleteOverviewHoursBefore(
        env.DB,
        new Date(now.getTime() - OVERVIEW_KEPT_DAYS * DAY_MS),
      ),
      recordsRepublished: republishLaggingRecords({ db: env.DB, cache: env.CACHE, now }),
      factChangesPurged: purgeFactChanges(
        env.DB,
        new Date(now.getTime() - FACT_CHANGES_KEPT_SECONDS * 1000),
      ),
      staleDevicesPruned: pruneStaleFcmTokens(
        env.DB,
        new Date(now.getTime() - FCM_TOKEN_MAX_AGE_DAYS * DAY_MS),
        FCM_PRUNE_BATCH,
      ),
    })
  },
} satisfies ExportedHandler<Env>

/**
 * Waits for every part and logs what each did. Settled one by one: a failing part (a D1 error, a
 * malformed *_RETENTION_DAYS) neither stops nor hides the others, and the run still fails loudly.
 */
async function settleAll(message: string, parts: Record<string, Promise<number>>): Promise<void> {
  const names = Object.keys(parts)
  const settled = await Promise.allSettled(Object.values(parts))
  const failed = settled.find((r) => r.status === 'rejected')
  const counts = Object.fromEntries(
    settled.map((r, i) => [names[i], r.status === 'fulfilled' ? r.value : String(r.reason)]),
  )
  log(failed ? 'error' : 'info', message, counts)
  if (failed) throw failed.reason
}

async function purgeOldAuditEvents(env: Env, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - loadAuditRetentionDays(env) * DAY_MS)
  return deleteAuditEventsBefore(env.DB, cutoff)
}

async function purgeOldMessages(env: Env, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - loadMessageRetentionDays(env) * DAY_MS)
  return purgeMessagesBefore(env.DB, cutoff)
}
