// AppError, the stable error codes, and toProblem(): the one JSON error body (SPEC 2).
// No hono import: domain code throws AppError too.

export const ERROR_CODES = {
  invalid_request: 'The request is missing a field, has an invalid value or is malformed.',
  invalid_json: 'The request body is not valid JSON.',
  unsupported_media_type: 'The request body has a content type this endpoint does not accept.',
  payload_too_large: 'The request body is larger than this endpoint accepts.',
  headers_too_large: 'The request headers are larger than Portero accepts.',
  https_required: 'Portero answers over HTTPS only.',
  invalid_client: 'Client authentication failed.',
  invalid_scope: 'A requested scope is unknown or not allowed for this client.',
  invalid_target: 'A requested audience or resource is not allowed for this client.',
  unsupported_grant_type: 'The grant type is not supported.',
  token_missing: 'No access token was sent.',
  invalid_token: 'The access token is malformed, not signed by this issuer, or not valid yet.',
  token_expired: 'The access token has expired.',
  insufficient_scope: 'The access token does not carry the scope this operation needs.',
  forbidden: 'The caller may not do this with this resource.',
  conflict: 'The request conflicts with the current state of the resource.',
  unknown_service: 'No service with this service_id exists.',
  unsupported_channel: 'The channel is not one Portero delivers to.',
  unknown_destination: 'The destination is not a known recipient of this provider.',
  destination_unreachable: 'The recipient cannot be reached on the requested channel.',
  not_supported: 'This feature is not supported.',
  channel_not_configured: 'This deployment has no credentials to deliver on that channel (a lasting state: do not retry).',
  not_found: 'No resource exists at this path.',
  method_not_allowed: 'The resource exists but does not support this method.',
  rate_limited: 'Too many failed attempts; wait before trying again.',
  temporarily_unavailable: 'A storage service Portero depends on did not answer; retry shortly.',
  internal_error: 'The server failed to handle the request.',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

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

export type ProblemExtras = {
  errors?: FieldError[]
  headers?: Record<string, string>
}

/** The envelope a route answers in: each source document's clients read their own fields. */
export type Dialect = 'problem' | 'bridge' | 'yativo' | 'oauth'

export class AppError extends Error {
  readonly status: number
  readonly code: ErrorCode
  readonly extra: ProblemExtras

  /**
   * @param message becomes `detail`: it must be safe to show the caller.
   * @param options.cause for logs only, never sent.
   */
  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    extra: ProblemExtras = {},
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'AppError'
    this.status = status
    this.code = code
    this.extra = extra
  }
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
    throw new AppError(503, 'temporarily_unavailable', 'Portero could not reach its storage; retry shortly.', {
      headers: { 'retry-after': String(STORAGE_RETRY_AFTER_SECONDS) },
    }, { cause })
  }
}

export type Problem = {
  status: number
  headers: Record<string, string>
  body: Record<string, unknown>
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
}

const ACK_BY_CODE: Partial<Record<ErrorCode, number>> = {
  // 899 is what Bridge clients expect for any unusable clientId/clientSecret pair.
  invalid_request: BRIDGE_ACK.badCredentials,
  invalid_client: BRIDGE_ACK.badCredentials,
  rate_limited: BRIDGE_ACK.badCredentials,
  invalid_token: BRIDGE_ACK.malformedToken,
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
    title: TITLES[err.status] ?? 'Error',
    status: err.status,
    detail: err.message,
    code: err.code,
  }
  if (err.extra.errors?.length) body.errors = err.extra.errors
  let contentType = 'application/problem+json'
  switch (dialect) {
    case 'bridge':
      body.ack = ACK_BY_CODE[err.code] ?? BRIDGE_ACK.unknown
      break
    case 'yativo':
      body.status_code = err.status
      body.message = err.message
      body.data = null
      break
    case 'oauth':
      body.error = err.code
      body.error_description = err.message
      contentType = 'application/json'
      break
  }
  return {
    status: err.status,
    headers: { 'content-type': contentType, ...challenge(err), ...err.extra.headers },
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

export function internalError(cause: unknown): AppError {
  return new AppError(500, 'internal_error', ERROR_CODES.internal_error, {}, { cause })
}
