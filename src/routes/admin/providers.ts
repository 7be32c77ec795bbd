// /admin/providers: onboarding service providers, and their subscriptions to services.
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../../http/app-env.ts'
import { AppError } from '../../errors.ts'
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
import { badCursor, PageQuery, toPage } from '../../http/paging.ts'
import { subscriptionPage, subscriptionView } from '../../http/subscriptions.ts'
import { requireJson, validate } from '../../http/validate.ts'
import { listProviders, type Provider } from '../../storage/providers.ts'
import { revokeSubscription, rotateSubscriptionToken } from '../../storage/subscriptions.ts'

export const providers = new Hono<AppEnv>()

const Name = z.string({ error: 'name is required' }).trim().min(1, 'name must not be empty').max(200)
export const NewProvider = z.strictObject({ id: ProviderIdText.optional(), name: Name })
export const ProviderChanges = z
  .strictObject({ name: Name.optional(), status: z.enum(['active', 'disabled']).optional() })
  .refine((v) => Object.keys(v).length > 0, 'send at least one of name, status')
const Cascade = z.object({ cascade: z.enum(['true', 'false']).optional() })

export function providerView(p: Provider) {
  return { id: p.id, name: p.name, status: p.status, created_at: p.createdAt, updated_at: p.updatedAt }
}

providers.post('/', requireJson(), validate('json', NewProvider), async (c) => {
  const body = c.req.valid('json')
  // Named before the insert, so a refused create (409) is audited against the id it asked for.
  auditAs(c, 'provider.create', body.id)
  const provider = await createProvider(c.env.DB, body)
  auditAs(c, 'provider.create', provider.id)
  c.header('location', `/admin/providers/${provider.id}`)
  return c.json(providerView(provider), 201)
})

providers.get('/', validate('query', PageQuery), async (c) => {
  const { limit, cursor } = c.req.valid('query')
  // Any other cursor would be cast to 0 by SQLite and silently restart the walk.
  if (cursor !== undefined && !/^-?\d{1,19}$/.test(cursor)) throw badCursor()
  const rows = await listProviders(c.env.DB, { after: cursor, limit: limit + 1 })
  return c.json(toPage(rows, limit, (p) => p.id, providerView, new URL(c.req.url)))
})

providers.get('/:id', async (c) => c.json(providerView(await requireProvider(c.env.DB, c.req.param('id')))))

providers.patch('/:id', requireJson(), validate('json', ProviderChanges), async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const changes = c.req.valid('json')
  auditAs(c, 'provider.update', provider.id, { changed: Object.keys(changes) })
  await changeProvider(clientRecordDeps(c), provider, changes)
  return c.body(null, 204)
})

providers.delete('/:id', validate('query', Cascade), async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const cascade = c.req.valid('query').cascade === 'true'
  auditAs(c, 'provider.delete', provider.id, { cascade })
  await removeProvider(clientRecordDeps(c), provider, cascade)
  return c.body(null, 204)
})

// Subscriptions: enabling a service for a provider issues the service_token /Services checks.

export const NewSubscription = z.strictObject({ service_id: z.number({ error: 'service_id must be an integer' }).int().positive() })
const ServiceIdParam = z.coerce.number().int().positive()

providers.post('/:id/subscriptions', requireJson(), validate('json', NewSubscription), async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const { service_id } = c.req.valid('json')
  auditAs(c, 'subscription.create', provider.id, { service_id })
  const subscription = await subscribeProvider(c.env.DB, provider, service_id)
  c.header('location', `/admin/providers/${provider.id}/subscriptions/${service_id}`)
  return c.json(subscriptionView(subscription), 201)
})

providers.get('/:id/subscriptions', validate('query', PageQuery), async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const { limit, cursor } = c.req.valid('query')
  const page = await subscriptionPage(c.env.DB, provider.id, limit, cursor, new URL(c.req.url))
  return c.json(page)
})

function serviceIdOf(raw: string): number {
  const parsed = ServiceIdParam.safeParse(raw)
  if (!parsed.success) throw new AppError(404, 'not_found', `No subscription to service ${raw}.`)
  return parsed.data
}

providers.post('/:id/subscriptions/:serviceId/token', async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const serviceId = serviceIdOf(c.req.param('serviceId'))
  auditAs(c, 'subscription.rotate', provider.id, { service_id: serviceId })
  const subscription = await rotateSubscriptionToken(c.env.DB, provider.id, serviceId)
  if (!subscription) throw new AppError(404, 'not_found', `Provider ${provider.id} has no subscription to service ${serviceId}.`)
  return c.json(subscriptionView(subscription))
})

providers.delete('/:id/subscriptions/:serviceId', async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.param('id'))
  const serviceId = serviceIdOf(c.req.param('serviceId'))
  auditAs(c, 'subscription.revoke', provider.id, { service_id: serviceId })
  if (!(await revokeSubscription(c.env.DB, provider.id, serviceId))) {
    throw new AppError(404, 'not_found', `Provider ${provider.id} has no subscription to service ${serviceId}.`)
  }
  return c.body(null, 204)
})
