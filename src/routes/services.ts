// POST /Services (document 001's dispatch endpoint) and GET /Services/messages/{id} (its status).
import { Hono } from 'hono'
import type { AppEnv } from '../http/app-env.ts'
import { AppError } from '../errors.ts'
import {
  acceptDispatch,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  messageStatus,
  readMessage,
} from '../domain/dispatch.ts'
import { parseServicesRequest } from '../domain/dispatch-request.ts'
import { SCOPES } from '../domain/scopes.ts'
import { requireScope } from '../http/auth.ts'
import { dispatchDeps } from '../http/deps.ts'
import { limitBodyTo } from '../http/security.ts'
import { requireJson } from '../http/validate.ts'
import type { Delivery, Message } from '../storage/messages.ts'

export const services = new Hono<AppEnv>()

const IDEMPOTENCY_KEY = /^[\x21-\x7E]+$/

/** Pictures: 1 MiB decoded is about 1.4 MB of base64 JSON. Applied only once the token is checked. */
export const DISPATCH_BODY_BYTES = 1536 * 1024

services.post('/', requireScope(SCOPES.send), limitBodyTo(DISPATCH_BODY_BYTES), requireJson(), async (c) => {
  const request = parseServicesRequest(await c.req.json(), new Date())
  const key = c.req.header('idempotency-key') ?? null
  if (key !== null && (key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !IDEMPOTENCY_KEY.test(key))) {
    throw new AppError(400, 'invalid_request', `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.`, {
      errors: [{ path: 'Idempotency-Key', message: 'invalid header value' }],
    })
  }
  const deps = await dispatchDeps(c)
  const { message, deliveries, replayed } = await acceptDispatch(deps, c.get('auth'), request, key)
  c.header('location', `/Services/messages/${message.id}`)
  if (replayed) c.header('idempotent-replayed', 'true')
  // 001's table: 201 with a link to the new record; a replay is the same record again.
  return c.json(toMessageView(message, deliveries), replayed ? 200 : 201)
})

services.get('/messages/:id', requireScope(SCOPES.send), async (c) => {
  const { message, deliveries } = await readMessage(c.env.DB, c.get('auth'), c.req.param('id'))
  c.header('cache-control', 'no-store')
  return c.json(toMessageView(message, deliveries))
})

const E164 = /^\+[1-9]\d{6,14}$/

/** Phone numbers and registration tokens are shown masked: the status needs no personal data. */
function mask(address: string): string {
  return `${address.slice(0, 3)}${'•'.repeat(Math.max(0, address.length - 7))}${address.slice(-4)}`
}

function maskAddress(delivery: Delivery): string {
  return delivery.channel === 'sms' ? mask(delivery.address) : `${delivery.address.slice(0, 6)}…`
}

function toMessageView(message: Message, deliveries: Delivery[]) {
  return {
    id: message.id,
    status: messageStatus(deliveries),
    provider_id: message.providerId,
    service_id: message.serviceId,
    destination: E164.test(message.destination) ? mask(message.destination) : message.destination,
    created_at: message.createdAt,
    deliveries: deliveries.map((d) => ({
      id: d.id,
      part: d.part,
      channel: d.channel,
      to: maskAddress(d),
      status: d.status,
      attempts: d.attempts,
      last_error: d.lastError,
      provider_message_id: d.providerMessageId,
      picture_url: d.pictureUrl,
      updated_at: d.updatedAt,
      sent_at: d.sentAt,
    })),
  }
}
