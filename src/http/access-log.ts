// The access log: one line per request, in the structured format of log.ts.
import type { Context, MiddlewareHandler } from 'hono'
import { matchedRoutes } from 'hono/route'
import { redactText, write } from '../log.ts'
import { writeRequestPoint } from '../storage/metrics.ts'
import type { AppEnv } from './app-env.ts'

/** Paths are the caller's input: long enough to tell routes and ids apart, no longer. */
const MAX_LOGGED_PATH = 256
/** Cloudflare's location codes are three letters; anything longer is not one. */
const MAX_COLO = 8

/**
 * One line per request, written when it ends: method, path (never the query string), the route
 * pattern it matched, status, the problem code of an error, duration, request id, the Cloudflare
 * location, and the authenticated client and its provider when there is one. Never headers or
 * bodies. The same request is one data point of the METRICS dataset (storage/metrics.ts).
 */
export function accessLog(): MiddlewareHandler<AppEnv> {
  return async function accessLog(c, next) {
    const started = Date.now()
    let status = 500
    try {
      await next()
      status = c.res.status
    } finally {
      const auth = c.get('auth')
      const code = c.get('problemCode') ?? null
      const colo = requestColo(c)
      const route = routePattern(c)
      const durationMs = Date.now() - started
      const method = redactText(c.req.method.slice(0, 16))
      const level = status >= 500 ? 'error' : 'info'
      // Written once per request, so only the caller's input is masked: the path may hold a phone
      // number or a token. The request id is ours, the route pattern is the router's, the code is
      // ours, the client id was authenticated, and the method is one the router knows or is masked
      // as well.
      write(level, {
        level,
        message: 'request',
        time: new Date().toISOString(),
        requestId: c.get('requestId'),
        method,
        path: redactText(c.req.path.slice(0, MAX_LOGGED_PATH)),
        route,
        status,
        ...(code ? { code } : {}),
        durationMs,
        ...(colo ? { colo } : {}),
        ...(auth?.clientId ? { clientId: auth.clientId } : {}),
        ...(auth?.providerId ? { providerId: auth.providerId } : {}),
      })
      // Not awaited: writeDataPoint returns at once. c.env is absent only where an app is run
      // without the Worker's bindings (a unit test's app.request).
      const metrics = c.env?.METRICS
      if (metrics) writeRequestPoint(metrics, { route, method, status, code, colo, durationMs })
    }
  }
}

/**
 * The pattern of the route that served the request (`/admin/clients/:id`): the most specific
 * route of its method, never the path as sent. Null when no route serves the path and method (a
 * 404 or 405), so an unknown path cannot add a value of its own to what the logs group by.
 */
export function routePattern(c: Context<AppEnv>): string | null {
  return matchedRoutes(c).findLast((route) => route.method !== 'ALL')?.path ?? null
}

/** The Cloudflare location that received the request (`request.cf.colo`), when there is one. */
export function requestColo(c: Context<AppEnv>): string | null {
  const colo = (c.req.raw.cf as { colo?: unknown } | undefined)?.colo
  return typeof colo === 'string' && colo ? redactText(colo.slice(0, MAX_COLO)) : null
}
