// POST /Services (document 001's dispatch endpoint), GET /Services/messages/{id} (its status) and
// DELETE /Services/messages/{id} (cancelling a scheduled one).
import * as z from 'zod'
import { fieldError } from '../errors.ts'
import { cancelMessage } from '../domain/cancellation.ts'
import { acceptDispatch, MAX_IDEMPOTENCY_KEY_LENGTH, readMessage } from '../domain/dispatch.ts'
import { parseServicesRequest, ServicesRequestSchema } from '../domain/dispatch-request.ts'
import { SCOPES } from '../domain/scopes.ts'
import { requireScope } from '../http/auth.ts'
import { dispatchDeps, shardDatabaseOf } from '../http/deps.ts'
import { messageView } from '../http/messages.ts'
import { createRoute, documentedOnly, OpenApiApp } from '../http/openapi-app.ts'
import { MessageIdPath } from '../http/path-params.ts'
import { limitBodyTo } from '../http/security.ts'
import { EXAMPLES } from '../openapi/examples.ts'
import {
  json,
  newResource,
  pathParameters,
  problem,
  problems,
  SECURITY,
} from '../openapi/operations.ts'
import { Message as MessageView } from '../openapi/responses.ts'

export const services = new OpenApiApp()

const IDEMPOTENCY_KEY = /^[\x21-\x7E]+$/

/**
 * Pictures: 1 MiB decoded is about 1.4 MB of base64 JSON. Applied only once the token is checked.
 */
export const DISPATCH_BODY_BYTES = 1536 * 1024

// Document 001's spellings of the field names are added to the document by
// src/openapi/transforms.ts (servicesFieldAliases).
const dispatch = createRoute({
  method: 'post',
  path: '/',
  operationId: 'sendService',
  tags: ['Dispatch'],
  summary: 'Send a notification or advertisement (document 001)',
  description:
    "Needs `services:send` and the token's own provider. Field names are matched " +
    "case-insensitively and document 001's spellings are accepted (`titulo`, `Tittle`, `Titre` " +
    'for title; `mensaje` for message; `canal`, `Cannel` for channel). `channel`: SMS, FCM or ' +
    'WhatsApp in any case, or the codes 1, 2 and 3, with no surrounding spaces; WhatsApp needs ' +
    "the recipient's opt-in, and outside its 24-hour session window a template (`content_sid`). " +
    "A part's `picture` (PNG, JPEG, " +
    'GIF or WebP, at most 1 MiB, 4096 pixels a side and 16 megapixels) is published at an ' +
    'unguessable URL and sent as the FCM image or the MMS media. A `qr_code` (a ticket or ' +
    'coupon) is drawn as a PNG and becomes the image of the notification, or else of the ' +
    'advertisement, which must not carry a picture of its own; its `label` is added to that ' +
    "part's message on a line of its own, within the 166 characters. Send `Idempotency-Key` to " +
    'make retries safe. With `send_at` (at most 30 days ahead) or `quiet_hours` covering the ' +
    'time it is due, the message is `scheduled`: stored, enqueued when due, and cancellable ' +
    'until then. Quotas count a message when it is accepted, whenever it is sent.',
  security: SECURITY.bearer,
  middleware: [requireScope(SCOPES.send), limitBodyTo(DISPATCH_BODY_BYTES)],
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          // Read by parseServicesRequest, which checks more than the schema says.
          schema: documentedOnly(ServicesRequestSchema),
          examples: { document001: EXAMPLES.services001, ticket: EXAMPLES.servicesTicket },
        },
      },
    },
  },
  responses: {
    200: json('A replay of an earlier request with the same Idempotency-Key.', MessageView),
    201: newResource(
      'Accepted: written to the outbox; its deliveries are enqueued right after this response, ' +
        'or when due if it is `scheduled`.',
      MessageView,
    ),
    ...problems(400, 401, 403, 409, 413, 415),
    429: problem(
      "`quota_exceeded`: one more message would go over one of the provider's send quotas (a " +
        'minute, a UTC day, or one destination); `Retry-After` says when it would fit.',
    ),
    501: problem(
      '`channel_not_configured`: this deployment has no credentials for that channel. A lasting ' +
        'state, not a transient one: do not retry.',
    ),
  },
})

services.openapi(dispatch, async (c) => {
  const request = parseServicesRequest(await c.req.json(), new Date())
  const key = c.req.header('idempotency-key') ?? null
  if (key !== null && (key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !IDEMPOTENCY_KEY.test(key))) {
    const detail =
      `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} ` + 'visible ASCII characters.'
    throw fieldError('Idempotency-Key', 'invalid header value', detail)
  }
  const deps = await dispatchDeps(c)
  const { message, deliveries, replayed } = await acceptDispatch(deps, c.get('auth'), request, key)
  c.header('location', `/Services/messages/${message.id}`)
  if (replayed) c.header('idempotent-replayed', 'true')
  // 001's table: 201 with a link to the new record; a replay is the same record again.
  return c.json(messageView(message, deliveries), replayed ? 200 : 201)
})

const status = createRoute({
  method: 'get',
  path: '/messages/{id}',
  operationId: 'getMessage',
  tags: ['Dispatch'],
  summary: 'Delivery status of a message',
  description:
    'Each delivery goes `queued → sending → sent → delivered | undelivered | failed | dead`; ' +
    '`reached` holds when it first reached each step and `events` its timeline. `sent` is the ' +
    "channel's API accepting the send. An SMS then becomes `delivered` or `undelivered` when the " +
    "SMS API's delivery receipt arrives; a push when the app acknowledges it (POST " +
    "/acks/{token}). The message's `status` sums its deliveries up (see the `Message` schema); a " +
    'scheduled message reads `scheduled`, with `scheduled_for`, until it is handed to the queue.',
  security: SECURITY.bearer,
  middleware: [requireScope(SCOPES.send)],
  request: { params: z.object({ id: MessageIdPath }) },
  responses: {
    200: json('The message and its deliveries.', MessageView),
    ...problems(401, 403, 404),
  },
})

services.openapi(status, async (c) => {
  const { message, deliveries, events } = await readMessage(
    (name) => shardDatabaseOf(c.env, name),
    c.get('auth'),
    c.req.valid('param').id,
  )
  c.header('cache-control', 'no-store')
  return c.json(messageView(message, deliveries, events))
})

const cancel = createRoute({
  method: 'delete',
  path: '/messages/{id}',
  operationId: 'cancelMessage',
  tags: ['Dispatch'],
  summary: 'Cancel a scheduled message',
  description:
    'A `scheduled` message (sent with `send_at`, or waiting for the end of quiet hours) can be ' +
    'cancelled until it is handed to the queue: its deliveries become `failed` with the error ' +
    'code `cancelled`, the message `cancelled`, nothing is sent, and each delivery raises a ' +
    '`message.cancelled` webhook event. Cancelling a cancelled message again answers it as it ' +
    'is. The quotas keep counting it.',
  security: SECURITY.bearer,
  middleware: [requireScope(SCOPES.send)],
  request: { params: z.object({ id: MessageIdPath }) },
  responses: {
    200: json('The message, cancelled.', MessageView),
    ...problems(401, 403, 404),
    409: problem(
      '`conflict`: the message is no longer scheduled (already handed to the queue, sent, or ' +
        'never scheduled): it cannot be cancelled.',
    ),
  },
})

services.openapi(cancel, async (c) => {
  const { message, deliveries, events } = await cancelMessage(
    (name) => shardDatabaseOf(c.env, name),
    c.get('auth'),
    c.req.valid('param').id,
    new Date(),
  )
  c.header('cache-control', 'no-store')
  return c.json(messageView(message, deliveries, events))
})
