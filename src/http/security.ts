// Transport and request-shape defences that run before routing (decisions.md D14, SECURITY.md):
// HTTPS only outside localhost, security headers on every response, and header and body size
// limits.
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { AppEnv } from './app-env.ts'
import { AppError } from '../errors.ts'

/** Hosts served over plain HTTP for local development (`wrangler dev`, `npm start`). */
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

export function isLocalHost(hostname: string): boolean {
  return LOCAL_HOSTS.has(hostname)
}

/** Public reads that carry no credential: a plain-HTTP GET or HEAD of these may be redirected. */
const PUBLIC_READ = /^\/(?:healthz|openapi\.json|docs(?:\/.*)?|\.well-known\/.+|pictures\/.+)$/

export function isPublicRead(path: string): boolean {
  return PUBLIC_READ.test(path)
}

/** Headers that carry a credential: a request holding one over plain HTTP has leaked it. */
const CREDENTIAL_HEADERS = ['authorization', 'x-access-token', 'cookie']

/**
 * Document 000 §4 (SECURITY.md "Transport"): outside localhost a plain-HTTP GET or HEAD of a
 * public read (docs, discovery, pictures, health) is redirected (308 keeps the method). Anything
 * else is refused with 400 `https_required`, never redirected: a redirect would hide from the
 * client that its token or body just crossed the network in the clear, and invite it to send them
 * again. A request holding a credential header is refused whatever its route.
 * The scheme is the request URL's, which Cloudflare sets from the client's connection; a
 * client-supplied X-Forwarded-Proto is never trusted.
 */
export function requireHttps(): MiddlewareHandler<AppEnv> {
  return async function requireHttps(c, next) {
    const url = new URL(c.req.url)
    if (url.protocol !== 'http:' || isLocalHost(url.hostname)) return next()
    const headers = c.req.raw.headers
    const credential = CREDENTIAL_HEADERS.find((name) => headers.has(name))
    const read = c.req.method === 'GET' || c.req.method === 'HEAD'
    if (read && !credential && isPublicRead(url.pathname)) {
      url.protocol = 'https:'
      return c.redirect(url.href, 308)
    }
    const leaked = credential
      ? ` The ${credential} header crossed the network in the clear: rotate that credential.`
      : read
        ? ''
        : ' Credentials sent over plain HTTP may have been read on the way: rotate them.'
    throw new AppError(
      'https_required',
      'Portero answers over HTTPS only: send this request to ' +
        `https://${url.host}${url.pathname}.${leaked}`,
    )
  }
}

/** Two years, every subdomain (the HSTS preload list's minimum is one year). */
export const HSTS = 'max-age=63072000; includeSubDomains'
/** JSON only: the API never serves anything a browser should render, run or frame. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'"

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

/** Defaults a route may replace: a page's own CSP (GET /docs), a public file's CORP. */
const DEFAULT_HEADERS: Record<string, string> = {
  'content-security-policy': API_CSP,
  'cross-origin-resource-policy': 'same-origin',
}

/** Headers that would name the software or its version. */
const REVEALING_HEADERS = ['server', 'x-powered-by', 'x-aspnet-version', 'x-runtime']

/**
 * Sets the security headers on every response, the error responses of onError and notFound
 * included, by working on `c.res` after the rest of the app has answered, and
 * `Cache-Control: no-store` on every response that has no cache policy of its own.
 * The hook for pages and files: a route that sets its own Content-Security-Policy (GET /docs) or
 * Cross-Origin-Resource-Policy keeps it; everything else is overwritten.
 */
export function securityHeaders(): MiddlewareHandler<AppEnv> {
  return async function securityHeaders(c, next) {
    await next()
    const headers = writableHeaders(c)
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) headers.set(name, value)
    for (const [name, value] of Object.entries(DEFAULT_HEADERS)) {
      if (!headers.has(name)) headers.set(name, value)
    }
    // Nothing is cacheable unless its route says so: answers name clients, tokens and service
    // tokens. The public reads (keys, metadata, OpenAPI, docs, pictures) set their own policy.
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-store')
    const url = new URL(c.req.url)
    // RFC 6797 §7.2: HSTS over HTTPS only. Not for localhost either: a browser would then refuse
    // http://localhost:8787 for two years, whatever else runs on that port.
    if (url.protocol === 'https:' && !isLocalHost(url.hostname)) {
      headers.set('strict-transport-security', HSTS)
    }
    for (const name of REVEALING_HEADERS) headers.delete(name)
  }
}

/** The response's headers, copying the response first if they are immutable (a fetch() result). */
export function writableHeaders(c: Context): Headers {
  try {
    // The probe is a header every response gets anyway.
    c.res.headers.set('x-content-type-options', 'nosniff')
  } catch {
    c.res = new Response(c.res.body, c.res)
  }
  return c.res.headers
}

/** All request headers together, as the HTTP/1.1 field lines "name: value\r\n" would count them. */
export const MAX_HEADER_BYTES = 16 * 1024
/** Longer than any token Portero issues (MAX_TOKEN_LENGTH) and any credentials it accepts. */
export const MAX_CREDENTIAL_HEADER_LENGTH = 8 * 1024

const encoder = new TextEncoder()

/**
 * Refuses oversized headers before anything reads them. An Authorization or x-access-token header
 * over 8 KiB is a credential that cannot be valid: 401 `invalid_token` (`invalid_client` for
 * Basic), what its client gets for any unusable token, in the route's dialect. Then all headers
 * together over 16 KiB: 431 `headers_too_large` (RFC 6585 §5).
 */
export function limitHeaders(): MiddlewareHandler<AppEnv> {
  return async function limitHeaders(c, next) {
    const headers = c.req.raw.headers
    for (const name of ['authorization', 'x-access-token']) {
      const value = headers.get(name)
      const limit = MAX_CREDENTIAL_HEADER_LENGTH
      if (value !== null && value.length > limit) {
        const detail = `The ${name} header is longer than ${limit} characters.`
        throw /^basic /i.test(value)
          ? new AppError('invalid_client', detail)
          : new AppError('invalid_token', detail)
      }
    }
    let bytes = 0
    for (const [name, value] of headers) bytes += name.length + encoder.encode(value).length + 4
    if (bytes > MAX_HEADER_BYTES) {
      const detail = `The request headers are larger than ${MAX_HEADER_BYTES} bytes.`
      throw new AppError('headers_too_large', detail)
    }
    await next()
  }
}

function tooLarge(maxSize: number): never {
  throw new AppError('payload_too_large', `The request body is larger than ${maxSize} bytes.`)
}

function bodyLimiter(maxSize: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({ maxSize, onError: () => tooLarge(maxSize) })
}

/**
 * Refuses a body over the route's limit before any parsing: by Content-Length at once, or while
 * streaming when there is none (hono's bodyLimit, which reads the whole body up to the limit
 * before the route runs). `routes` maps exact paths to their own limit.
 * The paths in `afterAuth` check the caller's token before they read anything, then apply their own
 * larger limit (limitBodyTo): here only a declared Content-Length over that limit is refused, which
 * no token could make acceptable; nothing is read, so an anonymous upload costs no buffering.
 */
export function limitBody(
  defaultBytes: number,
  routes: ReadonlyMap<string, number>,
  afterAuth: ReadonlyMap<string, number> = new Map(),
): MiddlewareHandler<AppEnv> {
  const limiters = new Map<number, MiddlewareHandler<AppEnv>>()
  function limiterFor(maxSize: number): MiddlewareHandler<AppEnv> {
    let limiter = limiters.get(maxSize)
    if (!limiter) limiters.set(maxSize, (limiter = bodyLimiter(maxSize)))
    return limiter
  }
  return async function limitBody(c, next) {
    const own = afterAuth.get(c.req.path)
    if (own === undefined) return limiterFor(routes.get(c.req.path) ?? defaultBytes)(c, next)
    const declared = Number(c.req.header('content-length') ?? 0)
    if (declared > own && !c.req.header('transfer-encoding')) return tooLarge(own)
    return next()
  }
}

/** One route's own body limit, placed after its authentication in the route's middleware. */
export function limitBodyTo(maxSize: number): MiddlewareHandler<AppEnv> {
  return bodyLimiter(maxSize)
}
