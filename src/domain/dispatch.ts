// Accepting a /Services request (decisions.md D9–D13): check the caller, service and
// subscription, resolve the destination, refuse a suppressed number, then have the provider's send
// shard admit the message (its quotas and Idempotency-Key) and store it, in one call and one
// transaction (decisions.md D32), and enqueue its deliveries after the response. The response
// waits on a batch of D1 reads and the shard's call.
// Then reading a message back from its shard: its deliveries, and one status for the whole message.
import { sha256Hex } from '../encoding.ts'
import { AppError, conflict, invalidFields, notFound } from '../errors.ts'
import type { Channel, MessageStatus } from '../channel.ts'
import { readBatch } from '../storage/batch.ts'
import {
  CANCELLED,
  selectDeliveryEvents,
  type DeliveryEvent,
} from '../storage/delivery-lifecycle.ts'
import {
  insertMessage,
  selectMessageById,
  selectMessageByIdempotencyKey,
  type Delivery,
  type Message,
  type NewDelivery,
  type Part,
  type StoredMessage,
} from '../storage/messages.ts'
import { statementsOf, toResults } from '../storage/shard-database.ts'
import {
  listIndexedMessages,
  type MessageFilter,
  type MessageKey,
} from '../storage/message-index.ts'
import { selectSendSettings } from '../storage/providers.ts'
import { selectRecipient, type Recipient } from '../storage/recipients.ts'
import { selectServiceById, type Service } from '../storage/services.ts'
import { selectSubscriptionByToken } from '../storage/subscriptions.ts'
import { selectSuppression, type Suppression } from '../storage/suppressions.ts'
import {
  drawQrCodes,
  type FallbackRule,
  type PartRequest,
  type ServicesRequest,
} from './dispatch-request.ts'
import { pictureDigest, planPictures, storePictures, type PictureDeps } from './pictures.ts'
import { sendShardName, shardIndexFor, type SendShardApi } from './admission.ts'
import { messageHome, newMessageId } from './message-ids.ts'
import { destinationKey, effectiveQuotas, quotaExceeded, type SendQuotas } from './quotas.ts'
import { dueTime, quietHoursFor } from './schedule.ts'
import { canonicalPhone, E164 } from '../utils/e164.ts'

export type DispatchDeps = {
  db: D1Database
  queue: Queue
  /** The channels this deployment is configured to deliver on. */
  channels: ReadonlySet<Channel>
  /** The deployment's default send quotas; a provider may have its own. */
  quotas: SendQuotas
  /** A send shard by its name (admission.ts sendShardName; src/shards/send-shard.ts). */
  shardOf: (name: string) => SendShardApi
  /** The database of a send shard by its name (src/storage/shard-database.ts). */
  shardDatabase: (name: string) => D1Database
  now: Date
  /** Where pictures are published (decisions.md D19). */
  pictures: Omit<PictureDeps, 'now'>
  /** Logs a failure that does not fail the request (the sweeper recovers from it). */
  warn: (message: string, fields: Record<string, unknown>) => void
  /** Runs a task after the response is sent (the enqueue). */
  defer: (task: () => Promise<unknown>) => void
}

/** The caller, from its access token. */
export type Sender = { clientId: string; providerId: string | null }

export type Accepted = { message: Message; deliveries: Delivery[]; replayed: boolean }

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255
const PARTS = ['notification', 'advertisement'] as const

/**
 * Accepts a dispatch, or with the same Idempotency-Key and body returns the one accepted before
 * (`replayed`). Throws 403 `forbidden`, 400 (`unknown_service`, `invalid_request`,
 * `unsupported_channel`, `unknown_destination`, `destination_unreachable`,
 * `direct_number_not_allowed`, `recipient_suppressed`), 409 `conflict`, 429 `quota_exceeded` or
 * 501 `channel_not_configured`.
 */
export async function acceptDispatch(
  deps: DispatchDeps,
  sender: Sender,
  parsed: ServicesRequest,
  idempotencyKey: string | null,
): Promise<Accepted> {
  if (sender.providerId !== parsed.providerId) {
    const detail = `This token may only send for provider ${sender.providerId ?? '(none)'}.`
    throw new AppError('forbidden', detail)
  }
  const request = await drawQrCodes(parsed)
  const requested = PARTS.flatMap((part) =>
    request[part] ? [{ part, content: request[part] }] : [],
  )
  const withPicture = requested.flatMap(({ part, content }) =>
    content.picture
      ? [{ part, picture: content.picture, keepUntil: content.pictureExpiresAt }]
      : [],
  )
  const pictureDeps = { ...deps.pictures, now: deps.now }
  const { providerId, destination: to } = request
  const byPush = requested.some(({ content }) => content.channel === 'fcm')
  // A request's fallback may send SMS too (decisions.md D46).
  const bySms = requested.some(({ content }) => content.channel === 'sms') || !!request.fallback
  // Everything the checks below need, read at once: the D1 reads need nothing but the request,
  // and the pictures' KV reads overlap them.
  const [stored, pictures, requestHash] = await Promise.all([
    readBatch(deps.db, {
      service: selectServiceById(deps.db, request.serviceId),
      subscription: selectSubscriptionByToken(deps.db, request.serviceToken),
      recipient: to ? selectRecipient(deps.db, providerId, to) : null,
      suppression: to && bySms ? selectSuppression(deps.db, providerId, to) : null,
      settings: selectSendSettings(deps.db, providerId),
    }),
    planPictures(pictureDeps, withPicture),
    hashRequest(request),
  ])
  const { service, subscription } = stored
  if (!service) {
    throw new AppError('unknown_service', `There is no service ${request.serviceId}.`, {
      errors: [{ path: 'service_id', message: 'no such service' }],
    })
  }
  // decisions.md D9: the token of this provider's subscription to this service, and only that.
  if (
    !subscription ||
    subscription.status !== 'active' ||
    subscription.providerId !== request.providerId ||
    subscription.serviceId !== request.serviceId
  ) {
    const detail = 'service_token is not an active subscription of this provider to this service.'
    throw new AppError('forbidden', detail)
  }
  if (!service.enabled) throw new AppError('forbidden', `Service ${service.id} is disabled.`)
  checkParameters(service, request)
  // A sandbox provider's messages go to no channel, configured or not.
  const { sandbox } = stored.settings
  // The service's fallback applies unless the request has its own, where it can (D46).
  const byDefault =
    service.fallback?.channel === 'sms' &&
    service.allowedChannels.includes('sms') &&
    (sandbox || deps.channels.has('sms'))
  const fallback = byPush ? (request.fallback ?? (byDefault ? service.fallback : null)) : null
  const channels = requested.map(({ content }) => content.channel)
  for (const channel of request.fallback ? [...channels, request.fallback.channel] : channels) {
    if (!sandbox && !deps.channels.has(channel)) {
      // RFC 9110 §15.6.2: the server lacks what the request needs, lastingly; 503 (§15.6.4) would
      // promise that a retry could succeed.
      const detail = `${channel.toUpperCase()} delivery is not configured on this deployment.`
      throw new AppError('channel_not_configured', detail)
    }
  }
  const destination = request.destination!
  const subject = destinationKey(destination, stored.recipient?.phone ?? null)
  const shards = stored.settings.sendShards
  const index = shards > 1 ? shardIndexFor(subject, shards) : null
  const shardName = sendShardName(providerId, index)
  const message: Message = {
    id: newMessageId(providerId, index),
    providerId: request.providerId,
    serviceId: request.serviceId,
    idempotencyKey,
    requestHash,
    destination,
    createdAt: deps.now.toISOString(),
    sandbox,
  }
  const pictureUrls = new Map(withPicture.map(({ part }, i) => [part, pictures.urls[i]!]))
  const parts = requested.flatMap(({ part, content }): NewDelivery[] => {
    const base = {
      part,
      title: content.title,
      body: content.message,
      link: content.link ?? null,
      pictureUrl: pictureUrls.get(part) ?? null,
    }
    const plan = planFallback(fallback, stored.recipient, content.channel)
    // No token to push to: the part goes by SMS from the start (docs/sending.md).
    if (plan?.now) return [{ ...base, id: crypto.randomUUID(), channel: 'sms', address: plan.now }]
    const addresses = addressesFor(service, stored.recipient, destination, content.channel, part)
    return addresses.map((address): NewDelivery => ({
      ...base,
      id: crypto.randomUUID(),
      channel: content.channel,
      address,
      ...(plan?.later
        ? { fallbackAddress: plan.later, fallbackAfter: fallback!.afterSeconds }
        : {}),
    }))
  })

  if (stored.suppression && parts.some((p) => p.channel === 'sms')) {
    throw suppressed(stored.suppression)
  }
  // A request that may be accepted stores its pictures before the rows that point to them. Should
  // the shard refuse it (quotas, a reused key), they stay unused until they expire.
  await storePictures(pictureDeps, pictures.writes)
  // decisions.md D44: a message due later is stored scheduled, and the shard's alarm enqueues it.
  const quietHours = quietHoursFor(request.quietHours, stored.recipient, service.quietHours)
  const due = dueTime(deps.now, request.sendAt, quietHours)
  // Whole seconds, rounded up: never sent before the time asked.
  const scheduledFor = due && Math.ceil(due.getTime() / 1000)
  const shardDb = deps.shardDatabase(shardName)
  const insert = insertMessage(shardDb, message, parts, scheduledFor)
  const lookup = idempotencyKey
    ? selectMessageByIdempotencyKey(shardDb, providerId, idempotencyKey)
    : null
  // Last: a request refused for any other reason is not what the quota is telling about.
  const result = await deps.shardOf(shardName).accept(
    {
      providerId,
      shards,
      idempotencyKey,
      requestHash,
      destinationKey: subject,
      quotas: effectiveQuotas(deps.quotas, stored.settings.quotas),
      sandbox,
    },
    {
      lookup: lookup ? statementsOf(lookup.statements) : [],
      insert: statementsOf(insert.statements),
    },
  )
  if (result.outcome === 'over_quota') throw quotaExceeded(result.refusal)
  if (result.outcome === 'conflict') throw conflictingKey()
  if (result.outcome === 'found')
    return replay(lookup!.read(toResults(result.outcomes))!, requestHash)
  const deliveries = insert.read(toResults(result.outcomes))!
  if (scheduledFor !== null) return { message, deliveries, replayed: false }
  // docs/sending.md "Nothing is lost": the rows are in the shard, so the caller need not wait for
  // the queue. Should the send fail, the shard's alarm (src/queue/shard-alarm.ts) enqueues the
  // deliveries once they are overdue.
  const jobs = deliveries.map((d) => ({
    // src/queue/job.ts's DispatchJob.
    body: { deliveryId: d.id, shard: shardName },
    contentType: 'json' as const,
  }))
  deps.defer(async () => {
    try {
      await deps.queue.sendBatch(jobs)
    } catch (cause) {
      deps.warn("enqueue failed; the send shard's alarm will enqueue these deliveries", {
        messageId: message.id,
        cause: String(cause),
      })
    }
  })
  return { message, deliveries, replayed: false }
}

async function hashRequest(request: ServicesRequest): Promise<string> {
  return sha256Hex(JSON.stringify(await hashable(request)))
}

/** The request as its idempotency hash sees it: a picture by its digest, not its bytes. */
async function hashable(request: ServicesRequest) {
  const part = async (content: PartRequest | undefined) =>
    content?.picture ? { ...content, picture: await pictureDigest(content.picture) } : content
  return {
    ...request,
    notification: await part(request.notification),
    advertisement: await part(request.advertisement),
  }
}

function replay(earlier: StoredMessage, requestHash: string): Accepted {
  if (earlier.message.requestHash !== requestHash) throw conflictingKey()
  return { ...earlier, replayed: true }
}

function conflictingKey(): AppError {
  return conflict('This Idempotency-Key was already used with a different request body.')
}

function checkParameters(service: Service, request: ServicesRequest): void {
  const missing = service.requiredParameters.filter((p) => request[p] === undefined)
  if (!request.destination && !missing.includes('destination')) missing.push('destination')
  if (!request.notification && !request.advertisement) missing.push('notification')
  if (missing.length > 0) {
    const message = 'required by this service'
    const errors = missing.map((p) => ({ path: `parameters.${p}`, message }))
    throw invalidFields(errors, `Service ${service.id} needs: ${missing.join(', ')}.`)
  }
  for (const part of ['notification', 'advertisement', 'fallback'] as const) {
    const channel = request[part]?.channel
    if (channel && !service.allowedChannels.includes(channel)) {
      const detail = `Service ${service.id} does not deliver by ${channel.toUpperCase()}.`
      throw new AppError('unsupported_channel', detail, {
        errors: [
          {
            path: `parameters.${part}.channel`,
            message: `allowed: ${service.allowedChannels.join(', ')}`,
          },
        ],
      })
    }
  }
}

/**
 * One status for the whole message, from its deliveries' (decisions.md D27, D44). `scheduled` while
 * every delivery waits for its due time, not yet handed to the queue; `cancelled` when every one
 * was cancelled. Otherwise, while any delivery is queued or sending: `queued` (none tried yet) or
 * `sending`. Then, with none failed: `delivered` when every delivery was delivered, else `sent`
 * (some await their receipt, or their app's acknowledgement, decisions.md D46). With some
 * failed (undelivered, failed or dead) and some not: `partially_delivered` if at least one was
 * delivered, else `partially_sent`. With all failed: `dead` if any ran out of attempts, else
 * `undelivered` if any reached the carrier, else `failed`.
 */
export function messageStatus(
  deliveries: Pick<Delivery, 'status' | 'attempts' | 'scheduledFor' | 'errorCode'>[],
): MessageStatus {
  const count = (s: Delivery['status']) => deliveries.filter((d) => d.status === s).length
  const all = (test: (d: (typeof deliveries)[number]) => boolean) =>
    deliveries.length > 0 && deliveries.every(test)
  if (all((d) => d.status === 'queued' && d.scheduledFor !== null)) return 'scheduled'
  if (all((d) => d.status === 'failed' && d.errorCode === CANCELLED)) return 'cancelled'
  const pending = count('queued') + count('sending')
  if (pending > 0) {
    return all((d) => d.status === 'queued' && d.attempts === 0) ? 'queued' : 'sending'
  }
  const delivered = count('delivered')
  const succeeded = delivered + count('sent')
  if (succeeded === deliveries.length) return delivered === deliveries.length ? 'delivered' : 'sent'
  if (succeeded > 0) return delivered > 0 ? 'partially_delivered' : 'partially_sent'
  if (count('dead') > 0) return 'dead'
  return count('undelivered') > 0 ? 'undelivered' : 'failed'
}

export type MessageRecord = { message: Message; deliveries: Delivery[]; events: DeliveryEvent[] }

/** Finds a send shard's database by its name. */
export type ShardDatabases = (name: string) => D1Database

/**
 * A page of the admin search: the index's page (one D1 statement), then each message as its
 * shard holds it now, one call to each shard the page names. A message the index names but its
 * shard no longer holds (purged meanwhile) is left out.
 */
export async function searchMessages(
  { db, shards }: { db: D1Database; shards: ShardDatabases },
  filter: MessageFilter,
  page: { before?: MessageKey; limit: number },
): Promise<StoredMessage[]> {
  const indexed = await listIndexedMessages(db, filter, page)
  const byShard = Map.groupBy(indexed, (m) => m.shard)
  const found = new Map<string, StoredMessage>()
  await Promise.all(
    [...byShard].map(async ([name, messages]) => {
      const shard = shards(name)
      const reads = Object.fromEntries(messages.map((m) => [m.id, selectMessageById(shard, m.id)]))
      for (const [id, stored] of Object.entries(await readBatch(shard, reads))) {
        if (stored) found.set(id, stored)
      }
    }),
  )
  return indexed.flatMap((m) => found.get(m.id) ?? [])
}

/**
 * A message the sender's provider sent, with its deliveries and their timeline, in one call to its
 * shard. Another provider's message is answered as if it did not exist (document 001: 404 may
 * mask 403).
 */
export async function readMessage(
  shards: ShardDatabases,
  sender: Sender,
  id: string,
): Promise<MessageRecord> {
  const home = messageHome(id)
  const record =
    home && home.providerId === sender.providerId
      ? await findMessageRecord(shards(home.shard), id)
      : null
  if (!record || record.message.providerId !== sender.providerId) {
    // Not the id: it names the provider that owns it (message-ids.ts).
    throw notFound('There is no such message for this provider.')
  }
  return record
}

/** A message of any provider, for an operator, as readMessage gives it to its sender. */
export async function readAnyMessage(shards: ShardDatabases, id: string): Promise<MessageRecord> {
  const home = messageHome(id)
  const record = home ? await findMessageRecord(shards(home.shard), id) : null
  if (!record) throw notFound(`No message ${id}.`)
  return record
}

async function findMessageRecord(shard: D1Database, id: string): Promise<MessageRecord | null> {
  const { stored, events } = await readBatch(shard, {
    stored: selectMessageById(shard, id),
    events: selectDeliveryEvents(shard, id),
  })
  return stored && { ...stored, events }
}

const SUPPRESSED_BECAUSE: Record<Suppression['source'], string> = {
  directory: "opted out of SMS in this provider's directory",
  stop_reply: 'replied STOP',
  sms_api_error: 'unsubscribed, as the SMS API reported',
  admin: 'suppressed by an operator',
}

function suppressed(suppression: Suppression): AppError {
  const why = SUPPRESSED_BECAUSE[suppression.source]
  const detail = `The destination's phone number is on the suppression list (${why}); no SMS may go to it.`
  return new AppError('recipient_suppressed', detail, {
    errors: [{ path: 'parameters.destination', message: `suppressed: ${why}` }],
  })
}

/**
 * decisions.md D13: a recipient of the directory, or for SMS an E.164 number given directly where
 * the service allows it (decisions.md D28).
 */
function addressesFor(
  service: Service,
  recipient: Recipient | null,
  destination: string,
  channel: Channel,
  part: Part,
): string[] {
  const path = 'parameters.destination'
  if (!recipient) {
    if (channel === 'sms' && E164.test(destination)) {
      // decisions.md D37: sent, suppressed and counted as one phone however it is written.
      const phone = canonicalPhone(destination)
      checkDirectNumber(service, phone)
      return [phone]
    }
    const detail = `No recipient "${destination}" in this provider's directory.`
    throw new AppError('unknown_destination', detail, {
      errors: [
        {
          path,
          message: channel === 'sms' ? 'not a recipient nor an E.164 number' : 'not a recipient',
        },
      ],
    })
  }
  const unreachable = (why: string) =>
    new AppError(
      'destination_unreachable',
      `Recipient "${destination}" ${why}; the ${part} cannot be sent.`,
      { errors: [{ path: `parameters.${part}.channel`, message: why }] },
    )
  if (channel === 'sms') {
    if (recipient.smsOptOut) throw unreachable('opted out of SMS')
    if (!recipient.phone) throw unreachable('has no phone number')
    return [recipient.phone]
  }
  if (recipient.fcmOptOut) throw unreachable('opted out of push notifications')
  if (recipient.fcmTokens.length === 0) throw unreachable('has no FCM registration token')
  return recipient.fcmTokens
}

/**
 * Where a push part's SMS fallback goes (decisions.md D46): the recipient's phone, unless it opted
 * out of SMS or has none. `now` when the push cannot go at all (no token, or opted out of push),
 * `later` when it may fall back; null when there is no fallback.
 */
function planFallback(
  fallback: FallbackRule | null,
  recipient: Recipient | null,
  channel: Channel,
): { now?: string; later?: string } | null {
  if (!fallback || channel !== 'fcm' || !recipient?.phone || recipient.smsOptOut) return null
  const noPush = recipient.fcmOptOut || recipient.fcmTokens.length === 0
  return noPush ? { now: recipient.phone } : { later: recipient.phone }
}

/** 400 `direct_number_not_allowed` unless the service sends to this number outside the directory. */
function checkDirectNumber(service: Service, number: string): void {
  const path = 'parameters.destination'
  if (!service.directNumbers) {
    const detail =
      `Service ${service.id} sends to recipients of the directory only: ` +
      'give a user_id, or ask the operator to enable direct numbers for it.'
    throw new AppError('direct_number_not_allowed', detail, {
      errors: [{ path, message: 'a phone number outside the directory is not allowed' }],
    })
  }
  const codes = service.directNumberCountryCodes
  // ITU-T E.164 country calling codes form a prefix code: no code is the start of another.
  if (codes && !codes.some((code) => number.startsWith(`+${code}`))) {
    const allowed = codes.map((code) => `+${code}`).join(', ')
    const detail = `Service ${service.id} sends to numbers outside the directory only in ${allowed}.`
    throw new AppError('direct_number_not_allowed', detail, {
      errors: [{ path, message: `country calling code not allowed (allowed: ${allowed})` }],
    })
  }
}
