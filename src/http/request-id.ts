// Gives every request an id, returned as X-Request-Id and written into logs and audit events.
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './app-env.ts'

export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestId(c, next) {
    const id = crypto.randomUUID()
    c.set('requestId', id)
    c.header('x-request-id', id)
    await next()
  }
}
