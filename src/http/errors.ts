// Hono glue for errors: any thrown value becomes the one problem body (decisions.md D2), and
// unknown paths and wrong methods answer 404 and 405 with Allow.
import type { Context, Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { PatternRouter } from 'hono/router/pattern-router'
import type { AppEnv } from './app-env.ts'
import { AppError, ERRORS, internalError, toProblem, type ErrorCode } from '../errors.ts'
import { log } from '../log.ts'

export function problemResponse(c: Context<AppEnv>, err: AppError): Response {
  const { status, headers, body } = toProblem(err, c.get('dialect') ?? 'problem')
  const response = new Response(JSON.stringify(body), { status, headers })
  const requestId = c.get('requestId')
  if (requestId) response.headers.set('x-request-id', requestId)
  c.set('problemCode', err.code)
  return response
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
}

/**
 * An HTTPException Hono threw (the body limit's 413, the validator's 400 on malformed JSON): it
 * keeps its own status, under the generic code of that status.
 */
class HonoError extends AppError {
  readonly #status: number

  constructor(cause: HTTPException) {
    const code = CODE_BY_STATUS[cause.status] ?? 'invalid_request'
    super(code, ERRORS[code].description, { cause })
    this.#status = cause.status
  }

  override get status(): number {
    return this.#status
  }

  override get title(): string {
    return Object.values(ERRORS).find((e) => e.status === this.#status)?.title ?? 'Error'
  }
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err
  if (err instanceof HTTPException && err.status < 500) return new HonoError(err)
  return internalError(err)
}

export function onError(err: unknown, c: Context<AppEnv>): Response {
  const appError = toAppError(err)
  if (appError.status >= 500) {
    const cause = appError.cause instanceof Error ? appError.cause : err
    log('error', 'request failed', {
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      error: cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause),
    })
  }
  return problemResponse(c, appError)
}

/**
 * The methods the app serves at a path, from its routes (GET implies HEAD); empty for an unknown
 * path. The one source of 405's Allow and of CORS preflights' Access-Control-Allow-Methods.
 */
export type AllowedMethods = (path: string) => string[]

export function createAllowedMethods(app: Hono<AppEnv>): AllowedMethods {
  let router: PatternRouter<string> | undefined
  return function allowedMethods(path) {
    // Built on first use: the routes are all registered by then.
    if (!router) {
      router = new PatternRouter<string>()
      for (const route of app.routes)
        if (route.method !== 'ALL') router.add('ALL', route.path, route.method)
    }
    const methods = new Set(router.match('ALL', path)[0].map(([method]) => method))
    if (methods.has('GET')) methods.add('HEAD')
    return [...methods]
  }
}

/**
 * A notFound handler that knows the app's routes: a path served under other methods answers 405
 * with Allow (document 001's table), OPTIONS answers 204 with Allow, anything else 404.
 */
export function createNotFound(allowedMethods: AllowedMethods) {
  return function notFound(c: Context<AppEnv>): Response {
    const methods = allowedMethods(c.req.path)
    if (methods.length === 0) {
      return problemResponse(c, new AppError('not_found', `No resource at ${c.req.path}.`))
    }
    const allow = [...methods, 'OPTIONS'].join(', ')
    if (c.req.method === 'OPTIONS') return c.body(null, 204, { allow })
    const detail = `${c.req.method} is not supported here; use ${allow}.`
    return problemResponse(c, new AppError('method_not_allowed', detail, { headers: { allow } }))
  }
}
