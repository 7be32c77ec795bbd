// Providers' webhook endpoints (decisions.md D26): where they may point, how many, and their
// secrets, shown once and rotated with an overlap; and how their events are delivered (D36).
import { conflict, fieldError, notFound } from '../errors.ts'
import { log } from '../log.ts'
import { encryptWebhookSecret, generateWebhookSecret } from '../storage/webhook-secrets.ts'
import {
  findWebhookEndpoint,
  hasWebhookDelivery,
  insertWebhookEndpoint,
  requeueWebhookDeliveries,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
  type DisableRule,
  type WebhookEndpoint,
  type WebhookEndpointChanges,
  type WebhookEventType,
} from '../storage/webhooks.ts'
export { WEBHOOK_EVENT_TYPES } from '../storage/webhooks.ts'
import { hostOf, isLoopbackHost, outsideUrlProblem } from '../utils/outside-url.ts'
import { epochSeconds } from '../utils/time.ts'

/** Endpoints one provider may register. */
export const MAX_WEBHOOK_ENDPOINTS = 10
export const MAX_WEBHOOK_URL_LENGTH = 2000
/** A rotation's overlap: 24 h unless asked, at most 7 days. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 60 * 60
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 60 * 60

export type WebhookDeps = {
  db: D1Database
  /** Seals secrets for D1 (config webhookSecretKey). */
  secretKey: CryptoKey
  /** Portero's own origins (ISSUER, API_RESOURCE): an endpoint must not point at them. */
  ownOrigins: readonly string[]
  now: Date
}

/**
 * What is wrong with `raw` as an endpoint URL, or null: what Portero may reach at all
 * (utils/outside-url.ts: https only, loopback hosts only in development, no special-use address,
 * no credentials), no fragment, and never Portero's own host.
 */
export function webhookUrlProblem(raw: string, ownOrigins: readonly string[]): string | null {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'must be an absolute https URL'
  }
  const own = ownOrigins.map((origin) => new URL(origin))
  // Loopback hosts only when Portero itself runs on one: in development.
  const development = own.some((o) => isLoopbackHost(o.hostname))
  const refused = outsideUrlProblem(url, development)
  if (refused?.problem === 'credentials') return 'must not carry credentials (user:password@)'
  if (raw.includes('#')) return 'must not have a fragment'
  switch (refused?.problem) {
    case 'loopback':
      return 'must be a public https URL (localhost only in development)'
    case 'scheme':
      return isLoopbackHost(hostOf(url)) ? 'must be http(s)' : 'must be https'
    case 'special_use':
      return `must be a public host, not a private or special-use address (${refused.range})`
  }
  const host = hostOf(url)
  const itself = own.some((o) => {
    if (hostOf(o) !== host) return false
    // In development Portero and the stand-in share localhost on different ports.
    return !isLoopbackHost(host) || o.port === url.port
  })
  if (itself) return 'must not point at Portero itself'
  return null
}

function checkUrl(url: string, deps: WebhookDeps): void {
  const problem = webhookUrlProblem(url, deps.ownOrigins)
  if (problem) throw fieldError('url', problem, `url ${problem}.`)
}

/** Registers an endpoint; the secret is returned here once and never again. */
export async function registerWebhookEndpoint(
  deps: WebhookDeps,
  providerId: string,
  input: { url: string; eventTypes: WebhookEventType[] },
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  checkUrl(input.url, deps)
  const id = `ep_${crypto.randomUUID().replaceAll('-', '')}`
  const secret = generateWebhookSecret()
  const endpoint = await insertWebhookEndpoint(
    deps.db,
    {
      id,
      providerId,
      url: input.url,
      eventTypes: input.eventTypes,
      sealedSecret: await encryptWebhookSecret(deps.secretKey, secret, id),
    },
    MAX_WEBHOOK_ENDPOINTS,
  )
  if (!endpoint) {
    throw conflict(`A provider may register at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints.`)
  }
  return { endpoint, secret }
}

/** Changes an endpoint; `enabled: true` re-enables a disabled one and forgets its failures. */
export async function changeWebhookEndpoint(
  deps: WebhookDeps,
  providerId: string,
  id: string,
  changes: Omit<WebhookEndpointChanges, 'disabledReason'>,
): Promise<WebhookEndpoint> {
  if (changes.url !== undefined) checkUrl(changes.url, deps)
  const endpoint = await updateWebhookEndpoint(deps.db, providerId, id, {
    ...changes,
    ...(changes.enabled === false ? { disabledReason: 'disabled by the provider' } : {}),
  })
  if (!endpoint) throw notFound(`No webhook endpoint ${id}.`)
  return endpoint
}

/**
 * A new secret, returned once. The old one keeps signing for `overlapSeconds` (0: stops at
 * once), so the receiver can switch without missing an event; a rotation during an overlap ends
 * the older secret's.
 */
export async function rotateWebhookSecret(
  deps: WebhookDeps,
  providerId: string,
  id: string,
  overlapSeconds: number,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const secret = generateWebhookSecret()
  const until = overlapSeconds > 0 ? epochSeconds(deps.now) + overlapSeconds : null
  const sealed = await encryptWebhookSecret(deps.secretKey, secret, id)
  const endpoint = await rotateWebhookEndpointSecret(deps.db, providerId, id, sealed, until)
  if (!endpoint) throw notFound(`No webhook endpoint ${id}.`)
  return { endpoint, secret }
}

// --- Sending events again (decisions.md D40) -----------------------------------------------

/** Dead events one request may ask to be sent again; more: ask again. */
export const MAX_REDELIVERIES = 500

export type RedeliveryDeps = {
  db: D1Database
  /** The webhook queue, which sends each delivery (one message each, as a fan-out does). */
  queue: Queue
  now: Date
}

/**
 * Sends events to the provider's endpoint again, from a first attempt and a new retry schedule:
 * one event, whether it succeeded or died (the receiver lost it, or was fixed), or every event
 * dead for the endpoint since a time, at most MAX_REDELIVERIES a call (`more` when there may be
 * others). The endpoint must be enabled. The same `webhook-id`: a receiver that has it already
 * can tell. If the queue refuses the messages, the sweeper sends them within minutes.
 */
export async function redeliverWebhookEvents(
  deps: RedeliveryDeps,
  providerId: string,
  endpointId: string,
  selection: { eventId: string } | { since: Date },
): Promise<{ eventIds: string[]; more: boolean }> {
  const endpoint = await findWebhookEndpoint(deps.db, providerId, endpointId)
  if (!endpoint) throw notFound(`No webhook endpoint ${endpointId}.`)
  if (!endpoint.enabled) {
    throw conflict(
      `Webhook endpoint ${endpointId} is disabled: re-enable it (PATCH {"enabled": true}) first.`,
    )
  }
  const now = epochSeconds(deps.now)
  const eventIds = await requeueWebhookDeliveries(
    deps.db,
    endpointId,
    'eventId' in selection
      ? { eventId: selection.eventId }
      : { since: epochSeconds(selection.since), limit: MAX_REDELIVERIES },
    now,
  )
  if ('eventId' in selection && eventIds.length === 0) {
    if (await hasWebhookDelivery(deps.db, endpointId, selection.eventId)) {
      throw conflict(`Event ${selection.eventId} is still being delivered to ${endpointId}.`)
    }
    throw notFound(`No event ${selection.eventId} for webhook endpoint ${endpointId}.`)
  }
  for (let i = 0; i < eventIds.length; i += 100) {
    const chunk = eventIds.slice(i, i + 100).map((eventId) => ({
      body: { eventId, endpointId },
      contentType: 'json' as const,
    }))
    try {
      await deps.queue.sendBatch(chunk)
    } catch (cause) {
      // Pending and due: the sweeper enqueues them (src/queue/webhook-sweeper.ts).
      log('warn', 'redeliveries left to the sweeper', { endpointId, cause: String(cause) })
      break
    }
  }
  return { eventIds, more: eventIds.length === MAX_REDELIVERIES }
}

// --- Delivering events (decisions.md D36) ----------------------------------------------------
// The webhook queue consumer carries these out; entry (src/index.ts) hands them to it.

/**
 * How long an endpoint has to answer (decisions.md D40): the Standard Webhooks guidance's 15 s. A
 * request still open then is abandoned and is a failed attempt.
 */
export const WEBHOOK_TIMEOUT_MS = 15_000
/**
 * A 2xx that took longer than this is delivered (never sent again) but counts against the
 * endpoint like a failure: a receiver that is always slow is disabled like one that always fails.
 */
export const WEBHOOK_SLOW_MS = 2_000
/** Requests one batch sends at once to endpoints of one provider. */
export const WEBHOOK_PROVIDER_LIMIT = 3
/** Requests one batch sends at once to one endpoint whose last attempt failed or was slow. */
export const WEBHOOK_STRUGGLING_ENDPOINT_LIMIT = 1
/**
 * How long a delivery over the provider's limit waits for each turn ahead of it: the time a turn
 * of healthy endpoints takes, which answer within WEBHOOK_SLOW_MS or count as struggling.
 */
export const WEBHOOK_DEFER_SECONDS = 5
/**
 * How long a delivery to a struggling endpoint waits for each one ahead of it: the one request
 * such an endpoint is sent may take the whole timeout.
 */
export const WEBHOOK_STRUGGLING_DEFER_SECONDS = WEBHOOK_TIMEOUT_MS / 1000

/**
 * The delays after each failed attempt (decisions.md D40): the schedule of the Standard Webhooks
 * guidance (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then two more 10 h, so an endpoint down
 * for a day and a half still gets its events. 10 attempts over about 47.6 h; then the event is
 * dead for that endpoint. Each delay is at most 12 h, the longest a queue message may wait.
 */
export const WEBHOOK_RETRY_SCHEDULE_SECONDS = [
  5,
  5 * 60,
  30 * 60,
  2 * 60 * 60,
  5 * 60 * 60,
  10 * 60 * 60,
  10 * 60 * 60,
  10 * 60 * 60,
  10 * 60 * 60,
] as const
/** Attempts per event and endpoint, the first included. */
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_SCHEDULE_SECONDS.length + 1

/**
 * Seconds until the next attempt after failed attempt number `attempt` (≥ 1), or null when it was
 * the last. Up to a tenth more, at random, so that the retries of one outage do not come back in
 * lockstep; never sooner than the endpoint's `Retry-After` (cut to the queue's 12 h).
 */
export function nextWebhookAttemptDelay(
  attempt: number,
  retryAfterSeconds?: number,
  random = Math.random,
): number | null {
  const step = WEBHOOK_RETRY_SCHEDULE_SECONDS[attempt - 1]
  if (step === undefined) return null
  const jittered = Math.ceil(step * (1 + random() / 10))
  const retryAfter = Math.min(12 * 60 * 60, Math.max(0, Math.ceil(retryAfterSeconds ?? 0)))
  return Math.min(12 * 60 * 60, Math.max(jittered, retryAfter))
}

/**
 * An endpoint is disabled when it has not answered 2xx within WEBHOOK_SLOW_MS for 5 days and has
 * failed (or answered slowly) at least 10 attempts in that time: a short outage with many events
 * does not disable it, nor does a single old failure.
 */
export const WEBHOOK_DISABLE_RULE: DisableRule = {
  minFailures: 10,
  minSeconds: 5 * 24 * 60 * 60,
  reason: 'every attempt failed or answered slowly for 5 days',
}

/** What the consumer knows of a delivery before it sends anything. */
export type PendingWebhookDelivery = {
  /** Null when the endpoint no longer exists: nothing will be sent, so no limit applies. */
  providerId: string | null
  endpointId: string
  /** The endpoint's last attempt failed or was slow (its run of failures is open). */
  struggling: boolean
}

/** Sent in this batch, or put back in the queue for `delaySeconds`, not counted as an attempt. */
export type WebhookAdmission = { send: true } | { send: false; delaySeconds: number }

/**
 * Which of a batch's deliveries are sent now, in batch order: at most WEBHOOK_PROVIDER_LIMIT of
 * one provider, and one to an endpoint that is struggling. The others wait a turn
 * (WEBHOOK_DEFER_SECONDS) for every WEBHOOK_PROVIDER_LIMIT of their provider's deliveries put
 * back before them, so a provider's backlog comes back paced rather than all at once. One
 * provider thus holds at most WEBHOOK_PROVIDER_LIMIT requests of a batch, for at most
 * WEBHOOK_TIMEOUT_MS, and the rest of the batch is sent beside them.
 */
export function admitWebhookDeliveries(
  deliveries: readonly PendingWebhookDelivery[],
): WebhookAdmission[] {
  const sentByProvider = new Map<string, number>()
  const sentByEndpoint = new Map<string, number>()
  const deferredByProvider = new Map<string, number>()
  const deferredByEndpoint = new Map<string, number>()
  return deliveries.map(({ providerId, endpointId, struggling }) => {
    if (providerId === null) return { send: true }
    const provider = sentByProvider.get(providerId) ?? 0
    const endpoint = sentByEndpoint.get(endpointId) ?? 0
    const endpointLimit = struggling ? WEBHOOK_STRUGGLING_ENDPOINT_LIMIT : WEBHOOK_PROVIDER_LIMIT
    if (provider < WEBHOOK_PROVIDER_LIMIT && endpoint < endpointLimit) {
      sentByProvider.set(providerId, provider + 1)
      sentByEndpoint.set(endpointId, endpoint + 1)
      return { send: true }
    }
    const deferred = (deferredByProvider.get(providerId) ?? 0) + 1
    deferredByProvider.set(providerId, deferred)
    const turns = Math.ceil(deferred / WEBHOOK_PROVIDER_LIMIT)
    if (!struggling) return { send: false, delaySeconds: turns * WEBHOOK_DEFER_SECONDS }
    // A struggling endpoint takes one request at a time, each of which may last the timeout.
    const queued = (deferredByEndpoint.get(endpointId) ?? 0) + 1
    deferredByEndpoint.set(endpointId, queued)
    const delaySeconds = Math.max(
      turns * WEBHOOK_DEFER_SECONDS,
      queued * WEBHOOK_STRUGGLING_DEFER_SECONDS,
    )
    return { send: false, delaySeconds }
  })
}

/** An endpoint's answer as the sender measured it. */
export type WebhookAnswer = { ok: boolean; status: number | null; durationMs: number }

/** Why an endpoint that answered 410 Gone was disabled (decisions.md D40). */
export const WEBHOOK_GONE_REASON = 'the endpoint answered 410 Gone'

/**
 * Whether an attempt counts against its endpoint (toward disabling, and as struggling): every
 * failure, and a 2xx slower than WEBHOOK_SLOW_MS. With the note a slow 2xx is recorded with, for
 * the provider to read in the attempt's `error`. A 410 Gone disables the endpoint at once: the
 * receiver says it will never take an event again (Standard Webhooks, "Disabling endpoints").
 */
export function judgeWebhookAnswer(answer: WebhookAnswer): {
  countsAsFailure: boolean
  slowNote: string | null
  disableNow: string | null
} {
  if (answer.status === 410) {
    return { countsAsFailure: true, slowNote: null, disableNow: WEBHOOK_GONE_REASON }
  }
  if (!answer.ok) return { countsAsFailure: true, slowNote: null, disableNow: null }
  if (answer.durationMs <= WEBHOOK_SLOW_MS) {
    return { countsAsFailure: false, slowNote: null, disableNow: null }
  }
  return {
    countsAsFailure: true,
    slowNote:
      `answered ${answer.status} after ${answer.durationMs} ms, over ${WEBHOOK_SLOW_MS} ms: ` +
      'delivered, but counted as a failure toward disabling',
    disableNow: null,
  }
}

/** The rules the webhook queue consumer applies, as src/index.ts passes them. */
export const WEBHOOK_DELIVERY_RULES = {
  timeoutMs: WEBHOOK_TIMEOUT_MS,
  nextAttemptDelay: nextWebhookAttemptDelay,
  disableRule: WEBHOOK_DISABLE_RULE,
  admit: admitWebhookDeliveries,
  judge: judgeWebhookAnswer,
}
