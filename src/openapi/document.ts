// The OpenAPI 3.1 description of Portero, built from the zod schemas that validate requests (and
// those of src/openapi/responses.ts for answers). Served at GET /openapi.json.
import { z } from 'zod'
import { ERROR_CODES } from '../errors.ts'
import { PARAMETER_FIELDS, PART_FIELDS, ServicesRequestSchema } from '../domain/dispatch-request.ts'
import { BridgeLogin, YativoLogin } from '../http/dialect.ts'
import { PageQuery } from '../http/paging.ts'
import { TokenRequest } from '../routes/oauth.ts'
import { TokenForm } from '../routes/introspection.ts'
import { NewRecipient, RecipientBody, RecipientPatch } from '../routes/recipients.ts'
import { NewProvider, NewSubscription, ProviderChanges } from '../routes/admin/providers.ts'
import { ClientChanges, ClientListQuery, NewClient, Rotation } from '../routes/admin/clients.ts'
import { NewService, ServiceChanges } from '../routes/admin/services.ts'
import { AuditQuery } from '../routes/admin/audit.ts'
import { AddressQuery } from '../routes/admin/login-locks.ts'
import * as R from './responses.ts'
import { EXAMPLES } from './examples.ts'

type Schema = Record<string, unknown>
type Json = { schema: z.ZodType; example?: unknown; examples?: Record<string, { summary: string; value: unknown }> }

type Operation = {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete'
  /** Hono's path (`:id`); turned into OpenAPI's `{id}`. */
  path: string
  tag: string
  summary: string
  description?: string
  security: ('bearer' | 'accessToken' | 'basic' | 'clientSecretPost' | 'none')[]
  query?: z.ZodObject
  body?: Record<string, Json>
  responses: Record<number, { description: string; body?: Json; headers?: string[]; mediaType?: string }>
}

const REF = (id: string) => `#/components/schemas/${id}`

/** JSON Schema of a zod schema: a $ref when it is a named component, inline otherwise. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Schema {
  const id = z.globalRegistry.get(schema)?.id
  if (id) return { $ref: REF(id) }
  const { $schema: _, $defs: __, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Schema
  // Named schemas nested inside are components of the document, not local $defs.
  return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/')) as Schema
}

function content(media: Record<string, Json>, io: 'input' | 'output') {
  return Object.fromEntries(
    Object.entries(media).map(([type, { schema, example, examples }]) => [
      type,
      { schema: documented(schema, io), ...(example === undefined ? {} : { example }), ...(examples ? { examples } : {}) },
    ]),
  )
}

function documented(schema: z.ZodType, io: 'input' | 'output'): Schema {
  const json = schemaOf(schema, io)
  if (schema !== ServicesRequestSchema) return json
  // /Services also takes document 001's spellings of its field names: list them as properties.
  const parameters = (json.properties as Record<string, Schema>).parameters!
  withAliases(parameters, PARAMETER_FIELDS)
  const parts = parameters.properties as Record<string, Schema>
  for (const part of ['notification', 'advertisement']) withAliases(parts[part]!, PART_FIELDS)
  return json
}

/**
 * Adds each alias as a property documented like its canonical name, and requires the canonical
 * name or any alias of it. (Names are also matched case-insensitively, which JSON Schema cannot say.)
 */
function withAliases(object: Schema, aliases: Record<string, string>): void {
  const properties = object.properties as Record<string, Schema>
  for (const [alias, canonical] of Object.entries(aliases)) {
    if (alias === canonical || !properties[canonical]) continue
    properties[alias] = { ...properties[canonical], description: `Document 001's spelling of \`${canonical}\`.` }
  }
  const required = (object.required as string[] | undefined) ?? []
  delete object.required
  if (required.length === 0) return
  object.allOf = required.map((name) => ({
    anyOf: [name, ...Object.keys(aliases).filter((a) => aliases[a] === name && a !== name)].map((n) => ({
      required: [n],
    })),
  }))
}

const problem = (description: string): { description: string; body: Json } => ({
  description,
  body: { schema: R.Problem },
})
const json = (schema: z.ZodType, example?: unknown): Record<string, Json> => ({
  'application/json': { schema, ...(example === undefined ? {} : { example }) },
})
const form = (schema: z.ZodType, example?: unknown): Record<string, Json> => ({
  'application/x-www-form-urlencoded': { schema, ...(example === undefined ? {} : { example }) },
})

const COMMON = {
  400: problem('Invalid input: `code` says what, `errors` lists the fields.'),
  401: problem('No valid token or credentials (`WWW-Authenticate` says how to authenticate): `token_missing`, `token_expired`, `invalid_token` (malformed, a claim missing or malformed, revoked, or, on Portero\'s own API, not issued for it), `invalid_client`.'),
  403: problem('Authenticated, but not allowed (`insufficient_scope` or `forbidden`).'),
  404: problem('No such resource.'),
  409: problem('Conflicts with an existing resource.'),
  413: problem('The body is larger than this route accepts: 4 KiB on /auth/login and /oauth/token, 1.5 MiB on /Services (once the token is checked; nothing is read before), 16 KiB elsewhere.'),
  415: problem('The body has a content type this endpoint does not accept.'),
  429: problem('Too many failed attempts from this address, by this client or in all: wrong secrets, tokens that are not Portero\'s, revocations of nothing (`Retry-After`).'),
  431: problem('The request headers are larger than 16 KiB in all (`headers_too_large`).'),
}

const pick = (...codes: (keyof typeof COMMON)[]) => Object.fromEntries(codes.map((c) => [c, COMMON[c]]))
const noContent = { description: 'Done; no body.' }
const created = (description: string, schema: z.ZodType, example?: unknown) => ({
  description,
  body: { schema, ...(example === undefined ? {} : { example }) },
  headers: ['Location'],
})

export const OPERATIONS: Operation[] = [
  {
    method: 'get', path: '/healthz', tag: 'Service', summary: 'Liveness', security: ['none'],
    responses: { 200: { description: 'Alive.', body: { schema: R.Health } } },
  },
  {
    method: 'get', path: '/openapi.json', tag: 'Service', summary: 'This description', security: ['none'],
    responses: { 200: { description: 'OpenAPI 3.1.', body: { schema: z.record(z.string(), z.unknown()) } } },
  },
  {
    method: 'get', path: '/docs', tag: 'Service', summary: 'Interactive API reference', security: ['none'],
    description: 'Swagger UI on `/openapi.json`; its scripts and styles come from this origin only.',
    responses: { 200: { description: 'The HTML page.', mediaType: 'text/html', body: { schema: z.string() } } },
  },
  {
    method: 'post', path: '/auth/login', tag: 'Tokens', security: ['none'],
    summary: 'Log in with client credentials (Bridge or Yativo dialect)',
    description:
      'The field names pick the answer: `{clientId, clientSecret}` (document 003) answers `{ack, token, expires_in}`, `{account_id, app_secret}` (document 002) answers `{status, status_code, message, data}`. Errors keep each dialect\'s members (`ack`; `status_code`, `message`). A body with fields of both dialects is ambiguous: 400 `invalid_request`.',
    body: {
      'application/json': {
        schema: z.union([BridgeLogin, YativoLogin]),
        examples: { bridge: EXAMPLES.bridgeLogin, yativo: EXAMPLES.yativoLogin },
      },
    },
    responses: {
      200: {
        description: 'A token, in the dialect of the request.',
        body: { schema: z.union([R.BridgeLoginResponse, R.YativoLoginResponse]) },
      },
      ...pick(400, 401, 413, 415, 429),
    },
  },
  {
    method: 'post', path: '/oauth/token', tag: 'Tokens', security: ['basic', 'clientSecretPost'],
    summary: 'OAuth 2.0 client credentials grant (RFC 6749 §4.4)',
    body: form(TokenRequest, { grant_type: 'client_credentials', scope: 'services:send' }),
    responses: {
      200: { description: 'The access token (`Cache-Control: no-store`).', body: { schema: R.TokenResponse } },
      ...pick(400, 401, 413, 415, 429),
    },
  },
  {
    method: 'post', path: '/auth/me', tag: 'Tokens', security: ['accessToken', 'bearer'],
    summary: 'Is this token valid? (document 003)',
    description: 'The token in `x-access-token` (document 003) or `Authorization: Bearer`. Errors carry Bridge `ack` codes: 896 missing, 898 malformed or invalid, 897 expired.',
    responses: { 200: { description: 'Valid: its claims.', body: { schema: R.MeResponse } }, ...pick(400, 401) },
  },
  ...(['/mcg/v1/tokeninfo', '/oauth/introspect'] as const).map(
    (path): Operation => ({
      method: 'post', path, tag: 'Tokens', security: ['bearer', 'basic', 'clientSecretPost'],
      summary: path === '/oauth/introspect' ? 'Token introspection (RFC 7662)' : 'Token introspection (document 001)',
      description:
        'The caller needs `tokens:introspect`. It sees the claims only of a token issued to it, naming it in `aud`, or with `tokens:introspect:any`; any other answer is exactly `{"active": false}`. A `token` that is not one Portero signed (malformed, bad signature) counts as a failed attempt of the caller from its address, as a wrong secret does: over the limit, 429.',
      body: form(TokenForm, EXAMPLES.tokeninfo),
      responses: {
        200: { description: 'The token\'s state as this caller may see it.', body: { schema: R.IntrospectionResponse } },
        ...pick(400, 401, 403, 413, 415, 429),
      },
    }),
  ),
  {
    method: 'post', path: '/oauth/revoke', tag: 'Tokens', security: ['basic', 'clientSecretPost'],
    summary: 'Revoke a token (RFC 7009)',
    description: '200 whether or not there was anything to revoke; only the owning client\'s tokens are revoked. Revoking nothing (not a token of Portero\'s, or another client\'s) counts as a failed attempt of the client from its address: over the limit, 429.',
    body: form(TokenForm),
    responses: { 200: { description: 'Done (empty body).' }, ...pick(400, 401, 413, 415, 429) },
  },
  {
    method: 'get', path: '/.well-known/jwks.json', tag: 'Discovery', security: ['none'],
    summary: 'Public signing keys (RFC 7517)',
    responses: { 200: { description: 'The key set.', body: { schema: R.Jwks } } },
  },
  {
    method: 'get', path: '/.well-known/oauth-authorization-server', tag: 'Discovery', security: ['none'],
    summary: 'Authorization server metadata (RFC 8414)',
    responses: { 200: { description: 'The metadata.', body: { schema: R.Metadata } } },
  },
  {
    method: 'post', path: '/Services', tag: 'Dispatch', security: ['bearer'],
    summary: 'Send a notification or advertisement (document 001)',
    description:
      "Needs `services:send` and the token's own provider. Field names are matched case-insensitively and document 001's spellings are accepted (`titulo`, `Tittle`, `Titre` for title; `mensaje` for message; `canal`, `Cannel` for channel). `channel`: SMS or FCM in any case, or the codes 1 and 2, with no surrounding spaces. A part's `picture` (PNG, JPEG, GIF or WebP, at most 1 MiB, 4096 pixels a side and 16 megapixels) is published at an unguessable URL and sent as the FCM image or the MMS media. A `qr_code` (a ticket or coupon) is drawn as a PNG and becomes the image of the notification, or else of the advertisement, which must not carry a picture of its own; its `label` is added to that part's message on a line of its own, within the 166 characters. Send `Idempotency-Key` to make retries safe.",
    body: {
      'application/json': { schema: ServicesRequestSchema, examples: { document001: EXAMPLES.services001, ticket: EXAMPLES.servicesTicket } },
    },
    responses: {
      200: { description: 'A replay of an earlier request with the same Idempotency-Key.', body: { schema: R.Message } },
      201: created('Accepted: written to the outbox; its deliveries are enqueued right after this response.', R.Message),
      ...pick(400, 401, 403, 409, 413, 415),
      501: problem('`channel_not_configured`: this deployment has no credentials for that channel. A lasting state, not a transient one: do not retry.'),
    },
  },
  {
    method: 'get', path: '/Services/messages/:id', tag: 'Dispatch', security: ['bearer'],
    summary: 'Delivery status of a message',
    responses: { 200: { description: 'The message and its deliveries.', body: { schema: R.Message } }, ...pick(401, 403, 404) },
  },
  {
    method: 'get', path: '/pictures/:file', tag: 'Dispatch', security: ['none'],
    summary: 'A picture sent with a message',
    description:
      'The picture or QR code of a /Services part, at the URL sent to FCM (`notification.image`) or Twilio (`MediaUrl`): `{id}.{ext}`, where the id is an HMAC of the content, so the URL cannot be guessed from a known image. Served with `Cache-Control: public, immutable` until it expires (30 days, or a QR code\'s `expires_at`).',
    responses: {
      200: { description: 'The image bytes (PNG, JPEG, GIF or WebP).', mediaType: 'image/*', body: { schema: z.string().meta({ format: 'binary' }) } },
      ...pick(404),
    },
  },
  {
    method: 'post', path: '/recipients', tag: 'Recipients', security: ['bearer'], summary: 'Add a recipient',
    body: json(NewRecipient, { user_id: 'paciente-42', phone: '+5491155550000', fcm_tokens: [] }),
    responses: { 201: created('Created.', R.Recipient), ...pick(400, 401, 403, 409, 413, 415) },
  },
  {
    method: 'get', path: '/recipients', tag: 'Recipients', security: ['bearer'], summary: 'List recipients',
    query: PageQuery,
    responses: { 200: { description: 'A page.', body: { schema: R.page(R.Recipient, 'RecipientPage') } }, ...pick(400, 401, 403) },
  },
  {
    method: 'get', path: '/recipients/:userId', tag: 'Recipients', security: ['bearer'], summary: 'Read a recipient',
    responses: { 200: { description: 'The recipient.', body: { schema: R.Recipient } }, ...pick(401, 403, 404) },
  },
  {
    method: 'put', path: '/recipients/:userId', tag: 'Recipients', security: ['bearer'], summary: 'Replace a recipient',
    body: json(RecipientBody), responses: { 204: noContent, ...pick(400, 401, 403, 404, 415) },
  },
  {
    method: 'patch', path: '/recipients/:userId', tag: 'Recipients', security: ['bearer'], summary: 'Change a recipient',
    body: json(RecipientPatch, { sms_opt_out: true }), responses: { 204: noContent, ...pick(400, 401, 403, 404, 415) },
  },
  {
    method: 'delete', path: '/recipients/:userId', tag: 'Recipients', security: ['bearer'], summary: 'Delete a recipient',
    responses: { 204: noContent, ...pick(401, 403, 404) },
  },
  {
    method: 'get', path: '/subscriptions', tag: 'Dispatch', security: ['bearer'],
    summary: "The provider's subscriptions and service tokens", query: PageQuery,
    responses: { 200: { description: 'A page.', body: { schema: R.page(R.Subscription, 'SubscriptionPage') } }, ...pick(400, 401, 403) },
  },
  ...adminOperations(),
]

function adminOperations(): Operation[] {
  const admin = (op: Omit<Operation, 'security' | 'tag'> & { tag?: string }): Operation => ({
    tag: 'Management',
    security: ['bearer'],
    ...op,
    responses: { ...op.responses, ...pick(401, 403) },
  })
  return [
    admin({ method: 'post', path: '/admin/providers', summary: 'Create a provider', body: json(NewProvider, { id: '2002', name: 'Autos usados CHECHO' }), responses: { 201: created('Created.', R.Provider), ...pick(400, 409, 415) } }),
    admin({ method: 'get', path: '/admin/providers', summary: 'List providers', query: PageQuery, responses: { 200: { description: 'A page.', body: { schema: R.page(R.Provider, 'ProviderPage') } }, ...pick(400) } }),
    admin({ method: 'get', path: '/admin/providers/:id', summary: 'Read a provider', responses: { 200: { description: 'The provider.', body: { schema: R.Provider } }, ...pick(404) } }),
    admin({ method: 'patch', path: '/admin/providers/:id', summary: 'Rename, disable or enable a provider', body: json(ProviderChanges, { status: 'disabled' }), responses: { 204: noContent, ...pick(400, 404, 415) } }),
    admin({ method: 'delete', path: '/admin/providers/:id', summary: 'Delete a provider (409 while it has clients, unless ?cascade=true)', query: z.object({ cascade: z.enum(['true', 'false']).optional() }), responses: { 204: noContent, ...pick(404, 409) } }),
    admin({ method: 'post', path: '/admin/providers/:id/subscriptions', summary: 'Subscribe a provider to a service (issues its service_token)', body: json(NewSubscription, { service_id: 1 }), responses: { 201: created('Created.', R.Subscription), ...pick(400, 404, 409, 415) } }),
    admin({ method: 'get', path: '/admin/providers/:id/subscriptions', summary: "List a provider's subscriptions", query: PageQuery, responses: { 200: { description: 'A page.', body: { schema: R.page(R.Subscription, 'SubscriptionPage') } }, ...pick(400, 404) } }),
    admin({ method: 'post', path: '/admin/providers/:id/subscriptions/:serviceId/token', summary: 'Rotate a subscription\'s service_token', responses: { 200: { description: 'The subscription with its new token.', body: { schema: R.Subscription } }, ...pick(404) } }),
    admin({ method: 'delete', path: '/admin/providers/:id/subscriptions/:serviceId', summary: 'Revoke a subscription', responses: { 204: noContent, ...pick(404) } }),
    admin({ method: 'post', path: '/admin/clients', summary: 'Create a client (its secret is in this answer only)', body: json(NewClient, { id: 'checho', provider_id: '2002', name: 'CHECHO backend', allowed_scopes: ['services:send'] }), responses: { 201: created('Created, with the secret.', R.ClientWithSecret), ...pick(400, 409, 415) } }),
    admin({ method: 'get', path: '/admin/clients', summary: 'List clients', query: ClientListQuery, responses: { 200: { description: 'A page.', body: { schema: R.page(R.Client, 'ClientPage') } }, ...pick(400) } }),
    admin({ method: 'get', path: '/admin/clients/:id', summary: 'Read a client (never its secret)', responses: { 200: { description: 'The client.', body: { schema: R.Client } }, ...pick(404) } }),
    admin({ method: 'patch', path: '/admin/clients/:id', summary: 'Change a client', description: 'Disabling the client, or taking away any of its scopes or audiences, ends every token it holds now (they carry the old rights); its next login gets a token with the new settings. Widening, renaming or a new lifetime leaves its tokens alone. Other Cloudflare locations see the change within about 60 s (KV).', body: json(ClientChanges, { status: 'disabled' }), responses: { 204: noContent, ...pick(400, 404, 409, 415) } }),
    admin({ method: 'post', path: '/admin/clients/:id/secret', summary: "Rotate a client's secret", body: json(Rotation, { grace_period_seconds: 3600, revoke_tokens: false }), responses: { 200: { description: 'The new secret (shown once).', body: { schema: R.RotatedSecret } }, ...pick(400, 404, 415) } }),
    admin({ method: 'delete', path: '/admin/clients/:id', summary: 'Delete a client (its tokens become inactive)', responses: { 204: noContent, ...pick(404) } }),
    admin({ method: 'delete', path: '/admin/clients/:id/login-locks', summary: "Lift a client's login locks, from every address", description: 'Failed attempts lock a client only from the address that made them, for 60 s (SECURITY.md). This lifts those locks now; failures later in the same minute may lock again.', responses: { 204: noContent, ...pick(404) } }),
    admin({ method: 'delete', path: '/admin/login-locks', summary: "Lift an address's login lock", description: 'Lifts the 60 s lock of an address (IPv6: of its /64) that failed too many attempts across clients; its locks for single clients run out on their own or are lifted per client.', query: AddressQuery, responses: { 204: noContent, ...pick(400) } }),
    admin({ method: 'post', path: '/admin/services', summary: 'Define a service', body: json(NewService, { id: 2, name: 'Publicidad', allowed_channels: ['sms', 'fcm'] }), responses: { 201: created('Created.', R.Service), ...pick(400, 409, 415) } }),
    admin({ method: 'get', path: '/admin/services', summary: 'List services', query: PageQuery, responses: { 200: { description: 'A page.', body: { schema: R.page(R.Service, 'ServicePage') } }, ...pick(400) } }),
    admin({ method: 'get', path: '/admin/services/:id', summary: 'Read a service', responses: { 200: { description: 'The service.', body: { schema: R.Service } }, ...pick(404) } }),
    admin({ method: 'patch', path: '/admin/services/:id', summary: 'Change a service', body: json(ServiceChanges, { enabled: false }), responses: { 204: noContent, ...pick(400, 404, 409, 415) } }),
    admin({ method: 'delete', path: '/admin/services/:id', summary: 'Delete a service (409 while subscribed)', responses: { 204: noContent, ...pick(404, 409) } }),
    admin({ method: 'get', path: '/admin/audit', summary: 'The audit log, newest first', description: 'Every issued token, revocation, failed login and admin change, newest first by `occurred_at`. Per-request events (`token.issued`, `token.revoked`, `login.failed`, `admin.refused`) are written in batches and appear a few seconds after the request. Failures alike in all but time and request id within one batch share one item: `count` says how many, `occurred_at` and `request_id` are the first one\'s, `last_occurred_at` the last one\'s. `since` and `until` compare with `occurred_at`. Events older than the deployment\'s retention (`AUDIT_RETENTION_DAYS`, 30 days by default) are deleted.', query: AuditQuery, responses: { 200: { description: 'A page.', body: { schema: R.page(R.AuditEvent, 'AuditPage') } }, ...pick(400) } }),
  ]
}

const SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A Portero access token (RFC 9068: `iss`, `sub` = `client_id`, `aud`, `scope`, `jti`, `iat`, `nbf`, `exp`, `provider_id`). On `/Services`, `/recipients`, `/subscriptions` and `/admin` its `aud` must name Portero\'s resource identifier (`API_RESOURCE`, else the issuer) exactly, or the answer is 401 `invalid_token`; introspection accepts a token for any audience.' },
  accessToken: { type: 'apiKey', in: 'header', name: 'x-access-token', description: 'Document 003: the token in x-access-token.' },
  basic: { type: 'http', scheme: 'basic', description: 'client_secret_basic: client id and secret (RFC 6749 §2.3.1).' },
  clientSecretPost: { type: 'apiKey', in: 'query', name: 'client_secret', description: 'client_secret_post: client_id and client_secret in the form body (not the query; OpenAPI has no way to say "form field").' },
} as const

const PARAMETER_DESCRIPTIONS: Record<string, string> = {
  id: 'The resource id.',
  userId: "The provider's id for the recipient (URL-encoded).",
  serviceId: 'The service id.',
}

function pathParameters(path: string) {
  return [...path.matchAll(/:(\w+)/g)].map(([, name]) => ({
    name: name!,
    in: 'path',
    required: true,
    description: PARAMETER_DESCRIPTIONS[name!],
    schema: { type: 'string' },
  }))
}

function queryParameters(query: z.ZodObject | undefined) {
  if (!query) return []
  const shape = schemaOf(query, 'input') as { properties?: Record<string, Schema>; required?: string[] }
  return Object.entries(shape.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: shape.required?.includes(name) ?? false,
    schema,
  }))
}

/** The whole document; `serverUrl` is this deployment's origin (the token issuer). */
export function buildOpenApiDocument(serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of OPERATIONS) {
    const openApiPath = op.path.replace(/:(\w+)/g, '{$1}')
    // OAuth endpoints answer errors as application/json: OAuth client libraries insist on it.
    const problemType = /^\/(oauth|mcg)\//.test(op.path) ? 'application/json' : 'application/problem+json'
    // Every route checks the headers' size before anything else (src/http/security.ts).
    const responses = Object.fromEntries(
      Object.entries<Operation['responses'][number]>({ ...op.responses, ...pick(431) }).map(([status, r]) => [
        status,
        {
          description: r.description,
          ...(r.headers ? { headers: Object.fromEntries(r.headers.map((h) => [h, { schema: { type: 'string' } }])) } : {}),
          ...(r.body
            ? {
                content: content(
                  { [r.mediaType ?? (r.body.schema === R.Problem ? problemType : 'application/json')]: r.body },
                  'output',
                ),
              }
            : {}),
        },
      ]),
    )
    const parameters = [...pathParameters(op.path), ...queryParameters(op.query)]
    paths[openApiPath] ??= {}
    paths[openApiPath]![op.method] = {
      operationId: `${op.method}${openApiPath.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      security: op.security.includes('none') ? [] : op.security.map((s) => ({ [s]: [] })),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: content(op.body, 'input') } } : {}),
      responses,
    }
  }
  const { schemas } = z.toJSONSchema(z.globalRegistry, { uri: REF, unrepresentable: 'any' }) as { schemas: Record<string, Schema> }
  // The `$id`s zod writes ("#/components/schemas/X") are fragment-only, which JSON Schema 2020-12
  // forbids; Swagger UI (GET /docs) then resolves no $ref and shows every example as "string".
  for (const schema of Object.values(schemas)) {
    delete schema.$schema
    delete schema.$id
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Portero',
      version: '1.0.0',
      description:
        'Edge token service and notification gateway. Errors are RFC 9457 problem details with a stable `code`: ' +
        Object.keys(ERROR_CODES).map((c) => `\`${c}\``).join(', ') + '. ' +
        'HTTPS only: over plain HTTP, a GET or HEAD of a public read (`/docs`, `/openapi.json`, `/.well-known/*`, ' +
        '`/pictures/*`, `/healthz`) without any credential header is redirected with 308; every other request, and any ' +
        'request carrying `Authorization`, `x-access-token` or `Cookie`, is refused with 400 `https_required`.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: serverUrl }],
    tags: [
      { name: 'Tokens', description: 'Login, OAuth 2.0 token, introspection and revocation.' },
      { name: 'Discovery', description: 'Keys and metadata.' },
      { name: 'Dispatch', description: "Document 001's /Services." },
      { name: 'Recipients', description: "A provider's directory of end users." },
      { name: 'Management', description: 'Operators: providers, clients, services, audit.' },
      { name: 'Service', description: 'Operations.' },
    ],
    paths,
    components: { schemas, securitySchemes: SECURITY_SCHEMES },
  }
}
