// Accepting a /Services request (SPEC 9–13): check the caller, service and subscription, resolve
// the destination, write the message to the D1 outbox, then enqueue its deliveries.
import { sha256Hex } from '../encoding.ts'
import { AppError } from '../errors.ts'
import type { Channel } from '../providers/notifier.ts'
import {
  findMessageByIdempotencyKey,
  insertMessage,
  listDeliveries,
  type Delivery,
  type Message,
  type NewDelivery,
  type Part,
} from '../storage/messages.ts'
import { findRecipient, type Recipient } from '../storage/recipients.ts'
import { findServiceById, type Service } from '../storage/services.ts'
import { findSubscriptionByToken } from '../storage/subscriptions.ts'
import type { PartRequest, ServicesRequest } from './dispatch-request.ts'
import { pictureDigest, publishPicture, type PictureDeps } from './pictures.ts'

export type DispatchDeps = {
  db: D1Database
  queue: Queue
  /** The channels this deployment is configured to deliver on. */
  channels: ReadonlySet<Channel>
  now: Date
  /** Where pictures are published (issue 9). */
  pictures: Omit<PictureDeps, 'now'>
  /** Logs a failure that does not fail the request (the sweeper recovers from it). */
  warn: (message: string, fields: Record<string, unknown>) => void
}

/** The caller, from its access token. */
export type Sender = { clientId: string; providerId: string | null }

export type Accepted = { message: Message; deliveries: Delivery[]; replayed: boolean }

const E164 = /^\+[1-9]\d{6,14}$/
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255

/**
 * Accepts a dispatch, or with the same Idempotency-Key and body returns the one accepted before
 * (`replayed`). Throws 403 `forbidden`, 400 (`unknown_service`, `invalid_request`,
 * `unsupported_channel`, `unknown_destination`, `destination_unreachable`), 409 `conflict` or
 * 501 `channel_not_configured`.
 */
export async function acceptDispatch(
  deps: DispatchDeps,
  sender: Sender,
  request: ServicesRequest,
  idempotencyKey: string | null,
): Promise<Accepted> {
  if (sender.providerId !== request.providerId) {
    throw new AppError(403, 'forbidden', `This token may only send for provider ${sender.providerId ?? '(none)'}.`)
  }
  const [service, subscription] = await Promise.all([
    findServiceById(deps.db, request.serviceId),
    findSubscriptionByToken(deps.db, request.serviceToken),
  ])
  if (!service) {
    throw new AppError(400, 'unknown_service', `There is no service ${request.serviceId}.`, {
      errors: [{ path: 'service_id', message: 'no such service' }],
    })
  }
  // SPEC 9: the token of this provider's subscription to this service, and only that.
  if (
    !subscription ||
    subscription.status !== 'active' ||
    subscription.providerId !== request.providerId ||
    subscription.serviceId !== request.serviceId
  ) {
    throw new AppError(403, 'forbidden', 'service_token is not an active subscription of this provider to this service.')
  }
  if (!service.enabled) throw new AppError(403, 'forbidden', `Service ${service.id} is disabled.`)
  checkParameters(service, request)
  for (const part of ['notification', 'advertisement'] as const) {
    const channel = request[part]?.channel
    if (channel && !deps.channels.has(channel)) {
      // RFC 9110 §15.6.2: the server lacks what the request needs, lastingly; 503 (§15.6.4) would
      // promise that a retry could succeed.
      throw new AppError(501, 'channel_not_configured', `${channel.toUpperCase()} delivery is not configured on this deployment.`)
    }
  }

  const requestHash = await sha256Hex(JSON.stringify(await hashable(request)))
  if (idempotencyKey) {
    const earlier = await findMessageByIdempotencyKey(deps.db, request.providerId, idempotencyKey)
    if (earlier) return replay(deps, earlier, requestHash)
  }

  const destination = request.destination!
  const recipient = await findRecipient(deps.db, request.providerId, destination)
  const message: Message = {
    id: crypto.randomUUID(),
    providerId: request.providerId,
    serviceId: request.serviceId,
    idempotencyKey,
    requestHash,
    destination,
    createdAt: deps.now.toISOString(),
  }
  const addressed = (['notification', 'advertisement'] as const).flatMap((part) => {
    const content = request[part]
    return content ? [{ part, content, addresses: addressesFor(recipient, destination, content.channel, part) }] : []
  })
  // Only a request that will be accepted stores its pictures, each distinct content once.
  const pictureDeps = { ...deps.pictures, now: deps.now }
  const urls = await Promise.all(
    addressed.map(({ content }) =>
      content.picture ? publishPicture(pictureDeps, content.picture, content.pictureExpiresAt) : null,
    ),
  )
  const parts = addressed.flatMap(({ part, content, addresses }, i) => {
    return addresses.map(
      (address): NewDelivery => ({
        id: crypto.randomUUID(),
        part,
        channel: content.channel,
        address,
        title: content.title,
        body: content.message,
        link: content.link ?? null,
        pictureUrl: urls[i] ?? null,
      }),
    )
  })

  if (!(await insertMessage(deps.db, message, parts))) {
    // Another request with this Idempotency-Key won the race (the unique index decided).
    const winner = await findMessageByIdempotencyKey(deps.db, request.providerId, idempotencyKey!)
    return replay(deps, winner!, requestHash)
  }
  try {
    await deps.queue.sendBatch(parts.map((d) => ({ body: { deliveryId: d.id }, contentType: 'json' as const })))
  } catch (cause) {
    // SPEC 10: the rows are in D1 already; the sweeper enqueues overdue deliveries.
    deps.warn('enqueue failed; the sweeper will enqueue these deliveries', {
      messageId: message.id,
      cause: String(cause),
    })
  }
  return { message, deliveries: await listDeliveries(deps.db, message.id), replayed: false }
}

/** The request as its idempotency hash sees it: a picture by its digest, not its bytes. */
async function hashable(request: ServicesRequest) {
  const part = async (content: PartRequest | undefined) =>
    content?.picture ? { ...content, picture: await pictureDigest(content.picture) } : content
  return { ...request, notification: await part(request.notification), advertisement: await part(request.advertisement) }
}

async function replay(deps: DispatchDeps, earlier: Message, requestHash: string): Promise<Accepted> {
  if (earlier.requestHash !== requestHash) {
    throw new AppError(409, 'conflict', 'This Idempotency-Key was already used with a different request body.')
  }
  return { message: earlier, deliveries: await listDeliveries(deps.db, earlier.id), replayed: true }
}

function checkParameters(service: Service, request: ServicesRequest): void {
  const missing = service.requiredParameters.filter((p) => request[p] === undefined)
  if (!request.destination && !missing.includes('destination')) missing.push('destination')
  if (!request.notification && !request.advertisement) missing.push('notification')
  if (missing.length > 0) {
    throw new AppError(400, 'invalid_request', `Service ${service.id} needs: ${missing.join(', ')}.`, {
      errors: missing.map((p) => ({ path: `parameters.${p}`, message: 'required by this service' })),
    })
  }
  for (const part of ['notification', 'advertisement'] as const) {
    const channel = request[part]?.channel
    if (channel && !service.allowedChannels.includes(channel)) {
      throw new AppError(400, 'unsupported_channel', `Service ${service.id} does not deliver by ${channel.toUpperCase()}.`, {
        errors: [{ path: `parameters.${part}.channel`, message: `allowed: ${service.allowedChannels.join(', ')}` }],
      })
    }
  }
}

/** SPEC 13: a recipient of the directory, or for SMS an E.164 number given directly. */
function addressesFor(recipient: Recipient | null, destination: string, channel: Channel, part: Part): string[] {
  const path = 'parameters.destination'
  if (!recipient) {
    if (channel === 'sms' && E164.test(destination)) return [destination]
    throw new AppError(400, 'unknown_destination', `No recipient "${destination}" in this provider's directory.`, {
      errors: [{ path, message: channel === 'sms' ? 'not a recipient nor an E.164 number' : 'not a recipient' }],
    })
  }
  const unreachable = (why: string) =>
    new AppError(400, 'destination_unreachable', `Recipient "${destination}" ${why}; the ${part} cannot be sent.`, {
      errors: [{ path: `parameters.${part}.channel`, message: why }],
    })
  if (channel === 'sms') {
    if (recipient.smsOptOut) throw unreachable('opted out of SMS')
    if (!recipient.phone) throw unreachable('has no phone number')
    return [recipient.phone]
  }
  if (recipient.fcmOptOut) throw unreachable('opted out of push notifications')
  if (recipient.fcmTokens.length === 0) throw unreachable('has no FCM registration token')
  return recipient.fcmTokens
}
