// What the routes' declarations (createRoute) share: the security schemes and requirements, the
// problem answers with their descriptions, and the common shapes of success answers.
import type { RouteConfig } from '@hono/zod-openapi'
import * as z from 'zod'
import { Problem } from './responses.ts'

type Answer = Exclude<RouteConfig['responses'][string], { $ref: string }>

export const SECURITY_SCHEMES = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'A Portero access token (RFC 9068: `iss`, `sub` = `client_id`, `aud`, `scope`, `jti`, ' +
      '`iat`, `nbf`, `exp`, `provider_id`). On `/Services`, `/recipients`, `/subscriptions` and ' +
      "`/admin` its `aud` must name Portero's resource identifier (`API_RESOURCE`, else the " +
      'issuer) exactly, or the answer is 401 `invalid_token`; introspection accepts a token for ' +
      'any audience.',
  },
  dpop: {
    type: 'http',
    scheme: 'dpop',
    description:
      'A DPoP-bound Portero access token (RFC 9449 §7): `Authorization: DPoP <token>` with a ' +
      '`DPoP` header holding a proof signed by the key the token is bound to (`cnf.jkt`): ' +
      '`typ` `dpop+jwt`, `alg` ES256, EdDSA (Ed25519) or RS256, the public `jwk`, `htm` the ' +
      'method, `htu` the URL without query, `iat` within 60 s, a new `jti`, `ath` the ' +
      "token's SHA-256, and the `DPoP-Nonce` when the client requires DPoP. Failures answer 401 " +
      'with `WWW-Authenticate: DPoP error="invalid_dpop_proof"`, `"use_dpop_nonce"` (with a ' +
      '`DPoP-Nonce`) or `"invalid_token"`. A DPoP-bound token sent as Bearer is refused.',
  },
  accessToken: {
    type: 'apiKey',
    in: 'header',
    name: 'x-access-token',
    description: 'Document 003: the token in x-access-token.',
  },
  basic: {
    type: 'http',
    scheme: 'basic',
    description: 'client_secret_basic: client id and secret (RFC 6749 §2.3.1).',
  },
  clientSecretPost: {
    type: 'apiKey',
    in: 'query',
    name: 'client_secret',
    description:
      'client_secret_post: client_id and client_secret in the form body (not the query; OpenAPI ' +
      'has no way to say "form field").',
  },
  privateKeyJwt: {
    type: 'apiKey',
    in: 'query',
    name: 'client_assertion',
    description:
      'private_key_jwt (RFC 7523 §2.2): client_assertion_type ' +
      '`urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and client_assertion, a JWT ' +
      "signed with one of the client's registered keys, in the form body (not the query). " +
      'docs/tokens.md "private_key_jwt" lists what it must contain.',
  },
  webhookSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'webhook-signature',
    description:
      "Portero's signature on the webhooks it sends (Standard Webhooks): the receiver checks " +
      "`webhook-signature` against its endpoint's `whsec_` secret, `webhook-id`, " +
      '`webhook-timestamp` and the raw body (docs/webhooks.md).',
  },
  smsSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Twilio-Signature',
    description:
      "The SMS API's request signature: base64 of HMAC-SHA1 keyed with SMS_AUTH_TOKEN (or, " +
      'during a rotation, SMS_AUTH_TOKEN_SECONDARY) over the full URL and the form parameters ' +
      'sorted by name (Twilio, "Webhooks security").',
  },
  smsRouteToken: {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'HMAC-SHA256 of the `shard`, keyed with VONAGE_API_SECRET (decisions.md D45).',
  },
} as const

type Scheme = keyof typeof SECURITY_SCHEMES
const anyOf = (...schemes: Scheme[]) => schemes.map((scheme) => ({ [scheme]: [] }))

/** Who may call an operation: any one of the listed schemes. */
export const SECURITY = {
  none: [],
  bearer: anyOf('bearer', 'dpop'),
  /** /auth/me: document 003's header, or the standard ones. */
  accessToken: anyOf('accessToken', 'bearer', 'dpop'),
  /** OAuth client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2). */
  client: anyOf('basic', 'clientSecretPost', 'privateKeyJwt'),
  /** Introspection: a token with `tokens:introspect`, or the client's own credentials. */
  introspection: anyOf('bearer', 'dpop', 'basic', 'clientSecretPost', 'privateKeyJwt'),
  /** The SMS API's webhooks. */
  smsSignature: anyOf('smsSignature'),
  /** The secondary SMS route's delivery receipts (decisions.md D45). */
  smsRouteToken: anyOf('smsRouteToken'),
  /** Portero's webhooks to providers. */
  webhookSignature: anyOf('webhookSignature'),
}

const PROBLEMS = {
  400: 'Invalid input: `code` says what, `errors` lists the fields.',
  401:
    'No valid token or credentials (`WWW-Authenticate` says how to authenticate): ' +
    '`token_missing`, `token_expired`, `invalid_token` (malformed, a claim missing or ' +
    "malformed, revoked, or, on Portero's own API, not issued for it), `invalid_client`.",
  403: 'Authenticated, but not allowed (`insufficient_scope` or `forbidden`).',
  404: 'No such resource.',
  409: 'Conflicts with an existing resource.',
  413:
    'The body is larger than this route accepts: 4 KiB on /auth/login and /oauth/token, 1.5 MiB ' +
    'on /Services (once the token is checked; nothing is read before), 16 KiB elsewhere.',
  415: 'The body has a content type this endpoint does not accept.',
  429:
    'Too many failed attempts from this address, by this client or in all: wrong secrets, ' +
    "tokens that are not Portero's, revocations of nothing (`Retry-After`).",
} as const

type ProblemStatus = keyof typeof PROBLEMS

/** An error answer: RFC 9457 problem details (src/errors.ts). */
export function problem(description: string, mediaType = 'application/problem+json'): Answer {
  return { description, content: { [mediaType]: { schema: Problem } } }
}

function answers(mediaType: string) {
  return (...statuses: ProblemStatus[]): Record<number, Answer> =>
    Object.fromEntries(statuses.map((status) => [status, problem(PROBLEMS[status], mediaType)]))
}

/** The error answers of an operation, by status, with their shared descriptions. */
export const problems = answers('application/problem+json')

/** The same as OAuth endpoints send them: application/json, which OAuth libraries insist on. */
export const oauthProblems = answers('application/json')

/** A JSON answer. */
export function json(description: string, schema: z.ZodType): Answer {
  return { description, content: { 'application/json': { schema } } }
}

/** 201 with the new resource and its Location. */
export function newResource(description: string, schema: z.ZodType): Answer {
  return { ...json(description, schema), headers: { Location: { schema: { type: 'string' } } } }
}

export const NO_CONTENT: Answer = { description: 'Done; no body.' }

/** A JSON request body, with an example as the source documents show one. */
export function jsonBody<S extends z.ZodType>(schema: S, example?: unknown) {
  return body('application/json', schema, example)
}

/** A form request body (the OAuth endpoints, RFC 6749 §4.4.2). */
export function formBody<S extends z.ZodType>(schema: S, example?: unknown) {
  return body('application/x-www-form-urlencoded', schema, example)
}

function body<T extends string, S extends z.ZodType>(type: T, schema: S, example: unknown) {
  const media = { schema, ...(example === undefined ? {} : { example }) }
  return { required: true, content: { [type]: media } as Record<T, typeof media> }
}

const PATH_PARAMETERS = {
  id: 'The resource id.',
  userId: "The provider's id for the recipient (URL-encoded).",
  serviceId: 'The service id.',
  file: "The picture's file name: `{id}.{ext}`.",
  kid: "The key's `kid` (URL-encoded).",
}

/**
 * The path's parameters, as strings: a route whose ids have a form declares its own schema
 * instead, which validateParams (src/http/validate.ts) checks, answering a malformed id with the
 * 404 of an unknown one.
 */
export function pathParameters<K extends keyof typeof PATH_PARAMETERS>(...names: K[]) {
  const shape = Object.fromEntries(
    names.map((name) => [name, z.string().meta({ description: PATH_PARAMETERS[name] })]),
  ) as Record<K, z.ZodString>
  return z.object(shape)
}

/** Every /admin operation: an operator's token with the admin scope (src/routes/admin/index.ts). */
export const MANAGEMENT = { tags: ['Management'], security: SECURITY.bearer }
