// /admin/providers/{id}/webhooks: a provider's webhook endpoints and their recent attempts, read
// only, page for page what the provider's own GET /webhooks answers (docs/webhooks.md). Never a
// secret: only the provider changes its endpoints, with its own token.
import type { Context } from 'hono'
import * as z from 'zod'
import { notFound } from '../../errors.ts'
import { requireProvider } from '../../domain/providers.ts'
import type { AppEnv } from '../../http/app-env.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { PageQuery } from '../../http/paging.ts'
import { ENDPOINT_ID, webhookAttemptPage, webhookEndpointPage } from '../../http/webhooks.ts'
import { json, MANAGEMENT, pathParameters, problems } from '../../openapi/operations.ts'
import { WebhookAttemptPage, WebhookEndpointPage } from '../../openapi/webhook-responses.ts'
import { findWebhookEndpoint } from '../../storage/webhooks.ts'

export const providerWebhooks = new OpenApiApp()

export const AttemptQuery = PageQuery.extend({
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
async function endpointOf(c: Context<AppEnv>, providerId: string) {
  const id = c.req.param('endpointId') ?? ''
  const endpoint = ENDPOINT_ID.test(id) ? await findWebhookEndpoint(c.env.DB, providerId, id) : null
  if (!endpoint) throw notFound(`Provider ${providerId} has no webhook endpoint ${id}.`)
  return endpoint
}

const listEndpoints = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/webhooks',
  summary: "List a provider's webhook endpoints (read only)",
  description:
    "The provider's endpoints as its own `GET /webhooks` lists them, never with a secret. Only " +
    'the provider registers, changes or re-enables them, with its own token.',
  request: { params: pathParameters('id'), query: PageQuery },
  responses: { 200: json('A page.', WebhookEndpointPage), ...problems(400, 401, 403, 404) },
})

providerWebhooks.openapi(listEndpoints, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const { limit, cursor } = c.req.valid('query')
  c.header('cache-control', 'no-store')
  return c.json(await webhookEndpointPage(c.env.DB, provider.id, limit, cursor, new URL(c.req.url)))
})

const listAttempts = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/webhooks/{endpointId}/attempts',
  summary: "A provider's webhook endpoint's recent attempts, newest first",
  description:
    "As the provider's own `GET /webhooks/{id}/attempts` lists them. `?outcome=dead` lists the " +
    'events dead for this endpoint (their last attempt), newest first.',
  request: { params: pathParameters('id', 'endpointId'), query: AttemptQuery },
  responses: { 200: json('A page.', WebhookAttemptPage), ...problems(400, 401, 403, 404) },
})

providerWebhooks.openapi(listAttempts, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const endpoint = await endpointOf(c, provider.id)
  const { limit, cursor, outcome } = c.req.valid('query')
  c.header('cache-control', 'no-store')
  const url = new URL(c.req.url)
  return c.json(await webhookAttemptPage(c.env.DB, endpoint.id, limit, cursor, url, outcome))
})
