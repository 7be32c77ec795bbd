// /recipients: a provider's directory of end users (decisions.md D13), managed with its own token.
import type { Context } from 'hono'
import * as z from 'zod'
import type { AppEnv } from '../http/app-env.ts'
import { AppError, conflict } from '../errors.ts'
import {
  RecipientQuietHoursSchema,
  TimeZone,
  toQuietHoursRule,
} from '../domain/dispatch-request.ts'
import { SCOPES } from '../domain/scopes.ts'
import { requireScope } from '../http/auth.ts'
import { refreshSendFacts } from '../http/send-facts.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import {
  noRecipient,
  RecipientPageQuery,
  recipientPage,
  recipientView,
  UserId,
  UserIdPath,
} from '../http/recipients.ts'
import {
  newResource,
  json,
  jsonBody,
  NO_CONTENT,
  problems,
  SECURITY,
} from '../openapi/operations.ts'
import { Recipient as RecipientView, RecipientPage } from '../openapi/responses.ts'
import {
  deleteRecipient,
  findRecipient,
  insertRecipient,
  updateRecipient,
  type RecipientFields,
} from '../storage/recipients.ts'
import { E164 } from '../utils/e164.ts'

export const recipients = new OpenApiApp()

export const MAX_FCM_TOKENS = 10

const Phone = z
  .string({ error: 'phone must be a string or null' })
  .regex(E164, 'phone must be an E.164 number such as +5491155550000')
  .nullable()
  .meta({
    description:
      'E.164, stored in its canonical form (docs/sending.md "Phone numbers"): +4407700900123 is kept ' +
      'as +447700900123.',
  })
const FcmTokens = z
  .array(z.string().min(1).max(4096), { error: 'fcm_tokens must be an array of strings' })
  .max(MAX_FCM_TOKENS, `at most ${MAX_FCM_TOKENS} FCM tokens`)
  .transform((tokens) => [...new Set(tokens)])
const OptOut = (name: string) => z.boolean({ error: `${name} must be true or false` })
const RecipientZone = TimeZone.nullable().meta({
  description:
    'An IANA time zone (`Europe/Madrid`): quiet hours are read on its wall clock ' +
    '(docs/sending.md "Scheduled sends and quiet hours"); null: unknown.',
})
const QuietHours = RecipientQuietHoursSchema.nullable()
const WhatsAppOptIn = z.boolean({ error: 'whatsapp_opt_in must be true or false' }).meta({
  description:
    'The recipient agreed to receive WhatsApp messages (WhatsApp requires it): recorded with ' +
    'its time, kept while true; false withdraws it. No WhatsApp message goes without it.',
})

export const RecipientBody = z.strictObject({
  phone: Phone.default(null),
  fcm_tokens: FcmTokens.default([]),
  sms_opt_out: OptOut('sms_opt_out').default(false),
  fcm_opt_out: OptOut('fcm_opt_out').default(false),
  time_zone: RecipientZone.default(null),
  quiet_hours: QuietHours.default(null),
  whatsapp_opt_in: WhatsAppOptIn.default(false),
})

export const RecipientPatch = z.strictObject({
  phone: Phone.optional(),
  fcm_tokens: FcmTokens.optional(),
  sms_opt_out: OptOut('sms_opt_out').optional(),
  fcm_opt_out: OptOut('fcm_opt_out').optional(),
  time_zone: RecipientZone.optional(),
  quiet_hours: QuietHours.optional(),
  whatsapp_opt_in: WhatsAppOptIn.optional(),
})

export const NewRecipient = RecipientBody.extend({ user_id: UserId })

function toFields(body: z.output<typeof RecipientBody>): RecipientFields {
  return {
    phone: body.phone,
    fcmTokens: body.fcm_tokens,
    smsOptOut: body.sms_opt_out,
    fcmOptOut: body.fcm_opt_out,
    timeZone: body.time_zone,
    quietHours: body.quiet_hours && toQuietHoursRule(body.quiet_hours),
    whatsappOptIn: body.whatsapp_opt_in,
  }
}

/** The provider whose directory this token manages; operator tokens have none. */
function providerOf(c: Context<AppEnv>): string {
  const { providerId } = c.get('auth')
  if (!providerId) throw new AppError('forbidden', 'This token does not belong to a provider.')
  return providerId
}

function notFound(userId: string): AppError {
  return new AppError('not_found', noRecipient(userId))
}

const location = (userId: string) => `/recipients/${encodeURIComponent(userId)}`

// A write reaches the send shards' copies before the answer (decisions.md D48).
recipients.use('*', requireScope(SCOPES.recipients), refreshSendFacts())

const tags = ['Recipients']
const userIdParam = { params: z.object({ userId: UserIdPath }) }

const add = createRoute({
  method: 'post',
  path: '/',
  operationId: 'createRecipient',
  tags,
  summary: 'Add a recipient',
  security: SECURITY.bearer,
  request: {
    body: jsonBody(NewRecipient, {
      user_id: 'paciente-42',
      phone: '+5491155550000',
      fcm_tokens: [],
    }),
  },
  responses: {
    201: newResource('Created.', RecipientView),
    ...problems(400, 401, 403, 409, 413, 415),
  },
})

recipients.openapi(add, async (c) => {
  const body = c.req.valid('json')
  if (!(await insertRecipient(c.env.DB, providerOf(c), body.user_id, toFields(body)))) {
    throw conflict(`Recipient "${body.user_id}" already exists; use PUT ${location(body.user_id)}.`)
  }
  const created = await findRecipient(c.env.DB, providerOf(c), body.user_id)
  c.header('location', location(body.user_id))
  return c.json(recipientView(created!), 201)
})

const list = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listRecipients',
  tags,
  summary: 'List recipients',
  security: SECURITY.bearer,
  request: { query: RecipientPageQuery },
  responses: { 200: json('A page.', RecipientPage), ...problems(400, 401, 403) },
})

recipients.openapi(list, async (c) => {
  const { limit, cursor } = c.req.valid('query')
  return c.json(await recipientPage(c.env.DB, providerOf(c), limit, cursor, new URL(c.req.url)))
})

const read = createRoute({
  method: 'get',
  path: '/{userId}',
  operationId: 'getRecipient',
  tags,
  summary: 'Read a recipient',
  security: SECURITY.bearer,
  request: userIdParam,
  responses: { 200: json('The recipient.', RecipientView), ...problems(401, 403, 404) },
})

recipients.openapi(read, async (c) => {
  const { userId } = c.req.valid('param')
  const recipient = await findRecipient(c.env.DB, providerOf(c), userId)
  if (!recipient) throw notFound(userId)
  return c.json(recipientView(recipient))
})

// PUT replaces every field (absent ones take their defaults); PATCH changes only those sent.
const replace = createRoute({
  method: 'put',
  path: '/{userId}',
  operationId: 'replaceRecipient',
  tags,
  summary: 'Replace a recipient',
  security: SECURITY.bearer,
  request: { ...userIdParam, body: jsonBody(RecipientBody) },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 415) },
})

recipients.openapi(replace, async (c) => {
  const { userId } = c.req.valid('param')
  if (!(await updateRecipient(c.env.DB, providerOf(c), userId, toFields(c.req.valid('json')))))
    throw notFound(userId)
  return c.body(null, 204)
})

const change = createRoute({
  method: 'patch',
  path: '/{userId}',
  operationId: 'updateRecipient',
  tags,
  summary: 'Change a recipient',
  security: SECURITY.bearer,
  request: { ...userIdParam, body: jsonBody(RecipientPatch, { sms_opt_out: true }) },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 415) },
})

recipients.openapi(change, async (c) => {
  const { userId } = c.req.valid('param')
  const current = await findRecipient(c.env.DB, providerOf(c), userId)
  if (!current) throw notFound(userId)
  const patch = c.req.valid('json')
  const fields: RecipientFields = {
    phone: patch.phone === undefined ? current.phone : patch.phone,
    fcmTokens: patch.fcm_tokens ?? current.fcmTokens,
    smsOptOut: patch.sms_opt_out ?? current.smsOptOut,
    fcmOptOut: patch.fcm_opt_out ?? current.fcmOptOut,
    timeZone: patch.time_zone === undefined ? current.timeZone : patch.time_zone,
    quietHours:
      patch.quiet_hours === undefined
        ? current.quietHours
        : patch.quiet_hours && toQuietHoursRule(patch.quiet_hours),
    whatsappOptIn: patch.whatsapp_opt_in ?? current.whatsappOptIn,
    // Tokens sent again are registered again (now); left out, they keep their times.
    ...(patch.fcm_tokens ? {} : { fcmTokenRegisteredAt: current.fcmTokenRegisteredAt }),
  }
  // Deleted between the read and the write: nothing was patched.
  if (!(await updateRecipient(c.env.DB, providerOf(c), userId, fields))) throw notFound(userId)
  return c.body(null, 204)
})

const remove = createRoute({
  method: 'delete',
  path: '/{userId}',
  operationId: 'deleteRecipient',
  tags,
  summary: 'Delete a recipient',
  security: SECURITY.bearer,
  request: userIdParam,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

recipients.openapi(remove, async (c) => {
  const { userId } = c.req.valid('param')
  if (!(await deleteRecipient(c.env.DB, providerOf(c), userId))) throw notFound(userId)
  return c.body(null, 204)
})
