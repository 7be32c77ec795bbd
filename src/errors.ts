// AppError, the stable error codes, and toProblem(): the one JSON error body (decisions.md D2).
// No hono import: domain code throws AppError too.

/**
 * Every error code once, with its status and title: the code decides the status, never the call
 * site. A description is the detail of an error that has nothing more specific to say.
 */
export const ERRORS = {
  invalid_request: {
    status: 400,
    title: 'Bad Request',
    description: 'The request is missing a field, has an invalid value or is malformed.',
  },
  invalid_json: {
    status: 400,
    title: 'Bad Request',
    description: 'The request body is not valid JSON.',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported Media Type',
    description: 'The request body has a content type this endpoint does not accept.',
  },
  payload_too_large: {
    status: 413,
    title: 'Content Too Large',
    description: 'The request body is larger than this endpoint accepts.',
  },
  headers_too_large: {
    status: 431,
    title: 'Request Header Fields Too Large',
    description: 'The request headers are larger than Portero accepts.',
  },
  https_required: {
    status: 400,
    title: 'Bad Request',
    description: 'Portero answers over HTTPS only.',
  },
  invalid_client: {
    status: 401,
    title: 'Unauthorized',
    description: 'Client authentication failed.',
  },
  invalid_scope: {
    status: 400,
    title: 'Bad Request',
    description: 'A requested scope is unknown or not allowed for this client.',
  },
  invalid_target: {
    status: 400,
    title: 'Bad Request',
    description: 'A requested audience or resource is not allowed for this client.',
  },
  unsupported_grant_type: {
    status: 400,
    title: 'Bad Request',
    description: 'The grant type is not supported.',
  },
  invalid_dpop_proof: {
    status: 400,
    title: 'Bad Request',
    description:
      'The DPoP proof is missing, malformed, replayed, or not for this request or key ' +
      '(RFC 9449; 401 at a protected resource).',
  },
  use_dpop_nonce: {
    status: 400,
    title: 'Bad Request',
    description:
      'The DPoP proof must carry the server nonce sent in the DPoP-Nonce header (RFC 9449 §8; ' +
      '401 at a protected resource).',
  },
  token_missing: {
    status: 401,
    title: 'Unauthorized',
    description: 'No access token was sent.',
  },
  invalid_token: {
    status: 401,
    title: 'Unauthorized',
    description: 'The access token is malformed, not signed by this issuer, or not valid yet.',
  },
  token_expired: {
    status: 401,
    title: 'Unauthorized',
    description: 'The access token has expired.',
  },
  insufficient_scope: {
    status: 403,
    title: 'Forbidden',
    description: 'The access token does not carry the scope this operation needs.',
  },
  forbidden: {
    status: 403,
    title: 'Forbidden',
    description: 'The caller may not do this with this resource.',
  },
  invalid_signature: {
    status: 403,
    title: 'Forbidden',
    description: 'The request is not signed, or not signed by whom this endpoint expects.',
  },
  conflict: {
    status: 409,
    title: 'Conflict',
    description: 'The request conflicts with the current state of the resource.',
  },
  unknown_service: {
    status: 400,
    title: 'Bad Request',
    description: 'No service with this service_id exists.',
  },
  unsupported_channel: {
    status: 400,
    title: 'Bad Request',
    description: 'The channel is not one Portero delivers to.',
  },
  unknown_destination: {
    status: 400,
    title: 'Bad Request',
    description: 'The destination is not a known recipient of this provider.',
  },
  destination_unreachable: {
    status: 400,
    title: 'Bad Request',
    description: 'The recipient cannot be reached on the requested channel.',
  },
  direct_number_not_allowed: {
    status: 400,
    title: 'Bad Request',
    description:
      'This service sends to recipients of the directory only, or not to numbers of this ' +
      'country calling code.',
  },
  recipient_suppressed: {
    status: 400,
    title: 'Bad Request',
    description:
      'The destination is on the suppression list (it opted out, replied STOP or was ' +
      'suppressed by an operator): no SMS may go to it.',
  },
  whatsapp_opt_in_required: {
    status: 400,
    title: 'Bad Request',
    description:
      'The recipient has not opted in to WhatsApp messages (whatsapp_opt_in in the directory); ' +
      'a number outside the directory has no recorded opt-in.',
  },
  template_required: {
    status: 400,
    title: 'Bad Request',
    description:
      "Outside the recipient's 24-hour WhatsApp session window a message must be a template " +
      '(content_sid).',
  },
  not_supported: {
    status: 400,
    title: 'Bad Request',
    description: 'This feature is not supported.',
  },
  channel_not_configured: {
    status: 501,
    title: 'Not Implemented',
    description:
      'This deployment has no credentials to deliver on that channel ' +
      '(a lasting state: do not retry).',
  },
  not_found: {
    status: 404,
    title: 'Not Found',
    description: 'No resource exists at this path.',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method Not Allowed',
    description: 'The resource exists but does not support this method.',
  },
  rate_limited: {
    status: 429,
    title: 'Too Many Requests',
    description: 'Too many failed attempts; wait before trying again.',
  },
  quota_exceeded: {
    status: 429,
    title: 'Too Many Requests',
    description:
      'The provider has sent as many messages as its quota allows in this window ' +
      '(`Retry-After`).',
  },
  temporarily_unavailable: {
    status: 503,
    title: 'Service Unavailable',
    description: 'A storage service Portero depends on did not answer; retry shortly.',
  },
  server_misconfigured: {
    status: 503,
    title: 'Service Unavailable',
    description:
      'This deployment is misconfigured and serves nothing until its operator fixes it; ' +
      'GET /healthz names the settings at fault.',
  },
  internal_error: {
    status: 500,
    title: 'Internal Server Error',
    description: 'The server failed to handle the request.',
  },
} as const satisfies Record<string, { status: number; title: string; description: string }>

export type ErrorCode = keyof typeof ERRORS

/** Bridge (document 003) ack codes, sent on every error where the Bridge dialect applies. */
export const BRIDGE_ACK = {
  ok: 0,
  badCredentials: 899,
  malformedToken: 898,
  expiredToken: 897,
  missingToken: 896,
  unknown: 999,
} as const

export type FieldError = { path: string; message: string }

export type ProblemOptions = {
  /** Sent as `errors`: the fields at fault. */
  errors?: FieldError[]
  /** Sent with the answer (Retry-After, Allow, a challenge of its own). */
  headers?: Record<string, string>
  /** For logs only, never sent. */
  cause?: unknown
}

/**
 * The envelope a route answers in: each source document's clients read their own fields.
 * `bridge+yativo` is a login whose fields belong to both (decisions.md D3): each client finds its own.
 */
export type Dialect = 'problem' | 'bridge' | 'yativo' | 'bridge+yativo' | 'oauth'

export class AppError extends Error {
  readonly code: ErrorCode
  readonly options: ProblemOptions

  /** @param detail becomes `detail` (the error's message): it must be safe to show the caller. */
  constructor(code: ErrorCode, detail: string, options: ProblemOptions = {}) {
    super(detail, { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.options = options
  }

  get status(): number {
    return ERRORS[this.code].status
  }

  get title(): string {
    return ERRORS[this.code].title
  }
}

/** What a schema (zod, or any Standard Schema) says of a value it refused. */
export type Issues = { issues: readonly { path: readonly PropertyKey[]; message: string }[] }

/** A schema's issues as field errors; an issue with the whole value has the path "(body)". */
export function toFieldErrors(error: Issues): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }))
}

/** 400 `invalid_request` naming the fields at fault; `detail` lists them unless given. */
export function invalidFields(errors: FieldError[], detail = describeFields(errors)): AppError {
  return new AppError('invalid_request', detail, { errors })
}

function describeFields(errors: FieldError[]): string {
  return `The request is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}.`
}

/** 400 `invalid_request` for one field; `detail` names it unless given. */
export function fieldError(path: string, message: string, detail?: string): AppError {
  return invalidFields([{ path, message }], detail)
}

/** 404 `not_found`. */
export function notFound(detail: string): AppError {
  return new AppError('not_found', detail)
}

/** 409 `conflict`. */
export function conflict(detail: string): AppError {
  return new AppError('conflict', detail)
}

/** 500 `internal_error` for a missing or malformed var or secret; `cause` (logged) says which. */
export function misconfigured(cause: unknown): AppError {
  return new AppError('internal_error', 'The server is misconfigured.', { cause })
}

/** Seconds a caller is asked to wait after a storage failure on a hot path. */
const STORAGE_RETRY_AFTER_SECONDS = 1

/**
 * Runs `work` (a KV or D1 call on a request's path) and turns its failure into 503
 * `temporarily_unavailable` with Retry-After: the caller did nothing wrong and may retry.
 */
export async function orUnavailable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (cause) {
    if (cause instanceof AppError) throw cause
    const detail = 'Portero could not reach its storage; retry shortly.'
    const headers = { 'retry-after': String(STORAGE_RETRY_AFTER_SECONDS) }
    throw new AppError('temporarily_unavailable', detail, { headers, cause })
  }
}

export type Problem = {
  status: number
  headers: Record<string, string>
  body: Record<string, unknown>
}

const ACK_BY_CODE: Partial<Record<ErrorCode, number>> = {
  // 899 is what Bridge clients expect for any unusable clientId/clientSecret pair.
  invalid_request: BRIDGE_ACK.badCredentials,
  invalid_client: BRIDGE_ACK.badCredentials,
  rate_limited: BRIDGE_ACK.badCredentials,
  invalid_token: BRIDGE_ACK.malformedToken,
  invalid_dpop_proof: BRIDGE_ACK.malformedToken,
  use_dpop_nonce: BRIDGE_ACK.malformedToken,
  token_expired: BRIDGE_ACK.expiredToken,
  token_missing: BRIDGE_ACK.missingToken,
}

/**
 * Renders an AppError as RFC 9457 problem details, with the members each dialect's clients read:
 * Bridge `ack`, Yativo `status_code`/`message`, OAuth (RFC 6749 §5.2) `error`/`error_description`
 * served as application/json because OAuth client libraries require that media type.
 */
export function toProblem(err: AppError, dialect: Dialect = 'problem'): Problem {
  const body: Record<string, unknown> = {
    // RFC 9457 §3.1.1: a URN names the problem type without promising a page behind it.
    type: `urn:portero:error:${err.code}`,
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
  }
  if (err.options.errors?.length) body.errors = err.options.errors
  let contentType = 'application/problem+json'
  if (dialect === 'bridge' || dialect === 'bridge+yativo') {
    body.ack = ACK_BY_CODE[err.code] ?? BRIDGE_ACK.unknown
  }
  if (dialect === 'yativo' || dialect === 'bridge+yativo') {
    body.status_code = err.status
    body.message = err.message
    body.data = null
  }
  switch (dialect) {
    case 'oauth':
      body.error = err.code
      body.error_description = err.message
      contentType = 'application/json'
      break
  }
  return {
    status: err.status,
    headers: { 'content-type': contentType, ...challenge(err), ...err.options.headers },
    body,
  }
}

const REALM = 'realm="portero"'

/** RFC 6750 §3 and RFC 6749 §5.2: a 401 or 403 tells the client how to authenticate. */
function challenge(err: AppError): Record<string, string> {
  const description = `error_description="${err.message.replaceAll('"', "'")}"`
  switch (err.code) {
    case 'token_missing':
      return { 'www-authenticate': `Bearer ${REALM}` }
    case 'invalid_token':
    case 'token_expired':
      return { 'www-authenticate': `Bearer ${REALM}, error="invalid_token", ${description}` }
    case 'insufficient_scope':
      return { 'www-authenticate': `Bearer ${REALM}, error="insufficient_scope", ${description}` }
    case 'invalid_client':
      return { 'www-authenticate': `Basic ${REALM}` }
    default:
      return {}
  }
}

/**
 * A DPoP error at a protected resource (RFC 9449 §7.1): `invalid_dpop_proof` and `use_dpop_nonce`
 * answer 400 at the token endpoint but 401 there, and every 401 or 403 of a request made with the
 * DPoP scheme challenges with that scheme. The code stays the one the failure names.
 */
export class ResourceDpopError extends AppError {
  readonly #status: number

  constructor(err: AppError) {
    const status = err.status === 403 ? 403 : 401
    const description = `error_description="${err.message.replaceAll('"', "'")}"`
    const error = err.code === 'token_missing' ? '' : `error="${err.code}", `
    const headers = {
      ...err.options.headers,
      'www-authenticate': `DPoP ${REALM}, ${error}${description}, algs="${DPOP_ALGS}"`,
    }
    super(err.code, err.message, { ...err.options, headers, cause: err.options.cause ?? err })
    this.#status = status
  }

  override get status(): number {
    return this.#status
  }

  override get title(): string {
    return this.#status === 403 ? 'Forbidden' : 'Unauthorized'
  }
}

/** The proof algorithms Portero accepts (RFC 9449 §5.1 `dpop_signing_alg_values_supported`). */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'RS256'] as const
const DPOP_ALGS = DPOP_ALGORITHMS.join(' ')

export function internalError(cause: unknown): AppError {
  return new AppError('internal_error', ERRORS.internal_error.description, { cause })
}
