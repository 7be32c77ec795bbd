// /admin/providers: onboarding service providers, and their subscriptions to services.
import { createRoute } from '@hono/zod-openapi'
import * as z from 'zod'
import { notFound } from '../../errors.ts'
import {
  changeProvider,
  createProvider,
  ProviderIdText,
  removeProvider,
  requireProvider,
  subscribeProvider,
} from '../../domain/providers.ts'
import { auditAs } from '../../http/audit.ts'
import { clientRecordDeps } from '../../http/deps.ts'
import { OpenApiApp } from '../../http/openapi-app.ts'
import { badCursor, PageQuery, toPage } from '../../http/paging.ts'
import { subscriptionPage, subscriptionView } from '../../http/subscriptions.ts'
import {
  json,
  jsonBody,
  MANAGEMENT,
  newResource,
  NO_CONTENT,
  pathParameters,
  problems,
} from '../../openapi/operations.ts'
import {
  Provider as ProviderView,
  ProviderPage,
  Subscription as SubscriptionView,
  SubscriptionPage,
} from '../../openapi/responses.ts'
import { listProviders, type Provider } from '../../storage/providers.ts'
import { revokeSubscription, rotateSubscriptionToken } from '../../storage/subscriptions.ts'

export const providers = new OpenApiApp()

const Name = z
  .string({ error: 'name is required' })
  .trim()
  .min(1, 'name must not be empty')
  .max(200)
export const NewProvider = z.strictObject({ id: ProviderIdText.optional(), name: Name })
export const ProviderChanges = z
  .strictObject({ name: Name.optional(), status: z.enum(['active', 'disabled']).optional() })
  .refine((v) => Object.keys(v).length > 0, 'send at least one of name, status')
const Cascade = z.object({ cascade: z.enum(['true', 'false']).optional() })

export function providerView(p: Provider) {
  return {
    id: p.id,
    name: p.name,
    status: p.status,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  }
}

const idParam = { params: pathParameters('id') }
const subscriptionParams = { params: pathParameters('id', 'serviceId') }

const create = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/',
  summary: 'Create a provider',
  request: { body: jsonBody(NewProvider, { id: '2002', name: 'Autos usados CHECHO' }) },
  responses: {
    201: newResource('Created.', ProviderView),
    ...problems(400, 401, 403, 409, 415),
  },
})

providers.openapi(create, async (c) => {
  const body = c.req.valid('json')
  // Named before the insert, so a refused create (409) is audited against the id it asked for.
  auditAs(c, 'provider.create', body.id)
  const provider = await createProvider(c.env.DB, body)
  auditAs(c, 'provider.create', provider.id)
  c.header('location', `/admin/providers/${provider.id}`)
  return c.json(providerView(provider), 201)
})

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/',
  summary: 'List providers',
  request: { query: PageQuery },
  responses: { 200: json('A page.', ProviderPage), ...problems(400, 401, 403) },
})

providers.openapi(list, async (c) => {
  const { limit, cursor } = c.req.valid('query')
  // Any other cursor would be cast to 0 by SQLite and silently restart the walk.
  if (cursor !== undefined && !/^-?\d{1,19}$/.test(cursor)) throw badCursor()
  const rows = await listProviders(c.env.DB, { after: cursor, limit: limit + 1 })
  return c.json(toPage(rows, limit, (p) => p.id, providerView, new URL(c.req.url)))
})

const read = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}',
  summary: 'Read a provider',
  request: idParam,
  responses: { 200: json('The provider.', ProviderView), ...problems(401, 403, 404) },
})

providers.openapi(read, async (c) =>
  c.json(providerView(await requireProvider(c.env.DB, c.req.param('id')))),
)

const change = createRoute({
  ...MANAGEMENT,
  method: 'patch',
  path: '/{id}',
  summary: 'Rename, disable or enable a provider',
  request: { ...idParam, body: jsonBody(ProviderChanges, { status: 'disabled' }) },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 415) },
})

providers.openapi(change, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const changes = c.req.valid('json')
  auditAs(c, 'provider.update', provider.id, { changed: Object.keys(changes) })
  await changeProvider(clientRecordDeps(c), provider, changes)
  return c.body(null, 204)
})

const remove = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}',
  summary: 'Delete a provider (409 while it has clients, unless ?cascade=true)',
  request: { ...idParam, query: Cascade },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 409) },
})

providers.openapi(remove, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const cascade = c.req.valid('query').cascade === 'true'
  auditAs(c, 'provider.delete', provider.id, { cascade })
  await removeProvider(clientRecordDeps(c), provider, cascade)
  return c.body(null, 204)
})

// Subscriptions: enabling a service for a provider issues the service_token /Services checks.

export const NewSubscription = z.strictObject({
  service_id: z.number({ error: 'service_id must be an integer' }).int().positive(),
})
const ServiceIdParam = z.coerce.number().int().positive()

const subscribe = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/subscriptions',
  summary: 'Subscribe a provider to a service (issues its service_token)',
  request: { ...idParam, body: jsonBody(NewSubscription, { service_id: 1 }) },
  responses: {
    201: newResource('Created.', SubscriptionView),
    ...problems(400, 401, 403, 404, 409, 415),
  },
})

providers.openapi(subscribe, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const { service_id } = c.req.valid('json')
  auditAs(c, 'subscription.create', provider.id, { service_id })
  const subscription = await subscribeProvider(c.env.DB, provider, service_id)
  c.header('location', `/admin/providers/${provider.id}/subscriptions/${service_id}`)
  return c.json(subscriptionView(subscription), 201)
})

const listSubscriptionsOf = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/subscriptions',
  summary: "List a provider's subscriptions",
  request: { ...idParam, query: PageQuery },
  responses: { 200: json('A page.', SubscriptionPage), ...problems(400, 401, 403, 404) },
})

providers.openapi(listSubscriptionsOf, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const { limit, cursor } = c.req.valid('query')
  const page = await subscriptionPage(c.env.DB, provider.id, limit, cursor, new URL(c.req.url))
  return c.json(page)
})

function serviceIdOf(raw: string): number {
  const parsed = ServiceIdParam.safeParse(raw)
  if (!parsed.success) throw notFound(`No subscription to service ${raw}.`)
  return parsed.data
}

const rotate = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/subscriptions/{serviceId}/token',
  summary: "Rotate a subscription's service_token",
  request: subscriptionParams,
  responses: {
    200: json('The subscription with its new token.', SubscriptionView),
    ...problems(401, 403, 404),
  },
})

providers.openapi(rotate, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const serviceId = serviceIdOf(c.req.param('serviceId'))
  auditAs(c, 'subscription.rotate', provider.id, { service_id: serviceId })
  const subscription = await rotateSubscriptionToken(c.env.DB, provider.id, serviceId)
  if (!subscription) {
    throw notFound(`Provider ${provider.id} has no subscription to service ${serviceId}.`)
  }
  return c.json(subscriptionView(subscription))
})

const unsubscribe = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}/subscriptions/{serviceId}',
  summary: 'Revoke a subscription',
  request: subscriptionParams,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

providers.openapi(unsubscribe, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const serviceId = serviceIdOf(c.req.param('serviceId'))
  auditAs(c, 'subscription.revoke', provider.id, { service_id: serviceId })
  if (!(await revokeSubscription(c.env.DB, provider.id, serviceId))) {
    throw notFound(`Provider ${provider.id} has no subscription to service ${serviceId}.`)
  }
  return c.body(null, 204)
})
