// The access log: one line per request, in the structured format of log.ts.
import type { MiddlewareHandler } from 'hono'
import { redactText, write } from '../log.ts'
import type { AppEnv } from './app-env.ts'

/** Paths are the caller's input: long enough to tell routes and ids apart, no longer. */
const MAX_LOGGED_PATH = 256

/**
 * One line per request, written when it ends: method, path (never the query string), status,
 * duration, request id and the authenticated client when there is one. Never headers or bodies.
 */
export function accessLog(): MiddlewareHandler<AppEnv> {
  return async function accessLog(c, next) {
    const started = Date.now()
    let status = 500
    try {
      await next()
      status = c.res.status
    } finally {
      const clientId = c.get('auth')?.clientId
      const level = status >= 500 ? 'error' : 'info'
      // Written once per request, so only the caller's input is masked: the path may hold a phone
      // number or a token. The request id is ours, the client id was authenticated, and the method
      // is one the router knows or is masked as well.
      write(level, {
        level,
        message: 'request',
        time: new Date().toISOString(),
        requestId: c.get('requestId'),
        method: redactText(c.req.method.slice(0, 16)),
        path: redactText(c.req.path.slice(0, MAX_LOGGED_PATH)),
        status,
        durationMs: Date.now() - started,
        ...(clientId ? { clientId } : {}),
      })
    }
  }
}
