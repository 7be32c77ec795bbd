// /webhooks: a provider's endpoints for signed delivery events (Standard Webhooks), their secrets
// and their recent attempts (decisions.md D26).
import type { Context } from 'hono'
import * as z from 'zod'
import { AppError, notFound } from '../errors.ts'
import { SCOPES } from '../domain/scopes.ts'
import { WEBHOOK_EVENT_TYPES } from '../storage/webhooks.ts'
import {
  changeWebhookEndpoint,
  DEFAULT_SECRET_OVERLAP_SECONDS,
  MAX_SECRET_OVERLAP_SECONDS,
  MAX_WEBHOOK_ENDPOINTS,
  MAX_WEBHOOK_URL_LENGTH,
  MAX_REDELIVERIES,
  redeliverWebhookEvents,
  registerWebhookEndpoint,
  rotateWebhookSecret,
} from '../domain/webhooks.ts'
import type { AppEnv } from '../http/app-env.ts'
import { requireScope } from '../http/auth.ts'
import { refreshSendFacts } from '../http/send-facts.ts'
import { redeliveryDeps, webhookDeps } from '../http/deps.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import {
  WebhookAttemptPageQuery,
  WebhookEndpointId,
  WebhookEndpointPageQuery,
  WebhookEventId,
  WebhookEventPageQuery,
  WebhookRecovery,
  webhookAttemptPage,
  webhookEventPage,
  webhookEndpointPage,
  webhookEndpointView as view,
} from '../http/webhooks.ts'
import {
  json,
  jsonBody,
  newResource,
  NO_CONTENT,
  problems,
  SECURITY,
} from '../openapi/operations.ts'
import {
  WebhookAttemptPage,
  WebhookEndpoint as EndpointView,
  WebhookEndpointPage,
  WebhookEndpointWithSecret,
  WebhookEventDeliveryPage,
  WebhookRedelivery,
} from '../openapi/webhook-responses.ts'
import {
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  type WebhookEndpoint,
} from '../storage/webhooks.ts'

export const webhooks = new OpenApiApp()

const Url = z
  .string({ error: 'url is required' })
  .min(1, 'url must not be empty')
  .max(MAX_WEBHOOK_URL_LENGTH, `url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`)
const EVENT_TYPES_ARE = `event_types lists ${WEBHOOK_EVENT_TYPES.join(', ')}`
const EventTypes = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { error: EVENT_TYPES_ARE }), { error: EVENT_TYPES_ARE })
  .min(1, 'subscribe to at least one event type')
  .transform((types) => [...new Set(types)])

export const NewWebhookEndpoint = z.strictObject({ url: Url, event_types: EventTypes })

export const WebhookEndpointChanges = z
  .strictObject({
    url: Url.optional(),
    event_types: EventTypes.optional(),
    enabled: z
      .boolean({ error: 'enabled must be true or false' })
      .optional()
      .meta({ description: 'true re-enables a disabled endpoint and forgets its failures.' }),
  })
  .refine((v) => Object.keys(v).length > 0, 'send at least one field to change')

export const SecretRotation = z.strictObject({
  overlap_seconds: z
    .number({ error: 'overlap_seconds must be a number of seconds' })
    .int()
    .min(0)
    .max(MAX_SECRET_OVERLAP_SECONDS, `overlap_seconds must be at most 7 days`)
    .default(DEFAULT_SECRET_OVERLAP_SECONDS)
    .meta({ description: 'How long the current secret keeps signing too (default 24 h).' }),
})

function providerOf(c: Context<AppEnv>): string {
  const { providerId } = c.get('auth')
  if (!providerId) throw new AppError('forbidden', 'This token does not belong to a provider.')
  return providerId
}

async function ownEndpoint(c: Context<AppEnv>, id: string): Promise<WebhookEndpoint> {
  const endpoint = await findWebhookEndpoint(c.env.DB, providerOf(c), id)
  if (!endpoint) throw notFound(`No webhook endpoint ${id}.`)
  return endpoint
}

// An endpoint's event types and status reach the send shards' copies before the answer, so the
// events of every change after it reach the endpoint (decisions.md D48).
webhooks.use('*', requireScope(SCOPES.send), refreshSendFacts())

const tags = ['Webhooks']
const idParam = { params: z.object({ id: WebhookEndpointId }) }
const location = (id: string) => `/webhooks/${id}`

const create = createRoute({
  method: 'post',
  path: '/',
  operationId: 'createWebhookEndpoint',
  tags,
  summary: 'Register a webhook endpoint',
  description:
    'The endpoint receives the event types it lists, each as a signed POST (Standard ' +
    'Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`). The URL must be https, ' +
    "without credentials, not Portero's own host (localhost only when Portero runs on " +
    'localhost), and not an address of a special-use range (private, link-local, shared, ' +
    'IPv4 inside IPv6…: the error names it). Redirects are not followed: a 3xx answer is a ' +
    `failed delivery. A provider has at most ${MAX_WEBHOOK_ENDPOINTS} endpoints. The signing ` +
    'secret is in this answer only.',
  security: SECURITY.bearer,
  request: {
    body: jsonBody(NewWebhookEndpoint, {
      url: 'https://clinic.example.com/hooks/portero',
      event_types: ['message.delivered', 'message.undelivered', 'message.failed', 'message.dead'],
    }),
  },
  responses: {
    201: newResource('Registered; `secret` is shown this once.', WebhookEndpointWithSecret),
    ...problems(400, 401, 403, 409, 415),
  },
})

webhooks.openapi(create, async (c) => {
  const body = c.req.valid('json')
  const { endpoint, secret } = await registerWebhookEndpoint(await webhookDeps(c), providerOf(c), {
    url: body.url,
    eventTypes: body.event_types,
  })
  c.header('location', location(endpoint.id))
  c.header('cache-control', 'no-store')
  return c.json({ ...view(endpoint), secret }, 201)
})

const list = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listWebhookEndpoints',
  tags,
  summary: "The provider's webhook endpoints",
  security: SECURITY.bearer,
  request: { query: WebhookEndpointPageQuery },
  responses: { 200: json('A page.', WebhookEndpointPage), ...problems(400, 401, 403) },
})

webhooks.openapi(list, async (c) => {
  const { limit, cursor } = c.req.valid('query')
  return c.json(
    await webhookEndpointPage(c.env.DB, providerOf(c), limit, cursor, new URL(c.req.url)),
  )
})

const read = createRoute({
  method: 'get',
  path: '/{id}',
  operationId: 'getWebhookEndpoint',
  tags,
  summary: 'Read a webhook endpoint',
  security: SECURITY.bearer,
  request: idParam,
  responses: {
    200: json('The endpoint (never its secret).', EndpointView),
    ...problems(401, 403, 404),
  },
})

webhooks.openapi(read, async (c) => c.json(view(await ownEndpoint(c, c.req.valid('param').id))))

const change = createRoute({
  method: 'patch',
  path: '/{id}',
  operationId: 'updateWebhookEndpoint',
  tags,
  summary: 'Change a webhook endpoint, or re-enable a disabled one',
  security: SECURITY.bearer,
  request: { ...idParam, body: jsonBody(WebhookEndpointChanges, { enabled: true }) },
  responses: { 200: json('The endpoint.', EndpointView), ...problems(400, 401, 403, 404, 415) },
})

webhooks.openapi(change, async (c) => {
  const body = c.req.valid('json')
  const { id } = c.req.valid('param')
  const endpoint = await changeWebhookEndpoint(await webhookDeps(c), providerOf(c), id, {
    url: body.url,
    eventTypes: body.event_types,
    enabled: body.enabled,
  })
  return c.json(view(endpoint))
})

const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  operationId: 'deleteWebhookEndpoint',
  tags,
  summary: 'Delete a webhook endpoint, its pending events and its attempts',
  security: SECURITY.bearer,
  request: idParam,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

webhooks.openapi(remove, async (c) => {
  const { id } = c.req.valid('param')
  if (!(await deleteWebhookEndpoint(c.env.DB, providerOf(c), id))) {
    throw notFound(`No webhook endpoint ${id}.`)
  }
  return c.body(null, 204)
})

const rotate = createRoute({
  method: 'post',
  path: '/{id}/secret/rotate',
  operationId: 'rotateWebhookSecret',
  tags,
  summary: 'Rotate the signing secret, with an overlap',
  description:
    'A new secret, shown in this answer only. During `overlap_seconds` (default 24 h, at most ' +
    '7 days) each request carries two signatures, by the new and the old secret; then only the ' +
    'new one. A rotation during an overlap ends the older secret at once.',
  security: SECURITY.bearer,
  request: { ...idParam, body: jsonBody(SecretRotation, { overlap_seconds: 86400 }) },
  responses: {
    200: json('The new secret, shown this once.', WebhookEndpointWithSecret),
    ...problems(400, 401, 403, 404, 415),
  },
})

webhooks.openapi(rotate, async (c) => {
  const { overlap_seconds } = c.req.valid('json')
  const { endpoint, secret } = await rotateWebhookSecret(
    await webhookDeps(c),
    providerOf(c),
    c.req.valid('param').id,
    overlap_seconds,
  )
  c.header('cache-control', 'no-store')
  return c.json({ ...view(endpoint), secret })
})

const attempts = createRoute({
  method: 'get',
  path: '/{id}/attempts',
  operationId: 'listWebhookAttempts',
  tags,
  summary: "The endpoint's recent delivery attempts, newest first",
  description:
    'Each POST of an event to this endpoint: the status it answered or the network error, how ' +
    'long it took, and when the next attempt is due. Kept 30 days.',
  security: SECURITY.bearer,
  request: { ...idParam, query: WebhookAttemptPageQuery },
  responses: { 200: json('A page.', WebhookAttemptPage), ...problems(400, 401, 403, 404) },
})

webhooks.openapi(attempts, async (c) => {
  const { limit, cursor } = c.req.valid('query')
  const endpoint = await ownEndpoint(c, c.req.valid('param').id)
  return c.json(await webhookAttemptPage(c.env.DB, endpoint.id, limit, cursor, new URL(c.req.url)))
})

const events = createRoute({
  method: 'get',
  path: '/{id}/events',
  operationId: 'listWebhookEvents',
  tags,
  summary: "The endpoint's recent events, newest first, and where each delivery stands",
  description:
    'Every event sent or to be sent to this endpoint, kept as long as its message: its ' +
    '`webhook-id`, type and time, and whether its delivery is `pending`, `succeeded` or ' +
    '`dead`. `status=dead` lists those to ask for again.',
  security: SECURITY.bearer,
  request: { ...idParam, query: WebhookEventPageQuery },
  responses: { 200: json('A page.', WebhookEventDeliveryPage), ...problems(400, 401, 403, 404) },
})

webhooks.openapi(events, async (c) => {
  const endpoint = await ownEndpoint(c, c.req.valid('param').id)
  c.header('cache-control', 'no-store')
  return c.json(
    await webhookEventPage(c.env.DB, endpoint.id, c.req.valid('query'), new URL(c.req.url)),
  )
})

const redeliverOne = createRoute({
  method: 'post',
  path: '/{id}/events/{eventId}/redeliver',
  operationId: 'redeliverWebhookEvent',
  tags,
  summary: 'Send one event to the endpoint again',
  description:
    'The event, succeeded or dead, is sent again with the same `webhook-id` and a new retry ' +
    'schedule. 409 while it is still pending, or when the endpoint is disabled.',
  security: SECURITY.bearer,
  request: { params: z.object({ id: WebhookEndpointId, eventId: WebhookEventId }) },
  responses: {
    202: json('Queued: it is sent within seconds.', WebhookRedelivery),
    ...problems(401, 403, 404, 409),
  },
})

webhooks.openapi(redeliverOne, async (c) => {
  const { id, eventId } = c.req.valid('param')
  const done = await redeliverWebhookEvents(redeliveryDeps(c), providerOf(c), id, { eventId })
  return c.json({ redelivered: done.eventIds, more: done.more }, 202)
})

const redeliverSince = createRoute({
  method: 'post',
  path: '/{id}/redeliver',
  operationId: 'redeliverWebhookEvents',
  tags,
  summary: 'Send every event dead for the endpoint since a time again',
  description:
    `The events dead for this endpoint since \`since\`, oldest first, at most ${MAX_REDELIVERIES} ` +
    'a request (`more`: ask again), each with its `webhook-id` and a new retry schedule. For ' +
    'an endpoint back after an outage: re-enable it first if it was disabled.',
  security: SECURITY.bearer,
  request: { ...idParam, body: jsonBody(WebhookRecovery, { since: '2026-11-22T00:00:00Z' }) },
  responses: {
    202: json('Queued: they are sent within seconds.', WebhookRedelivery),
    ...problems(400, 401, 403, 404, 409, 415),
  },
})

webhooks.openapi(redeliverSince, async (c) => {
  const { id } = c.req.valid('param')
  const since = new Date(c.req.valid('json').since)
  const done = await redeliverWebhookEvents(redeliveryDeps(c), providerOf(c), id, { since })
  return c.json({ redelivered: done.eventIds, more: done.more }, 202)
})
