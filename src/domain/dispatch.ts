// Accepting a /Services request (decisions.md D9–D13, D32, D48): the Worker checks the caller and
// the request's shape, draws its QR codes and publishes its pictures, then makes one call to the
// provider's send shard, which checks the request against its copy of the send facts
// (domain/acceptance.ts), counts the quotas and stores the message in one transaction. The
// deliveries are enqueued after the response. The response waits on the token check and that call:
// no D1.
// Then reading a message back from its shard: its deliveries, and one status for the whole message.
import { sha256Hex } from '../encoding.ts'
import { AppError, conflict, notFound } from '../errors.ts'
import type { Channel, MessageStatus } from '../channel.ts'
import { readBatch } from '../storage/batch.ts'
import {
  CANCELLED,
  selectDeliveryEvents,
  type DeliveryEvent,
} from '../storage/delivery-lifecycle.ts'
import {
  selectMessageById,
  type Delivery,
  type Message,
  type Part,
  type StoredMessage,
} from '../storage/messages.ts'
import {
  listIndexedMessages,
  type MessageFilter,
  type MessageKey,
} from '../storage/message-index.ts'
import { drawQrCodes, type PartRequest, type ServicesRequest } from './dispatch-request.ts'
import { pictureDigest, planPictures, storePictures, type PictureDeps } from './pictures.ts'
import { destinationRoute, sendShardName, shardIndexFor } from './admission.ts'
import { fromRefusal, type SendShardApi } from './acceptance.ts'
import { messageHome, newMessageId } from './message-ids.ts'
import { quotaExceeded, type SendQuotas } from './quotas.ts'

export type DispatchDeps = {
  /** The dispatch queue of a delivery's job, by the delivery's id (decisions.md D49). */
  queue: (deliveryId: string) => Queue
  /** The channels this deployment is configured to deliver on. */
  channels: ReadonlySet<Channel>
  /** The deployment's default send quotas; a provider may have its own. */
  quotas: SendQuotas
  /** A send shard by its name (admission.ts sendShardName; src/shards/send-shard.ts). */
  shardOf: (name: string) => SendShardApi
  now: Date
  /** Where pictures are published (decisions.md D19). */
  pictures: Omit<PictureDeps, 'now'>
  /** Logs a failure that does not fail the request (the sweeper recovers from it). */
  warn: (message: string, fields: Record<string, unknown>) => void
  /** Runs a task after the response is sent (the enqueue). */
  defer: (task: () => Promise<unknown>) => void
}

/** The caller, from its access token; `sendShards`: its provider's, as its edge record says. */
export type Sender = { clientId: string; providerId: string | null; sendShards?: number }

export type Accepted = { message: Message; deliveries: Delivery[]; replayed: boolean }

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255
const PARTS = ['notification', 'advertisement'] as const

/**
 * Accepts a dispatch, or with the same Idempotency-Key and body returns the one accepted before
 * (`replayed`). Throws 403 `forbidden`, 409 `conflict`, 429 `quota_exceeded`, or what the send
 * shard's checks refuse (domain/acceptance.ts planAcceptance).
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
  const withPicture = PARTS.flatMap((part) => {
    const content = request[part]
    return content?.picture
      ? [{ part, picture: content.picture, keepUntil: content.pictureExpiresAt }]
      : []
  })
  const pictureDeps = { ...deps.pictures, now: deps.now }
  const [pictures, requestHash] = await Promise.all([
    planPictures(pictureDeps, withPicture),
    hashRequest(request),
  ])
  // Stored before the shard's checks, which need their URLs: should the shard refuse the request,
  // they stay unused, at unguessable URLs, until they expire.
  await storePictures(pictureDeps, pictures.writes)
  const { providerId } = request
  // decisions.md D48: the shard the destination is routed to (a provider's only shard, or one of
  // several by the destination as given), which holds what the checks need.
  const shards = sender.sendShards ?? 1
  const index =
    shards > 1 && request.destination
      ? shardIndexFor(destinationRoute(request.destination), shards)
      : null
  const input = {
    request: withoutPictures(request),
    pictureUrls: Object.fromEntries(withPicture.map(({ part }, i) => [part, pictures.urls[i]!])),
    requestHash,
    idempotencyKey,
    createdAt: deps.now.toISOString(),
    channels: [...deps.channels],
    defaultQuotas: deps.quotas,
  }
  let shardName = sendShardName(providerId, index)
  let result = await deps
    .shardOf(shardName)
    .accept({ ...input, messageId: newMessageId(providerId, index), shards })
  if (result.outcome === 'misrouted') {
    // The provider's number of shards changed since the caller's edge record was published: its
    // first shard holds every recipient, and admits alone what it is asked for.
    shardName = sendShardName(providerId, null)
    result = await deps
      .shardOf(shardName)
      .accept({ ...input, messageId: newMessageId(providerId, null), shards: 1 })
  }
  switch (result.outcome) {
    case 'misrouted':
      throw new Error('the first send shard answered misrouted')
    case 'refused':
      throw fromRefusal(result.refusal)
    case 'over_quota':
      throw quotaExceeded(result.refusal)
    case 'conflict':
      throw conflictingKey()
    case 'found':
      return replay(result.stored, requestHash)
  }
  const { message, deliveries } = result
  if (deliveries.some((d) => d.scheduledFor !== null)) {
    return { message, deliveries, replayed: false }
  }
  // docs/sending.md "Nothing is lost": the rows are in the shard, so the caller need not wait for
  // the queue. Should the send fail, the shard's alarm (src/queue/shard-alarm.ts) enqueues the
  // deliveries once they are overdue.
  const jobs = deliveries.map((d) => ({
    // src/queue/job.ts's DispatchJob.
    body: { deliveryId: d.id, shard: shardName },
    contentType: 'json' as const,
  }))
  const queue = deps.queue(jobs[0]!.body.deliveryId)
  deps.defer(async () => {
    try {
      await queue.sendBatch(jobs)
    } catch (cause) {
      deps.warn("enqueue failed; the send shard's alarm will enqueue these deliveries", {
        messageId: message.id,
        cause: String(cause),
      })
    }
  })
  return { message, deliveries, replayed: false }
}

/** The request as the shard needs it: the pictures are published, their URLs go instead. */
function withoutPictures(request: ServicesRequest): ServicesRequest {
  const strip = (part: PartRequest | undefined) => {
    if (!part?.picture) return part
    const { picture: _published, ...rest } = part
    return rest
  }
  const notification = strip(request.notification)
  const advertisement = strip(request.advertisement)
  return {
    ...request,
    ...(notification ? { notification } : {}),
    ...(advertisement ? { advertisement } : {}),
  }
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
