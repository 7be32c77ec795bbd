// The dispatch queue consumer (decisions.md D10): each queue message names one delivery and the
// send shard that holds it (decisions.md D32), whose row is the source of truth. Every message gets
// exactly one ack() or retry(), on its own. A batch first asks each shard it names whether any of
// its deliveries must be withheld, from the shard's copy of the send facts (decisions.md D48).
import { log } from '../log.ts'
import type { Notifiers } from '../channels/channels.ts'
import type {
  Notifier,
  OutboundMessage,
  PermanentFailure,
  SendResult,
} from '../channels/notifier.ts'
import { FIND_CLOCK_SKEW_MS } from '../channels/sms.ts'
import { changeDeliveryStatus, type LifecycleDeps } from '../storage/delivery-lifecycle.ts'
import { markDeliverySent } from '../storage/early-receipts.ts'
import {
  claimDeliveries,
  findDeliveryById,
  findOtherSmsSids,
  renewLease,
  type Delivery,
} from '../storage/messages.ts'
import { findWithheldReasons } from '../storage/send-policy.ts'
import { removeFcmToken } from '../storage/recipients.ts'
import { fallBackStatements } from '../storage/fallbacks.ts'
import { scheduleSandboxReceipt } from '../storage/sandbox-receipts.ts'
import { SANDBOX_NOTIFIERS, sandboxReceiptFor } from '../channels/sandbox.ts'
import { recordSmsApiOptOut } from '../storage/suppressions.ts'
import type { RouteOutcome, SmsRoute } from '../channel.ts'
import { backoff } from './backoff.ts'
import { batchRoutes, type BatchRoutes, type SmsRoutes } from './sms-routes.ts'
import { DispatchJob } from './job.ts'
import { epochSeconds } from '../utils/time.ts'

/**
 * Longer than any send may take (adapters time out after 10 s; asking the SMS API about an attempt
 * in doubt renews the lease before sending): a dead consumer's claim expires, and the sweeper's
 * next run, within a minute, hands the delivery back to the queue (decisions.md D10).
 */
export const LEASE_SECONDS = 30

/**
 * What a provider reads in `last_error` when the operator's own credentials or settings failed:
 * those details are the operator's, and go to the log.
 */
export const OPERATOR_FAULT_TEXT = 'delivery channel unavailable; the operator has been notified'

export type ConsumerDeps = {
  /** D1: what permanent failures teach the recipients directory and the suppression list. */
  db: D1Database
  /** A send shard's database by its name (src/storage/shard-database.ts). */
  shards: (name: string) => D1Database
  /** The same, its copy of the send facts brought up to date first when too old to check with. */
  freshShards: (name: string) => D1Database
  /**
   * A send shard's database for `tasks` deliveries sent at once: their records go in one call
   * whenever all of them wait for the shard (src/storage/shard-database.ts sharedShardDatabaseIn).
   */
  sharedShards: (name: string, tasks: number) => { db: D1Database; done(): void }
  metrics?: AnalyticsEngineDataset
  notifiers: Notifiers
  /** The second SMS route and its circuit breaker (decisions.md D45), when there is one. */
  routes?: SmsRoutes
  now: () => Date
  /** A delivery's dispatch queue, by its id (D49): a push's fallback SMS is enqueued on it (D46). */
  dispatch: (deliveryId: string) => Queue
  /** A push's acknowledgement URL (domain/push-acks.ts), carried in its data payload. */
  ackUrl: (push: { shard: string; deliveryId: string }) => Promise<string>
}

/** One delivery's work: its shard's lifecycle, D1, and the batch's use of the SMS routes. */
type DeliveryDeps = ConsumerDeps & LifecycleDeps & { batchRoutes?: BatchRoutes }

export async function consumeDispatchBatch(
  batch: MessageBatch<unknown>,
  deps: ConsumerDeps,
): Promise<void> {
  const jobs: Array<{ message: Message<unknown>; job: DispatchJob }> = []
  for (const message of batch.messages) {
    const job = DispatchJob.safeParse(message.body)
    if (job.success) {
      jobs.push({ message, job: job.data })
    } else {
      log('error', 'dropping a malformed dispatch job', { queueMessageId: message.id })
      message.ack()
    }
  }
  if (jobs.length === 0) return
  let withheld: Map<string, string>
  try {
    withheld = await findWithheldReasonsOf(
      jobs.map(({ job }) => job),
      deps,
    )
  } catch (cause) {
    // A shard outage: nothing was claimed; the whole batch is tried again later.
    log('error', 'dispatch batch could not read its send policy', { cause: String(cause) })
    for (const { message } of jobs) message.retry({ delaySeconds: backoff(message.attempts) })
    return
  }
  // Each shard's deliveries claimed in one call; then one message's failure never holds up or
  // re-sends another: each settles itself.
  const byShard = Map.groupBy(jobs, ({ job }) => job.shard)
  const routes = deps.routes && batchRoutes(deps.routes.health, deps.now)
  await Promise.all(
    [...byShard].map(async ([name, ofShard]) => {
      const shardDeps = { ...deps, shard: deps.shards(name), batchRoutes: routes }
      let claimed: Array<Delivery | null>
      try {
        const claims = ofShard.map(({ job }) => ({
          id: job.deliveryId,
          withheld: withheld.get(job.deliveryId) ?? null,
        }))
        claimed = await claimDeliveries(shardDeps, claims, deps.now(), LEASE_SECONDS)
      } catch (cause) {
        // The shard unavailable: nothing was claimed; these are tried again later.
        log('error', 'dispatch batch could not claim its deliveries', {
          shard: name,
          cause: String(cause),
        })
        for (const { message } of ofShard)
          message.retry({ delaySeconds: backoff(message.attempts) })
        return
      }
      // Each delivery records what became of it through the shard; the records of deliveries
      // that finish together share one call.
      const shared = deps.sharedShards(name, ofShard.length)
      const sendDeps = { ...shardDeps, shard: shared.db }
      await Promise.all(
        ofShard.map(async ({ message, job }, i) => {
          try {
            await consumeOne(message, job, sendDeps, claimed[i]!)
          } finally {
            shared.done()
          }
        }),
      )
    }),
  )
  // The batch's outcomes of the primary SMS route, in one call (decisions.md D45).
  try {
    await routes?.report()
  } catch (cause) {
    log('warn', 'SMS route outcomes could not be reported', { cause: String(cause) })
  }
}

/** The send policy's answer for the batch: one call to each shard named. */
async function findWithheldReasonsOf(
  jobs: DispatchJob[],
  deps: ConsumerDeps,
): Promise<Map<string, string>> {
  const byShard = Map.groupBy(jobs, (job) => job.shard)
  const answers = await Promise.all(
    [...byShard].map(([shard, of]) =>
      findWithheldReasons(
        deps.freshShards(shard),
        of.map((job) => job.deliveryId),
      ),
    ),
  )
  return new Map(answers.flatMap((answer) => [...answer]))
}

/** One queue message, its delivery claimed (or withheld) already: null when there was nothing to claim. */
async function consumeOne(
  message: Message<unknown>,
  job: DispatchJob,
  deps: DeliveryDeps,
  delivery: Delivery | null,
): Promise<void> {
  const { deliveryId } = job
  try {
    if (!delivery) {
      // Another consumer holds a live lease: this copy comes back once the lease has run out, in
      // case that consumer died (Queues hand back the message of a consumer that died at once).
      const leased = await findDeliveryById(deps.shard, deliveryId)
      const left =
        leased?.status === 'sending' ? (leased.leaseUntil ?? 0) - epochSeconds(deps.now()) : -1
      if (left >= 0) {
        message.retry({ delaySeconds: left + 1 })
        return
      }
      // Already sent, failed or dead (or gone): nothing to do.
      message.ack()
      return
    }
    // Withheld instead of claimed (the lifecycle's `withhold`): its provider, service or
    // subscription was turned off, or its number suppressed, after it was accepted.
    if (delivery.status === 'failed') {
      log('info', 'delivery withheld', { deliveryId, reason: delivery.lastError })
      message.ack()
      return
    }
    await send(delivery, message, deps, job.shard)
  } catch (cause) {
    // A bug or a D1 outage: try again later rather than lose the delivery.
    log('error', 'dispatch job failed', { deliveryId, cause: String(cause) })
    message.retry({ delaySeconds: backoff(message.attempts) })
  }
}

async function send(
  delivery: Delivery,
  message: Message<unknown>,
  deps: DeliveryDeps,
  shard: string,
): Promise<void> {
  // A sandbox message goes to no channel: the sandbox answers for it (docs/sending.md "Sandbox").
  // An SMS goes by its route: the primary until it failed over (decisions.md D45).
  const routes = !delivery.sandbox && delivery.channel === 'sms' ? deps.routes : undefined
  let route: SmsRoute = delivery.route ?? 'primary'
  let notifier = delivery.sandbox
    ? SANDBOX_NOTIFIERS[delivery.channel]
    : routes && route === 'secondary'
      ? routes.secondary
      : deps.notifiers[delivery.channel]
  if (!notifier) {
    log('error', 'delivery failed: the channel is not configured', {
      deliveryId: delivery.id,
      channel: delivery.channel,
    })
    const at = deps.now()
    await changeDeliveryStatus(deps, {
      kind: 'failed',
      deliveryId: delivery.id,
      at,
      error: OPERATOR_FAULT_TEXT,
    })
    message.ack()
    return
  }
  const outbound: OutboundMessage = {
    id: delivery.id,
    channel: delivery.channel,
    to: delivery.address,
    title: delivery.title,
    body: delivery.body,
    ...(delivery.link ? { link: delivery.link } : {}),
    ...(delivery.pictureUrl ? { pictureUrl: delivery.pictureUrl } : {}),
    ...(delivery.template ? { template: delivery.template } : {}),
    shard,
    ...(delivery.channel === 'fcm'
      ? { ackUrl: await deps.ackUrl({ shard, deliveryId: delivery.id }) }
      : {}),
  }
  // decisions.md D10: an earlier attempt may have reached the channel with nothing recorded. A
  // channel that can tell (SMS) is asked first; a push is sent again and replaces the first on
  // the device (the delivery id is its tag and collapse id).
  if (delivery.inDoubtSince !== null && notifier.findAccepted) {
    const ask = { findAccepted: notifier.findAccepted.bind(notifier) }
    if (!(await settleAttemptInDoubt(delivery, outbound, ask, message, deps))) return
  }
  // Only once no earlier attempt is in doubt may a new one take another route.
  const failOver = async (reason: string) => {
    const moved = await changeDeliveryStatus(deps, {
      kind: 'reroute',
      deliveryId: delivery.id,
      at: deps.now(),
      route: 'secondary',
      reason,
    })
    // Not sending any more (a sweeper took it back after its lease): whoever holds it sends.
    if (!moved) message.ack()
    route = 'secondary'
    notifier = routes!.secondary
    return moved
  }
  const batch = deps.batchRoutes
  if (routes && batch && route === 'primary' && (await batch.pick()) === 'secondary') {
    if (!(await failOver('the primary SMS route is failing (its circuit breaker is open)'))) return
  }
  let result = await notifier.send(outbound)
  if (routes && batch && route === 'primary') {
    batch.record(routeOutcome(result))
    // An answer refusing Portero's own account or settings proves the SMS was not accepted: it
    // goes by the secondary route now. Nothing else does: a 429 or 5xx counts towards the
    // breaker, and a timeout may have been accepted (the next attempt asks, as ever).
    if (!result.ok && result.operatorFault && !result.retryable) {
      log('error', "the primary SMS route refused the operator's settings: failing over", {
        deliveryId: delivery.id,
        reason: result.reason,
      })
      if (!(await failOver("the primary SMS route refused Portero's account or settings"))) return
      result = await notifier.send(outbound)
    }
  }
  if (result.ok) {
    if (delivery.sandbox && delivery.channel !== 'fcm') {
      // The receipt the SMS API would send, kept before the send is recorded: the alarm applies it.
      const { afterSeconds, ...receipt } = sandboxReceiptFor(delivery.address)
      const dueAt = epochSeconds(deps.now()) + afterSeconds
      await scheduleSandboxReceipt(deps.shard, result.providerMessageId, receipt, dueAt)
    }
    // A receipt that arrived before this answer was recorded is applied with it (decisions.md D27).
    await markDeliverySent({ ...deps, now: deps.now() }, delivery, result.providerMessageId)
    message.ack()
    return
  }
  let lastError = result.reason
  if (result.operatorFault) {
    const { retryable, reason } = result
    log('error', "delivery failed on the operator's channel settings", {
      deliveryId: delivery.id,
      channel: delivery.channel,
      retryable,
      reason,
    })
    lastError = OPERATOR_FAULT_TEXT
  }
  if (result.retryable) {
    // A timeout, a lost connection or a 5xx does not say the channel refused it: where the
    // channel can tell, the next attempt asks first.
    const inDoubt = notifier.findAccepted !== undefined
    await retryLater(deps, message, delivery.id, lastError, result.retryAfterSeconds, inDoubt)
    return
  }
  // A push refused for good falls back to SMS in the same batch, when it may (decisions.md D46).
  const at = deps.now()
  const fallback =
    result.permanent && delivery.channel === 'fcm' && delivery.fallbackAddress
      ? fallBackStatements(deps.shard, delivery.id, 'failed', at)
      : null
  const failed = await changeDeliveryStatus(
    deps,
    {
      kind: 'failed',
      deliveryId: delivery.id,
      at,
      error: lastError,
      errorCode: result.errorCode ?? null,
    },
    fallback?.statements,
  )
  if (result.permanent) await actOnPermanentFailure(deps.db, delivery, result.permanent)
  // Should the enqueue fail, this job is retried (and finds nothing to claim), and the shard's
  // sweep enqueues the SMS. A job for an SMS not created (another push of the part has not
  // failed yet) finds nothing either.
  if (fallback && failed) {
    const job: DispatchJob = { deliveryId: fallback.smsId, shard }
    await deps.dispatch(job.deliveryId).send(job, { contentType: 'json' })
  }
  message.ack()
}

/**
 * Asks the channel whether an attempt in doubt was accepted, before anything is sent again. Found:
 * recorded sent with the channel's id (a receipt waiting for it is applied), nothing sent. Not
 * found: true, the caller sends, once the lease is renewed (the question took part of it).
 * Unknown: retried later with backoff, still in doubt, nothing sent.
 */
async function settleAttemptInDoubt(
  delivery: Delivery,
  outbound: OutboundMessage,
  channel: Required<Pick<Notifier, 'findAccepted'>>,
  message: Message<unknown>,
  deps: DeliveryDeps,
): Promise<boolean> {
  const notBefore = new Date(delivery.inDoubtSince! * 1000)
  const since = new Date(notBefore.getTime() - FIND_CLOCK_SKEW_MS)
  // The same provider's other SMS: another provider's never went out under this delivery's text
  // by this delivery's attempt, and a destination's SMS all live in one shard.
  const ignore = await findOtherSmsSids(
    deps.shard,
    delivery.id,
    delivery.address,
    since,
    delivery.channel,
  )
  const found = await channel.findAccepted(outbound, notBefore, { ignore })
  if (found.found === true) {
    log('info', 'an attempt in doubt had been accepted: recorded, not sent again', {
      deliveryId: delivery.id,
      providerMessageId: found.providerMessageId,
    })
    await markDeliverySent({ ...deps, now: deps.now() }, delivery, found.providerMessageId)
    message.ack()
    return false
  }
  if (found.found === false) {
    if (await renewLease(deps.shard, delivery, deps.now(), LEASE_SECONDS)) return true
    // Another consumer took the delivery over meanwhile: it asks, and sends, in our place.
    log('warn', 'lease ran out while asking the channel; not sending', { deliveryId: delivery.id })
    message.ack()
    return false
  }
  let error =
    'not sent again yet: the channel could not say whether an earlier attempt was accepted ' +
    `(${found.reason})`
  if (found.operatorFault) {
    log('error', "an attempt in doubt could not be checked: the operator's channel settings", {
      deliveryId: delivery.id,
      channel: delivery.channel,
      reason: found.reason,
    })
    error = OPERATOR_FAULT_TEXT
  }
  await retryLater(deps, message, delivery.id, error, found.retryAfterSeconds, true)
  return false
}

/** What a send by the primary SMS route says of its health (decisions.md D45). */
function routeOutcome(result: SendResult): RouteOutcome {
  if (result.ok) return 'ok'
  if (result.operatorFault) return 'misconfigured'
  return result.retryable ? 'transient' : 'ok'
}

/** Queued again with backoff (honouring the channel's Retry-After), and the message retried. */
async function retryLater(
  deps: DeliveryDeps,
  message: Message<unknown>,
  deliveryId: string,
  error: string,
  retryAfterSeconds: number | undefined,
  inDoubt: boolean,
): Promise<void> {
  const delay = backoff(message.attempts, retryAfterSeconds)
  const at = deps.now()
  await changeDeliveryStatus(deps, {
    kind: 'retry',
    deliveryId,
    at,
    error,
    nextAttemptAt: epochSeconds(at) + delay,
    inDoubt,
  })
  message.retry({ delaySeconds: delay })
}

/** The recipients directory learns from permanent failures, so the next send is not attempted. */
async function actOnPermanentFailure(
  db: D1Database,
  delivery: Delivery,
  failure: PermanentFailure,
) {
  if (failure === 'unregistered' && delivery.channel === 'fcm') {
    await removeFcmToken(db, delivery.providerId, delivery.address)
  } else if (failure === 'opted_out' && delivery.channel === 'sms') {
    await recordSmsApiOptOut(db, delivery.providerId, delivery.address)
  }
}

/** The dead-letter consumer: deliveries that ran out of queue attempts are marked dead. */
export async function consumeDeadLetters(
  batch: MessageBatch<unknown>,
  deps: Pick<ConsumerDeps, 'shards' | 'metrics' | 'now'>,
) {
  await Promise.all(
    batch.messages.map(async (message) => {
      const job = DispatchJob.safeParse(message.body)
      try {
        if (job.success) {
          const shard = deps.shards(job.data.shard)
          const delivery = await findDeliveryById(shard, job.data.deliveryId)
          const last = delivery?.lastError ? `; last error: ${delivery.lastError}` : ''
          const dead = await changeDeliveryStatus(
            { shard, metrics: deps.metrics },
            {
              kind: 'dead',
              deliveryId: job.data.deliveryId,
              at: deps.now(),
              error: `gave up after ${delivery?.attempts ?? '?'} attempts${last}`,
            },
          )
          // One line per given-up delivery, for the operator's alert (docs/deployment.md "Going live").
          if (dead) {
            log('warn', 'delivery dead', {
              deliveryId: job.data.deliveryId,
              channel: delivery?.channel,
              attempts: delivery?.attempts,
            })
          }
        }
        message.ack()
      } catch (cause) {
        log('error', 'dead-letter job failed', { queueMessageId: message.id, cause: String(cause) })
        message.retry()
      }
    }),
  )
}
