// /admin/providers: onboarding service providers, and their subscriptions to services.
import * as z from 'zod'
import { notFound } from '../../errors.ts'
import { loadSendQuotas } from '../../config.ts'
import {
  changeProvider,
  createProvider,
  ProviderIdText,
  removeProvider,
  requireProvider,
  subscribeProvider,
} from '../../domain/providers.ts'
import { MAX_SEND_SHARDS } from '../../domain/admission.ts'
import { effectiveQuotas, MAX_SEND_QUOTA, type SendQuotas } from '../../domain/quotas.ts'
import { liftSuppression, suppressNumber } from '../../domain/suppressions.ts'
import { auditAs } from '../../http/audit.ts'
import { clientRecordDeps, sendShardOf } from '../../http/deps.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { toPage } from '../../http/paging.ts'
import {
  PhonePath,
  ProviderIdPath,
  ProviderPageQuery,
  serviceIdPath,
  SuppressionPageQuery,
} from '../../http/path-params.ts'
import { RecipientPageQuery, recipientPage } from '../../http/recipients.ts'
import {
  SubscriptionPageQuery,
  subscriptionPage,
  subscriptionView,
} from '../../http/subscriptions.ts'
import {
  json,
  jsonBody,
  MANAGEMENT,
  newResource,
  NO_CONTENT,
  problems,
} from '../../openapi/operations.ts'
import {
  Provider as ProviderView,
  ProviderPage,
  RecipientPage,
  Subscription as SubscriptionView,
  SubscriptionPage,
  Suppression as SuppressionView,
  SuppressionPage,
} from '../../openapi/responses.ts'
import { listProviders, type Provider } from '../../storage/providers.ts'
import { listSuppressions, type Suppression } from '../../storage/suppressions.ts'
import { E164 } from '../../utils/e164.ts'
import { revokeSubscription, rotateSubscriptionToken } from '../../storage/subscriptions.ts'

export const providers = new OpenApiApp()

const Name = z
  .string({ error: 'name is required' })
  .trim()
  .min(1, 'name must not be empty')
  .max(200)
const Sandbox = z.boolean({ error: 'sandbox is true or false' }).meta({
  description:
    "A sandbox provider's messages go through every acceptance rule but are sent to no channel: " +
    'their statuses are simulated from their destinations (docs/sending.md "Sandbox"), with the ' +
    'same receipts and webhooks, and counted apart from real messages. Applies to messages ' +
    'accepted from then on.',
})
export const NewProvider = z.strictObject({
  id: ProviderIdText.optional(),
  name: Name,
  sandbox: Sandbox.optional(),
})
const Quota = z
  .number({ error: 'a quota is a whole number of messages, or null for the default' })
  .int('a quota is a whole number of messages')
  .min(1, 'a quota is at least 1 (disable the provider to stop its sending)')
  .max(MAX_SEND_QUOTA, `a quota is at most ${MAX_SEND_QUOTA}`)
  .nullable()
  .optional()
const QuotaChanges = z
  .strictObject({ per_minute: Quota, per_day: Quota, per_destination_hour: Quota })
  .refine(
    (v) => Object.keys(v).length > 0,
    'send at least one of per_minute, per_day, ' + 'per_destination_hour',
  )
  .meta({
    description:
      'Accepted /Services messages a minute, a UTC day and to one destination an hour; null: ' +
      "back to the deployment's default (SEND_QUOTA_*). Those left out stay as they are.",
  })
const SendShards = z
  .number({ error: 'send_shards is a whole number of shards' })
  .int('send_shards is a whole number of shards')
  .min(1, 'send_shards is at least 1')
  .max(MAX_SEND_SHARDS, `send_shards is at most ${MAX_SEND_SHARDS}`)
  .meta({
    description:
      'How many send shards admit its /Services messages (docs/sending.md "A provider that sends a lot"): ' +
      '1, the default, for up to about 1,000 messages a second.',
  })
export const ProviderChanges = z
  .strictObject({
    name: Name.optional(),
    status: z.enum(['active', 'disabled']).optional(),
    quotas: QuotaChanges.optional(),
    send_shards: SendShards.optional(),
    sandbox: Sandbox.optional(),
  })
  .refine(
    (v) => Object.keys(v).length > 0,
    'send at least one of name, status, quotas, send_shards, sandbox',
  )
const Cascade = z.object({ cascade: z.enum(['true', 'false']).optional() })

export function providerView(p: Provider, defaults: SendQuotas) {
  const quotas = effectiveQuotas(defaults, p.quotas)
  return {
    id: p.id,
    name: p.name,
    status: p.status,
    quotas: {
      per_minute: quotas.perMinute,
      per_day: quotas.perDay,
      per_destination_hour: quotas.perDestinationHour,
    },
    quota_overrides: {
      per_minute: p.quotas.perMinute,
      per_day: p.quotas.perDay,
      per_destination_hour: p.quotas.perDestinationHour,
    },
    send_shards: p.sendShards,
    sandbox: p.sandbox,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  }
}

const idParam = { params: z.object({ id: ProviderIdPath }) }
const subscriptionParams = {
  params: z.object({
    id: ProviderIdPath,
    serviceId: serviceIdPath((raw) => `No subscription to service ${raw}.`),
  }),
}

const create = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/',
  operationId: 'createProvider',
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
  return c.json(providerView(provider, loadSendQuotas(c.env)), 201)
})

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/',
  operationId: 'listProviders',
  summary: 'List providers',
  request: { query: ProviderPageQuery },
  responses: { 200: json('A page.', ProviderPage), ...problems(400, 401, 403) },
})

providers.openapi(list, async (c) => {
  const { limit, cursor } = c.req.valid('query')
  const rows = await listProviders(c.env.DB, { after: cursor, limit: limit + 1 })
  const view = (p: Provider) => providerView(p, loadSendQuotas(c.env))
  return c.json(toPage(rows, limit, (p) => p.id, view, new URL(c.req.url)))
})

const read = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}',
  operationId: 'getProvider',
  summary: 'Read a provider',
  request: idParam,
  responses: { 200: json('The provider.', ProviderView), ...problems(401, 403, 404) },
})

providers.openapi(read, async (c) =>
  c.json(
    providerView(await requireProvider(c.env.DB, c.req.valid('param').id), loadSendQuotas(c.env)),
  ),
)

const change = createRoute({
  ...MANAGEMENT,
  method: 'patch',
  path: '/{id}',
  operationId: 'updateProvider',
  summary: 'Rename, disable or enable a provider, or set its send quotas, shards or sandbox',
  description:
    'Disabling a provider ends its tokens, and its deliveries still queued are marked `failed` ' +
    'instead of being sent. `quotas` sets its own send quotas (docs/sending.md "Send quotas"); ' +
    '`send_shards` how many send shards admit its messages (docs/sending.md "A provider that sends a lot"); ' +
    '`sandbox` whether its messages are simulated rather than sent (docs/sending.md "Sandbox").',
  request: {
    ...idParam,
    body: jsonBody(ProviderChanges, { quotas: { per_minute: 120, per_day: null } }),
  },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 415) },
})

providers.openapi(change, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const { quotas, send_shards: sendShards, ...changes } = c.req.valid('json')
  const changed = [
    ...Object.keys(changes),
    ...(quotas ? ['quotas'] : []),
    ...(sendShards ? ['send_shards'] : []),
  ]
  auditAs(c, 'provider.update', provider.id, {
    changed,
    ...(quotas ? { quotas } : {}),
    ...(sendShards ? { send_shards: sendShards } : {}),
  })
  await changeProvider(clientRecordDeps(c), provider, {
    ...changes,
    ...(sendShards ? { sendShards } : {}),
    ...(quotas
      ? {
          quotas: {
            ...(quotas.per_minute !== undefined ? { perMinute: quotas.per_minute } : {}),
            ...(quotas.per_day !== undefined ? { perDay: quotas.per_day } : {}),
            ...(quotas.per_destination_hour !== undefined
              ? { perDestinationHour: quotas.per_destination_hour }
              : {}),
          },
        }
      : {}),
  })
  return c.body(null, 204)
})

const remove = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}',
  operationId: 'deleteProvider',
  summary: 'Delete a provider (409 while it has clients, unless ?cascade=true)',
  request: { ...idParam, query: Cascade },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 409) },
})

providers.openapi(remove, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const cascade = c.req.valid('query').cascade === 'true'
  auditAs(c, 'provider.delete', provider.id, { cascade })
  await removeProvider(clientRecordDeps(c), provider, cascade)
  // A provider created again under this id starts with fresh quotas and keys.
  const several = Array.from(
    { length: provider.sendShards > 1 ? provider.sendShards : 0 },
    (_, i) => i,
  )
  await Promise.all([null, ...several].map((index) => sendShardOf(c, provider.id, index).forget()))
  return c.body(null, 204)
})

// Subscriptions: enabling a service for a provider issues the service_token /Services checks.

export const NewSubscription = z.strictObject({
  service_id: z.number({ error: 'service_id must be an integer' }).int().positive(),
})

const subscribe = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/subscriptions',
  operationId: 'createSubscription',
  summary: 'Subscribe a provider to a service (issues its service_token)',
  request: { ...idParam, body: jsonBody(NewSubscription, { service_id: 1 }) },
  responses: {
    201: newResource('Created.', SubscriptionView),
    ...problems(400, 401, 403, 404, 409, 415),
  },
})

providers.openapi(subscribe, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
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
  operationId: 'listProviderSubscriptions',
  summary: "List a provider's subscriptions",
  request: { ...idParam, query: SubscriptionPageQuery },
  responses: { 200: json('A page.', SubscriptionPage), ...problems(400, 401, 403, 404) },
})

providers.openapi(listSubscriptionsOf, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const { limit, cursor } = c.req.valid('query')
  const page = await subscriptionPage(c.env.DB, provider.id, limit, cursor, new URL(c.req.url))
  return c.json(page)
})

// A provider's directory, read only: its recipients as its own GET /recipients lists them.

const listRecipientsOf = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/recipients',
  operationId: 'listProviderRecipients',
  summary: "List a provider's recipients (read only)",
  description:
    "The provider's directory as its own `GET /recipients` lists it, by `user_id`. Only the " +
    'provider changes it, with its own token.',
  request: { ...idParam, query: RecipientPageQuery },
  responses: { 200: json('A page.', RecipientPage), ...problems(400, 401, 403, 404) },
})

providers.openapi(listRecipientsOf, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const { limit, cursor } = c.req.valid('query')
  const page = await recipientPage(c.env.DB, provider.id, limit, cursor, new URL(c.req.url))
  c.header('cache-control', 'no-store')
  return c.json(page)
})

const rotate = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/subscriptions/{serviceId}/token',
  operationId: 'rotateServiceToken',
  summary: "Rotate a subscription's service_token",
  request: subscriptionParams,
  responses: {
    200: json('The subscription with its new token.', SubscriptionView),
    ...problems(401, 403, 404),
  },
})

providers.openapi(rotate, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const serviceId = Number(c.req.valid('param').serviceId)
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
  operationId: 'deleteSubscription',
  summary: 'Revoke a subscription',
  request: subscriptionParams,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

providers.openapi(unsubscribe, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const serviceId = Number(c.req.valid('param').serviceId)
  auditAs(c, 'subscription.revoke', provider.id, { service_id: serviceId })
  if (!(await revokeSubscription(c.env.DB, provider.id, serviceId))) {
    throw notFound(`Provider ${provider.id} has no subscription to service ${serviceId}.`)
  }
  return c.body(null, 204)
})

// The suppression list (docs/sending.md "Suppression list"): numbers none of this provider's SMS may go to.

const Phone = z
  .string({ error: 'phone is required' })
  .regex(E164, 'phone must be an E.164 number such as +5491155550000')
export const NewSuppression = z.strictObject({ phone: Phone })

/** The audit log names the number as the status view shows one: its country code and last four. */
const masked = (phone: string) =>
  `${phone.slice(0, 3)}${'•'.repeat(phone.length - 7)}${phone.slice(-4)}`

function suppressionView(s: Suppression) {
  return {
    phone: s.phone,
    source: s.source,
    all_providers: s.providerId === null,
    created_at: s.createdAt,
  }
}

const phoneParams = {
  params: z.object({
    id: ProviderIdPath,
    phone: PhonePath('The number is not suppressed for this provider.').meta({
      description: 'The E.164 number, in any spelling of it (URL-encoded: %2B for +).',
    }),
  }),
}

const listSuppressionsOf = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/suppressions',
  operationId: 'listSuppressions',
  summary: 'List the numbers suppressed for a provider',
  description:
    "Its own (an operator's), those of every provider (STOP replies to the shared sender " +
    "number, the SMS API's error 21610), and its recipients who opted out of SMS in the " +
    'directory: /Services refuses each with 400 `recipient_suppressed`.',
  request: { ...idParam, query: SuppressionPageQuery },
  responses: { 200: json('A page.', SuppressionPage), ...problems(400, 401, 403, 404) },
})

/** A page's key: phone, source and scope, which order the list. */
const suppressionKey = (s: Suppression) => JSON.stringify([s.phone, s.source, s.providerId ?? '0'])

providers.openapi(listSuppressionsOf, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const { limit, cursor } = c.req.valid('query')
  const rows = await listSuppressions(c.env.DB, provider.id, {
    after: cursor,
    limit: limit + 1,
  })
  c.header('cache-control', 'no-store')
  return c.json(toPage(rows, limit, suppressionKey, suppressionView, new URL(c.req.url)))
})

const suppress = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/suppressions',
  operationId: 'createSuppression',
  summary: 'Suppress a number for a provider',
  description:
    'The number is kept in its canonical form (docs/sending.md "Phone numbers"): `+4407700900123` is ' +
    'suppressed, listed and lifted as `+447700900123`, and /Services refuses both spellings.',
  request: { ...idParam, body: jsonBody(NewSuppression, { phone: '+5491155550000' }) },
  responses: {
    201: newResource('Suppressed.', SuppressionView),
    ...problems(400, 401, 403, 404, 409, 415),
  },
})

providers.openapi(suppress, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const { phone } = c.req.valid('json')
  auditAs(c, 'suppression.create', provider.id, { phone: masked(phone) })
  const suppression = await suppressNumber(c.env.DB, provider.id, phone)
  const path = `/admin/providers/${provider.id}/suppressions/${encodeURIComponent(suppression.phone)}`
  c.header('location', path)
  return c.json(suppressionView(suppression), 201)
})

const unsuppress = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}/suppressions/{phone}',
  operationId: 'deleteSuppression',
  summary: "Lift an operator's suppression of a number",
  description:
    "Only an operator's own: a STOP is lifted by the recipient replying START, and a " +
    "recipient's opt-out through /recipients (409 `conflict` says which).",
  request: phoneParams,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404, 409) },
})

providers.openapi(unsuppress, async (c) => {
  const provider = await requireProvider(c.env.DB, c.req.valid('param').id)
  const { phone } = c.req.valid('param')
  auditAs(c, 'suppression.delete', provider.id, { phone: masked(phone) })
  await liftSuppression(c.env.DB, provider.id, phone)
  return c.body(null, 204)
})
