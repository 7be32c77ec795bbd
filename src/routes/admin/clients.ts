// /admin/clients: issuing, inspecting, rotating and retiring OAuth clients. A secret is shown once,
// in the answer that created it; no other answer (nor the audit log) ever holds it.
import type { Context } from 'hono'
import * as z from 'zod'
import type { AppEnv } from '../../http/app-env.ts'
import {
  changeClient,
  createClient,
  MAX_GRACE_SECONDS,
  removeClient,
  requireClient,
  revokeClientTokens,
  rotateClientSecret,
} from '../../domain/clients.ts'
import { ProviderIdText } from '../../domain/providers.ts'
import { ALL_SCOPES } from '../../domain/scopes.ts'
import { unlockClient } from '../../domain/throttle.ts'
import { MAX_SECRET_LENGTH } from '../../domain/secrets.ts'
import { auditAs } from '../../http/audit.ts'
import { clientDeps, clientRecordDeps } from '../../http/deps.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { PageQuery, toPage } from '../../http/paging.ts'
import { toTrustedIssuerInput, TrustedIssuerList } from '../../http/trusted-issuers.ts'
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
  Client as ClientView,
  ClientPage,
  ClientWithSecret,
  RotatedSecret,
} from '../../openapi/responses.ts'
import { listClients, type Client } from '../../storage/clients.ts'

export const clients = new OpenApiApp()

const Fields = {
  name: z.string({ error: 'name is required' }).trim().min(1, 'name must not be empty').max(200),
  allowed_scopes: z
    .array(
      z.enum(ALL_SCOPES as [string, ...string[]], {
        error: `scopes are: ${ALL_SCOPES.join(', ')}`,
      }),
    )
    .transform((s) => [...new Set(s)]),
  audiences: z
    .array(z.string().min(1).max(500))
    .max(20)
    .transform((a) => [...new Set(a)]),
  token_lifetime: z.number({ error: 'token_lifetime must be seconds' }).int().min(60).max(86400),
  dpop_bound_access_tokens: z
    .boolean({ error: 'dpop_bound_access_tokens must be a boolean' })
    .meta({
      description:
        'RFC 9449 §5.2: the client gets DPoP-bound tokens only, from /oauth/token with a ' +
        'DPoP proof carrying a server nonce (docs/tokens.md "DPoP"); a request without one is ' +
        'refused. Turning it on ' +
        'ends the tokens the client holds now.',
    }),
}

/**
 * Ids that would pass for Portero itself or for nobody in logs, the audit log and token claims
 * (docs/management.md "Management API"). Compared without regard to case, like every client id.
 */
export const RESERVED_CLIENT_IDS: readonly string[] = [
  'admin',
  'anonymous',
  'operator',
  'portero',
  'root',
  'system',
]

export const NewClient = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._~-]+$/, 'id may use letters, digits and . _ ~ -')
    .refine(
      (id) => !RESERVED_CLIENT_IDS.includes(id.toLowerCase()),
      `id is reserved (${RESERVED_CLIENT_IDS.join(', ')})`,
    )
    .optional()
    .meta({
      description:
        'Letters, digits and . _ ~ -, unique regardless of case (409 otherwise); not one of ' +
        `${RESERVED_CLIENT_IDS.join(', ')} in any case (400). Generated when omitted.`,
    }),
  provider_id: ProviderIdText.nullable(),
  name: Fields.name,
  allowed_scopes: Fields.allowed_scopes.default([]),
  audiences: Fields.audiences.default([]),
  token_lifetime: Fields.token_lifetime.default(3600),
  dpop_bound_access_tokens: Fields.dpop_bound_access_tokens.default(false),
  /** Import an existing secret (migration); otherwise one is generated. */
  client_secret: z
    .string()
    .max(MAX_SECRET_LENGTH)
    .optional()
    .meta({
      description:
        'An existing secret to import when migrating a client (32 to 256 characters); ' +
        'otherwise one is generated. A secret printed as an example in the source documents ' +
        "(document 003's) is refused unless ISSUER is localhost.",
    }),
  jwks: z
    .strictObject({
      keys: z.array(z.record(z.string(), z.unknown(), { error: 'must be a JWK (a JSON object)' })),
    })
    .optional()
    .meta({
      description:
        'Public keys for private_key_jwt, as a JWK set (the rules of POST ' +
        '/admin/clients/{id}/keys).',
    }),
  trusted_issuers: TrustedIssuerList.optional().meta({
    description:
      'Platforms whose tokens authenticate the client (the rules of PUT ' +
      '/admin/clients/{id}/issuers; docs/tokens.md "Federated clients").',
  }),
  with_secret: z
    .boolean()
    .default(true)
    .meta({
      description:
        'false: the client gets no secret and authenticates with its keys or its trusted ' +
        'issuers only (`jwks` or `trusted_issuers` required).',
    }),
})

export const ClientChanges = z
  .strictObject({
    name: Fields.name.optional(),
    allowed_scopes: Fields.allowed_scopes.optional(),
    audiences: Fields.audiences.optional(),
    token_lifetime: Fields.token_lifetime.optional(),
    dpop_bound_access_tokens: Fields.dpop_bound_access_tokens.optional(),
    status: z.enum(['active', 'disabled']).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'send at least one field to change')

export const Rotation = z.strictObject({
  grace_period_seconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(0),
  revoke_tokens: z.boolean().default(false),
})

export const ClientListQuery = PageQuery.extend({ provider_id: ProviderIdText.optional() })

function view(client: Client) {
  return {
    client_id: client.id,
    provider_id: client.providerId,
    name: client.name,
    allowed_scopes: client.allowedScopes,
    audiences: client.audiences,
    token_lifetime: client.tokenLifetime,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens === true,
    status: client.status,
    previous_secret_valid_until: graceEnd(client),
    created_at: client.createdAt,
    updated_at: client.updatedAt,
  }
}

function graceEnd(client: Client): string | null {
  if (!client.previousSecretDigest || !client.previousSecretExpiresAt) return null
  return new Date(client.previousSecretExpiresAt * 1000).toISOString()
}

// Secrets are answered with no-store: no cache in between may keep them.
function noStore(c: Context<AppEnv>) {
  c.header('cache-control', 'no-store')
}

const idParam = { params: pathParameters('id') }

const create = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/',
  operationId: 'createClient',
  summary: 'Create a client (its secret is in this answer only)',
  request: {
    body: jsonBody(NewClient, {
      id: 'checho',
      provider_id: '2002',
      name: 'CHECHO backend',
      allowed_scopes: ['services:send'],
    }),
  },
  responses: {
    201: newResource('Created, with the secret.', ClientWithSecret),
    ...problems(400, 401, 403, 409, 415),
  },
})

clients.openapi(create, async (c) => {
  const body = c.req.valid('json')
  const imported = {
    imported_secret: body.client_secret !== undefined,
    ...(body.jwks ? { keys: body.jwks.keys.length } : {}),
    ...(body.with_secret ? {} : { with_secret: false }),
    ...(body.trusted_issuers ? { issuers: body.trusted_issuers.map((t) => t.issuer) } : {}),
  }
  // Named before the attempt, so that a refused creation (409, 400) is audited as one too.
  auditAs(c, 'client.create', body.id, imported)
  const { client, secret } = await createClient(await clientDeps(c), {
    id: body.id,
    providerId: body.provider_id,
    name: body.name,
    allowedScopes: body.allowed_scopes,
    audiences: body.audiences,
    tokenLifetime: body.token_lifetime,
    dpopBoundAccessTokens: body.dpop_bound_access_tokens,
    importedSecret: body.client_secret,
    jwks: body.jwks?.keys,
    trustedIssuers: body.trusted_issuers?.map(toTrustedIssuerInput),
    withSecret: body.with_secret,
  })
  auditAs(c, 'client.create', client.id, imported)
  noStore(c)
  c.header('location', `/admin/clients/${encodeURIComponent(client.id)}`)
  return c.json({ ...view(client), client_secret: secret }, 201)
})

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/',
  operationId: 'listClients',
  summary: 'List clients',
  request: { query: ClientListQuery },
  responses: { 200: json('A page.', ClientPage), ...problems(400, 401, 403) },
})

clients.openapi(list, async (c) => {
  const { limit, cursor, provider_id } = c.req.valid('query')
  const rows = await listClients(c.env.DB, {
    providerId: provider_id,
    after: cursor,
    limit: limit + 1,
  })
  return c.json(toPage(rows, limit, (r) => r.id, view, new URL(c.req.url)))
})

const read = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}',
  operationId: 'getClient',
  summary: 'Read a client (never its secret)',
  request: idParam,
  responses: { 200: json('The client.', ClientView), ...problems(401, 403, 404) },
})

clients.openapi(read, async (c) =>
  c.json(view(await requireClient(c.env.DB, c.req.valid('param').id))),
)

const change = createRoute({
  ...MANAGEMENT,
  method: 'patch',
  path: '/{id}',
  operationId: 'updateClient',
  summary: 'Change a client',
  description:
    'Disabling the client, or taking away any of its scopes or audiences, ends every token it ' +
    'holds now (they carry the old rights); its next login gets a token with the new settings. ' +
    'Requiring DPoP (`dpop_bound_access_tokens`) ends them too. Widening, renaming or a new ' +
    'lifetime leaves its tokens alone. Other Cloudflare locations ' +
    'see the change within about 60 s (KV). A change stored but not yet published to the edge ' +
    'answers 503 `temporarily_unavailable`; the scheduled job publishes it within five minutes.',
  request: { ...idParam, body: jsonBody(ClientChanges, { status: 'disabled' }) },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403, 404, 409, 415) },
})

clients.openapi(change, async (c) => {
  const body = c.req.valid('json')
  auditAs(c, 'client.update', c.req.valid('param').id, { changed: Object.keys(body) })
  await changeClient(await clientDeps(c), c.req.valid('param').id, {
    name: body.name,
    allowedScopes: body.allowed_scopes,
    audiences: body.audiences,
    tokenLifetime: body.token_lifetime,
    dpopBoundAccessTokens: body.dpop_bound_access_tokens,
    status: body.status,
  })
  return c.body(null, 204)
})

const rotate = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/secret',
  operationId: 'rotateClientSecret',
  summary: "Rotate a client's secret",
  request: {
    ...idParam,
    body: jsonBody(Rotation, { grace_period_seconds: 3600, revoke_tokens: false }),
  },
  responses: {
    200: json('The new secret (shown once).', RotatedSecret),
    ...problems(400, 401, 403, 404, 415),
  },
})

clients.openapi(rotate, async (c) => {
  const { grace_period_seconds, revoke_tokens } = c.req.valid('json')
  const id = c.req.valid('param').id
  auditAs(c, 'client.rotate_secret', id, { grace_period_seconds, revoke_tokens })
  const { secret, previousSecretValidUntil } = await rotateClientSecret(await clientDeps(c), id, {
    graceSeconds: grace_period_seconds,
    revokeTokens: revoke_tokens,
  })
  noStore(c)
  return c.json({
    client_id: id,
    client_secret: secret,
    previous_secret_valid_until:
      previousSecretValidUntil === null
        ? null
        : new Date(previousSecretValidUntil * 1000).toISOString(),
    tokens_revoked: revoke_tokens,
  })
})

const revokeTokens = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/revoke-tokens',
  operationId: 'revokeClientTokens',
  summary: 'End every token a client holds now',
  description:
    'Every token the client holds now becomes inactive, as with `revoke_tokens` on a secret ' +
    'rotation, but nothing else changes: its secret, if it has one, and its keys keep working, ' +
    'and its next login gets a token that is live. This is how a client with keys only ' +
    '(private_key_jwt) ends a leaked token without being given a secret. Other Cloudflare ' +
    'locations see it within about 60 s (KV), and a token minted there meanwhile ends when they ' +
    'do (decisions.md D34).',
  request: idParam,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

clients.openapi(revokeTokens, async (c) => {
  const id = c.req.valid('param').id
  auditAs(c, 'client.revoke_tokens', id)
  await revokeClientTokens(await clientDeps(c), id)
  return c.body(null, 204)
})

const remove = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}',
  operationId: 'deleteClient',
  summary: 'Delete a client (its tokens become inactive)',
  request: idParam,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

clients.openapi(remove, async (c) => {
  auditAs(c, 'client.delete', c.req.valid('param').id)
  await removeClient(await clientDeps(c), c.req.valid('param').id)
  return c.body(null, 204)
})

// SECURITY.md "Lockouts": lifts the locks of this client from every address at once.
const unlock = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}/login-locks',
  operationId: 'unlockClientLogins',
  summary: "Lift a client's login locks, from every address",
  description:
    'Failed attempts lock a client only from the address that made them, for 60 s ' +
    '(SECURITY.md). This lifts those locks now; failures later in the same minute may lock again.',
  request: idParam,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

clients.openapi(unlock, async (c) => {
  const id = c.req.valid('param').id
  auditAs(c, 'client.unlock', id)
  const removed = await unlockClient(clientRecordDeps(c), id)
  auditAs(c, 'client.unlock', id, { locks_removed: removed })
  return c.body(null, 204)
})
