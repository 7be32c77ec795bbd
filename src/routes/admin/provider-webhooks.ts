// /admin/providers/{id}/webhooks: a provider's webhook endpoints, their recent attempts and events,
// page for page what the provider's own GET /webhooks answers (docs/webhooks.md), and sending
// events again on the provider's behalf. Never a secret: only the provider changes its endpoints,
// with its own token.
import * as z from 'zod'
import { notFound } from '../../errors.ts'
import { requireProvider } from '../../domain/providers.ts'
import { redeliverWebhookEvents } from '../../domain/webhooks.ts'
import { auditAs } from '../../http/audit.ts'
import { redeliveryDeps } from '../../http/deps.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { ProviderIdPath } from '../../http/path-params.ts'
import {
  WebhookAttemptPageQuery,
  WebhookEndpointId,
  WebhookEndpointPageQuery,
  WebhookEventId,
  WebhookEventPageQuery,
  WebhookRecovery,
  webhookAttemptPage,
  webhookEndpointPage,
  webhookEventPage,
} from '../../http/webhooks.ts'
import { json, jsonBody, MANAGEMENT, problems } from '../../openapi/operations.ts'
import {
  WebhookAttemptPage,
  WebhookEndpointPage,
  WebhookEventDeliveryPage,
  WebhookRedelivery,
} from '../../openapi/webhook-responses.ts'
import { findWebhookEndpoint } from '../../storage/webhooks.ts'

export const providerWebhooks = new OpenApiApp()

export const AttemptQuery = WebhookAttemptPageQuery.extend({
  outcome: z
    .enum(['succeeded', 'retrying', 'dead'], {
      error: 'outcome is succeeded, retrying or dead',
    })
    .optional()
    .meta({
      description:
        'Only the attempts that ended so; `dead`: the last attempt at each event that is dead ' +
        'for this endpoint.',
    }),
})

/** The provider's endpoint named by the path; another provider's is as unknown as a missing one. */
async function endpointOf(db: D1Database, providerId: string, id: string) {
  const endpoint = await findWebhookEndpoint(db, providerId, id)
  if (!endpoint) throw notFound(`Provider ${providerId} has no webhook endpoint ${id}.`)
  return endpoint
}

const listEndpoints = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/webhooks',
  operationId: 'listProviderWebhookEndpoints',
  summary: "List a provider's webhook endpoints (read only)",
  description:
    "The provider's endpoints as its own `GET /webhooks` lists them, never with a secret. Only " +
    'the provider registers, changes or re-enables them, with its own token.',
  request: { params: z.object({ id: ProviderIdPath }), query: WebhookEndpointPageQuery },
  responses: { 200: json('A page.', WebhookEndpointPage), ...problems(400, 401, 403, 404) },
})

providerWebhooks.openapi(listEndpoints, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const { limit, cursor } = c.req.valid('query')
  c.header('cache-control', 'no-store')
  return c.json(await webhookEndpointPage(c.env.DB, provider.id, limit, cursor, new URL(c.req.url)))
})

const listAttempts = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/webhooks/{endpointId}/attempts',
  operationId: 'listProviderWebhookAttempts',
  summary: "A provider's webhook endpoint's recent attempts, newest first",
  description:
    "As the provider's own `GET /webhooks/{id}/attempts` lists them. `?outcome=dead` lists the " +
    'events dead for this endpoint (their last attempt), newest first.',
  request: {
    params: z.object({ id: ProviderIdPath, endpointId: WebhookEndpointId }),
    query: AttemptQuery,
  },
  responses: { 200: json('A page.', WebhookAttemptPage), ...problems(400, 401, 403, 404) },
})

providerWebhooks.openapi(listAttempts, async (c) => {
  const { id, endpointId } = c.req.valid('param')
  const provider = await requireProvider(c.env.DB, id)
  const endpoint = await endpointOf(c.env.DB, provider.id, endpointId)
  const { limit, cursor, outcome } = c.req.valid('query')
  c.header('cache-control', 'no-store')
  const url = new URL(c.req.url)
  return c.json(await webhookAttemptPage(c.env.DB, endpoint.id, limit, cursor, url, outcome))
})

const endpointParams = z.object({ id: ProviderIdPath, endpointId: WebhookEndpointId })

const listEvents = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/webhooks/{endpointId}/events',
  operationId: 'listProviderWebhookEvents',
  summary: "A provider's webhook endpoint's recent events, newest first",
  description: "As the provider's own `GET /webhooks/{id}/events` lists them.",
  request: { params: endpointParams, query: WebhookEventPageQuery },
  responses: { 200: json('A page.', WebhookEventDeliveryPage), ...problems(400, 401, 403, 404) },
})

providerWebhooks.openapi(listEvents, async (c) => {
  const { id, endpointId } = c.req.valid('param')
  const provider = await requireProvider(c.env.DB, id)
  const endpoint = await endpointOf(c.env.DB, provider.id, endpointId)
  c.header('cache-control', 'no-store')
  const url = new URL(c.req.url)
  return c.json(await webhookEventPage(c.env.DB, endpoint.id, c.req.valid('query'), url))
})

const redeliverOne = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/webhooks/{endpointId}/events/{eventId}/redeliver',
  operationId: 'redeliverProviderWebhookEvent',
  summary: "Send one event to a provider's webhook endpoint again",
  description:
    "On the provider's behalf, as its own `POST /webhooks/{id}/events/{eventId}/redeliver`; " +
    'audited (`webhook.redeliver`).',
  request: { params: endpointParams.extend({ eventId: WebhookEventId }) },
  responses: {
    202: json('Queued: it is sent within seconds.', WebhookRedelivery),
    ...problems(401, 403, 404, 409),
  },
})

providerWebhooks.openapi(redeliverOne, async (c) => {
  const { id, endpointId, eventId } = c.req.valid('param')
  const provider = await requireProvider(c.env.DB, id)
  auditAs(c, 'webhook.redeliver', endpointId, { provider_id: provider.id, event_id: eventId })
  const done = await redeliverWebhookEvents(redeliveryDeps(c), provider.id, endpointId, {
    eventId,
  })
  return c.json({ redelivered: done.eventIds, more: done.more }, 202)
})

const redeliverSince = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/webhooks/{endpointId}/redeliver',
  operationId: 'redeliverProviderWebhookEvents',
  summary: "Send every event dead for a provider's webhook endpoint since a time again",
  description:
    "On the provider's behalf, as its own `POST /webhooks/{id}/redeliver`; audited " +
    '(`webhook.redeliver`).',
  request: {
    params: endpointParams,
    body: jsonBody(WebhookRecovery, { since: '2026-11-22T00:00:00Z' }),
  },
  responses: {
    202: json('Queued: they are sent within seconds.', WebhookRedelivery),
    ...problems(400, 401, 403, 404, 409, 415),
  },
})

providerWebhooks.openapi(redeliverSince, async (c) => {
  const { id, endpointId } = c.req.valid('param')
  const { since } = c.req.valid('json')
  const provider = await requireProvider(c.env.DB, id)
  auditAs(c, 'webhook.redeliver', endpointId, { provider_id: provider.id, since })
  const done = await redeliverWebhookEvents(redeliveryDeps(c), provider.id, endpointId, {
    since: new Date(since),
  })
  return c.json({ redelivered: done.eventIds, more: done.more }, 202)
})
