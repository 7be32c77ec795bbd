// /admin/providers/{id}/webhooks: a provider's webhook endpoints and their recent attempts, read
// only, page for page what the provider's own GET /webhooks answers (docs/webhooks.md). Never a
// secret: only the provider changes its endpoints, with its own token.
import * as z from 'zod'
import { notFound } from '../../errors.ts'
import { requireProvider } from '../../domain/providers.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { ProviderIdPath } from '../../http/path-params.ts'
import {
  WebhookAttemptPageQuery,
  WebhookEndpointId,
  WebhookEndpointPageQuery,
  webhookAttemptPage,
  webhookEndpointPage,
} from '../../http/webhooks.ts'
import { json, MANAGEMENT, problems } from '../../openapi/operations.ts'
import { WebhookAttemptPage, WebhookEndpointPage } from '../../openapi/webhook-responses.ts'
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
