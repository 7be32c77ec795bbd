// Work a response need not wait for (cache fills, audit events, enqueueing): collected while the
// request is handled and started only after the response is handed back, through waitUntil.
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './app-env.ts'
import { log } from '../log.ts'

export function afterResponse(): MiddlewareHandler<AppEnv> {
  return async function afterResponse(c, next) {
    const tasks: Array<() => Promise<unknown>> = []
    c.set('defer', (task) => void tasks.push(task))
    await next()
    if (tasks.length > 0) c.executionCtx.waitUntil(runAfterResponse(tasks, c.get('requestId')))
  }
}

async function runAfterResponse(
  tasks: Array<() => Promise<unknown>>,
  requestId: string,
): Promise<void> {
  // A timer, not a microtask: no task starts before the response has left the handler chain, so
  // no binding call of theirs can delay it.
  await new Promise((resolve) => setTimeout(resolve, 0))
  await Promise.all(
    tasks.map((task) =>
      task().catch((cause: unknown) =>
        log('error', 'deferred work failed', { requestId, cause: String(cause) }),
      ),
    ),
  )
}
