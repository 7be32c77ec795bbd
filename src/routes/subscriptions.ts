// GET /subscriptions: a provider lists its own subscriptions and their service tokens.
import { AppError } from '../errors.ts'
import { SCOPES } from '../domain/scopes.ts'
import { requireScope } from '../http/auth.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { SubscriptionPageQuery, subscriptionPage } from '../http/subscriptions.ts'
import { json, problems, SECURITY } from '../openapi/operations.ts'
import { SubscriptionPage } from '../openapi/responses.ts'

export const subscriptions = new OpenApiApp()

const list = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listSubscriptions',
  tags: ['Dispatch'],
  summary: "The provider's subscriptions and service tokens",
  security: SECURITY.bearer,
  middleware: [requireScope(SCOPES.send)],
  request: { query: SubscriptionPageQuery },
  responses: {
    200: json('A page.', SubscriptionPage),
    ...problems(400, 401, 403),
  },
})

subscriptions.openapi(list, async (c) => {
  const { providerId } = c.get('auth')
  if (!providerId) throw new AppError('forbidden', 'This token does not belong to a provider.')
  const { limit, cursor } = c.req.valid('query')
  return c.json(await subscriptionPage(c.env.DB, providerId, limit, cursor, new URL(c.req.url)))
})
