// Writes to the send facts (decisions.md D48) reach the send shards' copies before the response
// leaves: the management API's, after its authentication, and the SMS API's inbound messages (STOP
// and START, WhatsApp's session window) once their signature is checked (src/routes/callbacks.ts).
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './app-env.ts'
import { refreshChangedShards } from '../domain/send-facts.ts'
import { readFactCursor } from '../storage/send-facts.ts'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Runs `write`, then has the shards of every provider it changed bring their copies up to date
 * (domain/send-facts.ts), unless it answers that it changed nothing.
 */
export async function refreshingSendFacts(env: Env, write: () => Promise<boolean>): Promise<void> {
  // Where D1's log of changes stands before the write: its own changes come after.
  const cursor = await readFactCursor(env.DB)
  if (!(await write())) return
  await refreshChangedShards(
    { db: env.DB, shardOf: (name) => env.SEND_SHARDS.getByName(name) },
    cursor,
  )
}

/** A management-API route's writes, refreshed when it succeeded. */
export function refreshSendFacts(): MiddlewareHandler<AppEnv> {
  return async function refreshSendFacts(c, next) {
    if (READS.has(c.req.method)) return next()
    await refreshingSendFacts(c.env, async () => {
      await next()
      return c.res.status < 400
    })
  }
}
