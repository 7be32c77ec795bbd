// The webhook queue consumer (decisions.md D26): an event is fanned out to the provider's endpoints
// subscribed to its type, one queue message each; each of those is one signed POST, recorded as an
// attempt and retried with backoff until it succeeds or is dead for that endpoint. Which requests a
// batch sends, how long they may take and what counts against an endpoint are domain's rules
// (decisions.md D36), handed in as `rules`.
import { log } from '../log.ts'
import { sendWebhook } from '../channels/webhook-sender.ts'
import { insertAuditEvent } from '../storage/audit-events.ts'
import { decryptWebhookSecret } from '../storage/webhook-secrets.ts'
import {
  claimWebhookDelivery,
  fanOutWebhookEvent,
  findWebhookEndpointsByIds,
  findWebhookEvent,
  markWebhookDeliveryDead,
  markWebhookEventFannedOut,
  recordWebhookAttempt,
  type DisableRule,
  type WebhookEndpoint,
  type WebhookEvent,
} from '../storage/webhooks.ts'
import { epochSeconds } from '../utils/time.ts'
import { backoff } from './backoff.ts'
import { WebhookDeliveryJob, WebhookFanOutJob, WebhookJob } from './webhook-job.ts'

/**
 * Longer than a request may take (decisions.md D40: 15 s) with its reads and writes: a consumer
 * that died lets the delivery go after this.
 */
export const WEBHOOK_LEASE_SECONDS = 60

/**
 * The delivery rules this consumer carries out: src/domain/webhooks.ts's WEBHOOK_DELIVERY_RULES,
 * handed in by src/index.ts (decisions.md D36).
 */
export type WebhookDeliveryRules = {
  /** How long an endpoint has to answer. */
  timeoutMs: number
  /**
   * Seconds until the attempt after failed attempt number `attempt`, never sooner than
   * `retryAfterSeconds`; null when that was the last: the event is dead for the endpoint.
   */
  nextAttemptDelay(attempt: number, retryAfterSeconds?: number): number | null
  disableRule: DisableRule
  /** For each delivery of a batch, in order: send it now, or put it back for a while. */
  admit(
    deliveries: ReadonlyArray<{
      providerId: string | null
      endpointId: string
      struggling: boolean
    }>,
  ): Array<{ send: true } | { send: false; delaySeconds: number }>
  /** Whether an answer counts against its endpoint, and the note a slow 2xx is recorded with. */
  judge(answer: { ok: boolean; status: number | null; durationMs: number }): {
    countsAsFailure: boolean
    slowNote: string | null
    /** Disable the endpoint at once, for this reason (410 Gone). */
    disableNow: string | null
  }
}

export type WebhookConsumerDeps = {
  db: D1Database
  /** The webhook queue, to which an event's per-endpoint deliveries go. */
  queue: Queue
  /** Decrypts the endpoints' secrets (config webhookSecretKey). */
  secretKey: CryptoKey
  now: () => Date
  rules: WebhookDeliveryRules
  fetch?: typeof globalThis.fetch
}

type Delivery = { message: Message<unknown>; job: WebhookDeliveryJob }

/**
 * Every job of the batch runs at once: fan-outs, and the deliveries the rules admit, so a slow
 * endpoint holds up none of the others' requests (decisions.md D36). The endpoints of the
 * deliveries are read first, in one query, for the rules to see whose they are.
 */
export async function consumeWebhookBatch(
  batch: MessageBatch<unknown>,
  deps: WebhookConsumerDeps,
): Promise<void> {
  const deliveries: Delivery[] = []
  const fanOuts: Array<Promise<void>> = []
  for (const message of batch.messages) {
    const job = WebhookJob.safeParse(message.body)
    if (!job.success) {
      log('error', 'dropping a malformed webhook job', { queueMessageId: message.id })
      message.ack()
      continue
    }
    const delivery = WebhookDeliveryJob.safeParse(job.data)
    if (delivery.success) deliveries.push({ message, job: delivery.data })
    else {
      const { eventId } = job.data
      fanOuts.push(settle(message, job.data, () => fanOut(eventId, deps)))
    }
  }
  await Promise.all([...fanOuts, deliverAdmitted(deliveries, deps)])
}

/**
 * Runs one job and settles its message: acked when the job is done, retried after the seconds it
 * returns; a throw (a bug, D1 down) retries it with backoff.
 */
async function settle(
  message: Message<unknown>,
  job: WebhookJob,
  run: () => Promise<number | null>,
): Promise<void> {
  try {
    const retryAfter = await run()
    if (retryAfter === null) message.ack()
    else message.retry({ delaySeconds: retryAfter })
  } catch (cause) {
    // A bug or a D1 outage: try again later rather than lose the event.
    log('error', 'webhook job failed', { ...job, cause: String(cause) })
    message.retry({ delaySeconds: backoff(message.attempts) })
  }
}

async function deliverAdmitted(deliveries: Delivery[], deps: WebhookConsumerDeps): Promise<void> {
  if (deliveries.length === 0) return
  let endpoints: Map<string, WebhookEndpoint>
  try {
    endpoints = await findWebhookEndpointsByIds(
      deps.db,
      deliveries.map(({ job }) => job.endpointId),
    )
  } catch (cause) {
    log('error', 'webhook endpoints could not be read', { cause: String(cause) })
    for (const { message } of deliveries) message.retry({ delaySeconds: backoff(message.attempts) })
    return
  }
  const admissions = deps.rules.admit(
    deliveries.map(({ job }) => {
      const endpoint = endpoints.get(job.endpointId)
      return {
        providerId: endpoint?.providerId ?? null,
        endpointId: job.endpointId,
        struggling: (endpoint?.consecutiveFailures ?? 0) > 0,
      }
    }),
  )
  const later: Array<Delivery & { delaySeconds: number }> = []
  const sending: Array<Promise<void>> = []
  deliveries.forEach((delivery, i) => {
    const admission = admissions[i] ?? { send: true }
    if (!admission.send) later.push({ ...delivery, delaySeconds: admission.delaySeconds })
    else {
      const endpoint = endpoints.get(delivery.job.endpointId) ?? null
      const run = () => deliver(delivery.job, endpoint, deps)
      sending.push(settle(delivery.message, delivery.job, run))
    }
  })
  await Promise.all([...sending, putBack(later, deps)])
}

/**
 * Deliveries over a batch's limits go back to the queue as new messages, to come back after
 * their delay: not an attempt (nothing is claimed), and not one of the queue's retries, which
 * max_retries counts and would end in the dead-letter queue for a delivery that only waited.
 */
async function putBack(
  later: Array<Delivery & { delaySeconds: number }>,
  deps: WebhookConsumerDeps,
): Promise<void> {
  if (later.length === 0) return
  try {
    await deps.queue.sendBatch(
      later.map(({ job, delaySeconds }) => ({
        body: job,
        contentType: 'json' as const,
        delaySeconds,
      })),
    )
    for (const { message } of later) message.ack()
  } catch (cause) {
    log('warn', 'webhook deliveries could not be put back; retried instead', {
      count: later.length,
      cause: String(cause),
    })
    for (const { message, delaySeconds } of later) message.retry({ delaySeconds })
  }
}

/** One queue message per endpoint still to be sent the event; then the event is fanned out. */
async function fanOut(eventId: string, deps: WebhookConsumerDeps): Promise<null> {
  const event = await findWebhookEvent(deps.db, eventId)
  // No row: no endpoint wanted the type when it happened (the outbox row was not written).
  if (!event) return null
  const now = epochSeconds(deps.now())
  const endpointIds = await fanOutWebhookEvent(deps.db, event, now)
  if (endpointIds.length > 0) {
    await deps.queue.sendBatch(
      endpointIds.map((endpointId) => ({
        body: { eventId, endpointId } satisfies WebhookDeliveryJob,
        contentType: 'json' as const,
      })),
    )
  }
  await markWebhookEventFannedOut(deps.db, eventId, now)
  return null
}

/** One attempt; the seconds until the next one, or null when the delivery is over. */
async function deliver(
  { eventId, endpointId }: WebhookDeliveryJob,
  endpoint: WebhookEndpoint | null,
  deps: WebhookConsumerDeps,
): Promise<number | null> {
  const started = deps.now()
  const [attempt, event] = await Promise.all([
    claimWebhookDelivery(
      deps.db,
      eventId,
      endpointId,
      epochSeconds(started),
      WEBHOOK_LEASE_SECONDS,
    ),
    findWebhookEvent(deps.db, eventId),
  ])
  // Succeeded (never sent twice), dead, deleted, or held by another consumer: nothing to do.
  if (attempt === null) return null
  if (!event || !endpoint || !endpoint.enabled) {
    // Disabled since the fan-out: its pending events are dropped, not kept for a re-enable.
    await markWebhookDeliveryDead(deps.db, eventId, endpointId)
    return null
  }
  const result = await sendWebhook(
    {
      url: endpoint.url,
      id: event.id,
      body: event.payload,
      secrets: await secretsOf(endpoint, deps),
      timeoutMs: deps.rules.timeoutMs,
    },
    started,
    deps.fetch,
  )
  const { countsAsFailure, slowNote, disableNow } = deps.rules.judge(result)
  const attemptedAt = started
  if (result.ok) {
    await record(deps, event, endpoint, countsAsFailure, null, {
      attempt,
      attemptedAt,
      httpStatus: result.status,
      error: slowNote,
      durationMs: result.durationMs,
      outcome: 'succeeded',
      nextAttemptAt: null,
    })
    return null
  }
  const delay = disableNow ? null : deps.rules.nextAttemptDelay(attempt, result.retryAfterSeconds)
  const dead = delay === null
  const error = disableNow
    ? `${result.error}: the endpoint is disabled`
    : dead
      ? `${result.error}; gave up after ${attempt} attempts`
      : result.error
  await record(deps, event, endpoint, countsAsFailure, disableNow, {
    attempt,
    attemptedAt,
    httpStatus: result.status,
    error,
    durationMs: result.durationMs,
    outcome: dead ? 'dead' : 'retrying',
    nextAttemptAt: dead ? null : epochSeconds(started) + delay,
  })
  return delay
}

/** The secrets that sign: the current one, and the previous one during a rotation's overlap. */
async function secretsOf(endpoint: WebhookEndpoint, deps: WebhookConsumerDeps): Promise<string[]> {
  const now = epochSeconds(deps.now())
  const sealed = [endpoint.sealedSecret]
  if (endpoint.sealedPreviousSecret && (endpoint.previousSecretUntil ?? 0) > now) {
    sealed.push(endpoint.sealedPreviousSecret)
  }
  return Promise.all(sealed.map((s) => decryptWebhookSecret(deps.secretKey, s, endpoint.id)))
}

/**
 * Records the attempt; disables the endpoint when the rule says so, or at once for `disableNow`'s
 * reason, and audits that.
 */
async function record(
  deps: WebhookConsumerDeps,
  event: WebhookEvent,
  endpoint: WebhookEndpoint,
  countsAsFailure: boolean,
  disableNow: string | null,
  attempt: Omit<Parameters<typeof recordWebhookAttempt>[1], 'eventId' | 'endpointId'>,
): Promise<void> {
  const rule = disableNow
    ? { minFailures: 0, minSeconds: 0, reason: disableNow }
    : deps.rules.disableRule
  const disabled = await recordWebhookAttempt(
    deps.db,
    { ...attempt, eventId: event.id, endpointId: endpoint.id },
    { countsAsFailure, rule },
  )
  if (!disabled) return
  log('warn', 'webhook endpoint disabled', {
    endpointId: endpoint.id,
    providerId: endpoint.providerId,
    reason: rule.reason,
  })
  await insertAuditEvent(deps.db, {
    action: 'webhook.disabled',
    outcome: 'success',
    actor: null,
    target: endpoint.id,
    requestId: null,
    ip: null,
    detail: { provider_id: endpoint.providerId, reason: rule.reason },
    occurredAt: deps.now().toISOString(),
  })
}

/**
 * The dead-letter consumer: a delivery whose consumer kept failing (not the endpoint: those end
 * in the consumer) is marked dead. A fan-out is left to the sweeper, which enqueues it again.
 */
export async function consumeWebhookDeadLetters(
  batch: MessageBatch<unknown>,
  deps: Pick<WebhookConsumerDeps, 'db'>,
): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        const delivery = WebhookDeliveryJob.safeParse(message.body)
        if (delivery.success) {
          const { eventId, endpointId } = delivery.data
          await markWebhookDeliveryDead(deps.db, eventId, endpointId)
          log('error', 'webhook delivery dead-lettered', { eventId, endpointId })
        } else if (WebhookFanOutJob.safeParse(message.body).success) {
          log('error', 'webhook fan-out dead-lettered; the sweeper will retry it', {
            queueMessageId: message.id,
          })
        }
        message.ack()
      } catch (cause) {
        log('error', 'webhook dead-letter job failed', {
          queueMessageId: message.id,
          cause: String(cause),
        })
        message.retry()
      }
    }),
  )
}
