// /admin/services: the service definitions /Services uses (document 001's service_id).
import * as z from 'zod'
import { conflict, notFound } from '../../errors.ts'
import {
  ChannelName,
  FallbackSchema,
  fallbackView,
  toFallbackRule,
  QuietHoursSchema,
  quietHoursView,
  toQuietHoursRule,
} from '../../domain/dispatch-request.ts'
import { auditAs } from '../../http/audit.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { toPage } from '../../http/paging.ts'
import { ServicePageQuery, serviceIdPath } from '../../http/path-params.ts'
import {
  json,
  jsonBody,
  MANAGEMENT,
  newResource,
  NO_CONTENT,
  problems,
} from '../../openapi/operations.ts'
import { Service as ServiceView, ServicePage } from '../../openapi/responses.ts'
import {
  deleteService,
  findServiceById,
  insertService,
  listServices,
  updateService,
  type NewService as StoredService,
  type Service,
  type ServiceChanges as StoredChanges,
} from '../../storage/services.ts'

export const services = new OpenApiApp()

const Fields = {
  name: z.string({ error: 'name is required' }).trim().min(1, 'name must not be empty').max(200),
  kind: z.string().trim().min(1).max(50),
  required_parameters: z
    .array(z.enum(['destination', 'notification', 'advertisement', 'qr_code']), {
      error: 'required_parameters lists destination, notification, advertisement or qr_code',
    })
    .max(4)
    .transform((p) => [...new Set(p)]),
  allowed_channels: z
    .array(ChannelName, { error: 'allowed_channels lists sms, fcm or whatsapp' })
    .min(1, 'allow at least one channel')
    .transform((c) => [...new Set(c)]),
  enabled: z.boolean({ error: 'enabled must be true or false' }),
  direct_numbers: z.boolean({ error: 'direct_numbers must be true or false' }).meta({
    description:
      'Whether /Services may send SMS to an E.164 number outside the recipients directory ' +
      '(default false: recipients of the directory only).',
  }),
  direct_number_country_codes: z
    .array(
      z.string().regex(/^[1-9]\d{0,2}$/, 'a country calling code is 1 to 3 digits, such as "54"'),
      { error: 'direct_number_country_codes lists country calling codes such as "54"' },
    )
    .min(1, 'list at least one country calling code, or send null for any')
    .max(50)
    .transform((codes) => [...new Set(codes)])
    .nullable()
    .meta({
      description:
        'The country calling codes (ITU-T E.164, without "+") direct numbers may have; null: any.',
    }),
  quiet_hours: QuietHoursSchema.nullable().meta({
    description:
      'The default quiet hours of the service\'s messages (docs/sending.md "Scheduled sends and ' +
      'quiet hours"), for a recipient and a request with none of their own; null: none.',
  }),
  fallback: FallbackSchema.nullable().meta({ description: "Its pushes' default; null: none." }),
}

export const NewService = z.strictObject({
  id: z
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1)
    .optional(),
  name: Fields.name,
  kind: Fields.kind.default('notification'),
  required_parameters: Fields.required_parameters.default(['destination']),
  allowed_channels: Fields.allowed_channels,
  enabled: Fields.enabled.default(true),
  direct_numbers: Fields.direct_numbers.default(false),
  direct_number_country_codes: Fields.direct_number_country_codes.default(null),
  quiet_hours: Fields.quiet_hours.default(null),
  fallback: Fields.fallback.default(null),
})

/** The API's field names as storage has them, for a create and for a change alike. */
function serviceFields(body: z.infer<typeof NewService>): Omit<StoredService, 'id'>
function serviceFields(body: z.infer<typeof ServiceChanges>): StoredChanges
function serviceFields(body: z.infer<typeof ServiceChanges>): StoredChanges {
  return {
    name: body.name,
    kind: body.kind,
    requiredParameters: body.required_parameters,
    allowedChannels: body.allowed_channels,
    enabled: body.enabled,
    directNumbers: body.direct_numbers,
    directNumberCountryCodes: body.direct_number_country_codes,
    quietHours: body.quiet_hours && toQuietHoursRule(body.quiet_hours),
    fallback: body.fallback && toFallbackRule(body.fallback, 'fallback'),
  }
}

export const ServiceChanges = z
  .strictObject({
    name: Fields.name.optional(),
    kind: Fields.kind.optional(),
    required_parameters: Fields.required_parameters.optional(),
    allowed_channels: Fields.allowed_channels.optional(),
    enabled: Fields.enabled.optional(),
    direct_numbers: Fields.direct_numbers.optional(),
    direct_number_country_codes: Fields.direct_number_country_codes.optional(),
    quiet_hours: Fields.quiet_hours.optional(),
    fallback: Fields.fallback.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'send at least one field to change')

function view(s: Service) {
  return {
    id: s.id,
    name: s.name,
    kind: s.kind,
    required_parameters: s.requiredParameters,
    allowed_channels: s.allowedChannels,
    enabled: s.enabled,
    direct_numbers: s.directNumbers,
    direct_number_country_codes: s.directNumberCountryCodes,
    quiet_hours: quietHoursView(s.quietHours),
    fallback: fallbackView(s.fallback),
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  }
}

const idParam = { params: z.object({ id: serviceIdPath((raw) => `No service ${raw}.`) }) }

const create = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/',
  operationId: 'createService',
  summary: 'Define a service',
  request: {
    body: jsonBody(NewService, { id: 2, name: 'Publicidad', allowed_channels: ['sms', 'fcm'] }),
  },
  responses: {
    201: newResource('Created.', ServiceView),
    ...problems(400, 401, 403, 409, 415),
  },
})

services.openapi(create, async (c) => {
  const body = c.req.valid('json')
  // Named before the insert, so a refused create (409) is audited against the id it asked for.
  auditAs(c, 'service.create', body.id === undefined ? undefined : String(body.id))
  const id = await insertService(c.env.DB, { id: body.id, ...serviceFields(body) })
  if (id === null) {
    throw conflict(`A service with id ${body.id} or name "${body.name}" already exists.`)
  }
  auditAs(c, 'service.create', String(id))
  c.header('location', `/admin/services/${id}`)
  return c.json(view((await findServiceById(c.env.DB, id))!), 201)
})

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/',
  operationId: 'listServices',
  summary: 'List services',
  request: { query: ServicePageQuery },
  responses: { 200: json('A page.', ServicePage), ...problems(400, 401, 403) },
})

services.openapi(list, async (c) => {
  // A cursor that is not a service id is the caller's mistake (400), not a missing resource.
  const { limit, cursor } = c.req.valid('query')
  const rows = await listServices(c.env.DB, { after: cursor, limit: limit + 1 })
  return c.json(toPage(rows, limit, (s) => String(s.id), view, new URL(c.req.url)))
})

const read = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}',
  operationId: 'getService',
  summary: 'Read a service',
  request: idParam,
  responses: { 200: json('The service.', ServiceView), ...problems(401, 403, 404) },
})

services.openapi(read, async (c) => {
  const service = await findServiceById(c.env.DB, Number(c.req.valid('param').id))
  if (!service) throw notFound(`No service ${c.req.valid('param').id}.`)
  return c.json(view(service))
})

const change = createRoute({
  ...MANAGEMENT,
  method: 'patch',
  path: '/{id}',
  operationId: 'updateService',
  summary: 'Change a service',
  description:
    'Disabling a service makes /Services refuse it, and its deliveries still queued are marked ' +
    '`failed` instead of being sent.',
  request: {
    ...idParam,
    body: jsonBody(ServiceChanges, { direct_numbers: true, direct_number_country_codes: ['54'] }),
  },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 409, 415) },
})

services.openapi(change, async (c) => {
  const id = Number(c.req.valid('param').id)
  const body = c.req.valid('json')
  auditAs(c, 'service.update', String(id), { changed: Object.keys(body) })
  const outcome = await updateService(c.env.DB, id, serviceFields(body))
  if (outcome === 'not_found') throw notFound(`No service ${id}.`)
  // Only a new name can conflict.
  if (outcome === 'conflict') throw conflict(`A service named "${body.name}" already exists.`)
  return c.body(null, 204)
})

const remove = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}',
  operationId: 'deleteService',
  summary: 'Delete a service (409 while subscribed)',
  request: idParam,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404, 409) },
})

services.openapi(remove, async (c) => {
  const id = Number(c.req.valid('param').id)
  auditAs(c, 'service.delete', String(id))
  const outcome = await deleteService(c.env.DB, id)
  if (outcome === 'not_found') throw notFound(`No service ${id}.`)
  if (outcome === 'in_use') {
    throw conflict(`Service ${id} has subscriptions (revoked ones too); disable it instead.`)
  }
  return c.body(null, 204)
})
