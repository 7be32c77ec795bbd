// After a management-API request that may have changed the send facts (decisions.md D48), mounted
// after its authentication: the shards of the providers it changed bring their copies up to date
// before the response leaves (domain/send-facts.ts). The SMS API's inbound messages (STOP and
// START) do the same in their route, once their signature is checked (src/routes/callbacks.ts).
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './app-env.ts'
import { refreshChangedShards } from '../domain/send-facts.ts'
import { readFactCursor } from '../storage/send-facts.ts'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function refreshSendFacts(): MiddlewareHandler<AppEnv> {
  return async function refreshSendFacts(c, next) {
    if (READS.has(c.req.method)) return next()
    // Where D1's log of changes stands before the request: its own changes come after.
    const cursor = await readFactCursor(c.env.DB)
    await next()
    if (c.res.status >= 400) return
    await refreshChangedShards(
      { db: c.env.DB, shardOf: (name) => c.env.SEND_SHARDS.getByName(name) },
      cursor,
    )
  }
}
