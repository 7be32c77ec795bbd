// CORS for browser clients of the origins named in CORS_ALLOWED_ORIGINS, and for no one else:
// empty (the default) means no CORS header on any response.
import type { MiddlewareHandler } from 'hono'
import { cors as honoCors } from 'hono/cors'
import type { AppEnv } from './app-env.ts'
import { misconfigured } from '../errors.ts'
import type { AllowedMethods } from './errors.ts'
import { writableHeaders } from './security.ts'
import { memoize } from '../utils/memo.ts'

/**
 * What Portero's clients send: a token (either header), JSON or a form, and an Idempotency-Key
 * (decisions.md D9).
 */
export const ALLOWED_HEADERS = 'authorization, content-type, x-access-token, idempotency-key, dpop'
/** Response headers a browser client needs to read besides the CORS-safelisted ones. */
export const EXPOSED_HEADERS =
  'location, x-request-id, retry-after, www-authenticate, allow, idempotent-replayed, dpop-nonce'
/** Chromium caps a preflight cache at 2 hours; 10 minutes lets a narrowed list take effect soon. */
export const PREFLIGHT_MAX_AGE_SECONDS = 600

const allowedOrigins = memoize(String, (value: string): ReadonlySet<string> => {
  const origins = new Set<string>()
  for (const entry of value.split(/[\s,]+/).filter(Boolean)) origins.add(toOrigin(entry))
  return origins
})

/**
 * The configured origins: `scheme://host[:port]` entries separated by commas or spaces.
 * `*` and `null` are refused, as is anything else that is not an origin: a loud configuration
 * error (500, logged) rather than a CORS policy wider than intended.
 */
export function parseAllowedOrigins(value = ''): ReadonlySet<string> {
  return allowedOrigins(value)
}

function toOrigin(entry: string): string {
  let url: URL | undefined
  try {
    url = new URL(entry)
  } catch {
    url = undefined
  }
  const origin = url?.origin
  const bare =
    url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password
  if (!origin || origin === 'null' || !/^https?:$/.test(url!.protocol) || !bare) {
    const cause = new Error(
      `CORS_ALLOWED_ORIGINS: "${entry}" is not an origin such as https://app.example.com`,
    )
    throw misconfigured(cause)
  }
  return origin
}

/**
 * Answers the preflight of an allowed origin before routing (the notFound handler would otherwise
 * answer every OPTIONS with a bare 204), allowing the path's own methods (`allowedMethods`, the
 * source of 405's Allow), and marks other responses to it readable. Every response
 * varies by Origin once any origin is configured, so a cache never hands one origin's answer to
 * another. Credentials are bearer tokens and Basic headers the client sets itself, never cookies:
 * no Access-Control-Allow-Credentials, and never `*`.
 *
 * hono/cors writes the headers of an allowed origin's preflight and of its other requests. It is
 * not handed the rest: it would send its headers to any origin, answer every OPTIONS itself (a
 * plain one, and one to a path the app does not serve, are the router's: Allow, or 404), and vary
 * responses when no origin is configured at all.
 */
export function cors(allowedMethods: AllowedMethods): MiddlewareHandler<AppEnv> {
  const answerPreflight = honoCors({
    origin: (origin) => origin,
    // One element each: hono joins a list with "," where these have always been ", "-separated.
    allowMethods: (_origin, c) => [allowedMethods(c.req.path).join(', ')],
    allowHeaders: [ALLOWED_HEADERS],
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  })
  const markReadable = honoCors({ origin: (origin) => origin, exposeHeaders: [EXPOSED_HEADERS] })
  return async function cors(c, next) {
    const allowed = parseAllowedOrigins(c.env?.CORS_ALLOWED_ORIGINS)
    if (allowed.size === 0) return next()
    const origin = c.req.header('origin')
    const permitted = origin !== undefined && allowed.has(origin)
    if (permitted && c.req.method !== 'OPTIONS') return markReadable(c, next)
    // A preflight is allowed the methods the path serves, as its 405 Allow lists them; a path the
    // app does not serve gets its 404 from the router.
    const preflight = permitted && Boolean(c.req.header('access-control-request-method'))
    if (preflight && allowedMethods(c.req.path).length > 0) {
      // The answer depends on a method being asked for, not only on Origin.
      c.header('vary', 'Access-Control-Request-Method', { append: true })
      return answerPreflight(c, next)
    }
    await next()
    const headers = writableHeaders(c)
    headers.append('vary', 'Origin')
    if (permitted) {
      headers.set('access-control-allow-origin', origin)
      headers.set('access-control-expose-headers', EXPOSED_HEADERS)
    }
  }
}
