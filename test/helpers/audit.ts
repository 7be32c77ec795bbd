// The audit queue in tests: counting the D1 statements a consumer runs, handing it batches as the
// queue would, and waiting for the events the local queue delivers by itself.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { vi } from 'vitest'
import worker from '../../src/index.ts'
import { eventually } from './tokens.ts'

/**
 * The real D1 binding, with every statement it is asked to prepare written down. With `failing`,
 * each statement runs against a table that does not exist: a real D1 error, as in an outage.
 */
export function countingDb(db: D1Database = env.DB, { failing = false } = {}) {
  const statements: string[] = []
  const counted = new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') {
        return (sql: string) => {
          statements.push(sql)
          return target.prepare(
            failing ? 'INSERT INTO audit_outage_no_such_table VALUES (?1)' : sql,
          )
        }
      }
      const value: unknown = Reflect.get(target, property)
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value
    },
  })
  return { db: counted, statements }
}

/** Statements that change data, among those written down. */
export const writes = (statements: string[]) =>
  statements.filter((sql) => /\b(insert|update|delete|replace)\b/i.test(sql))

/**
 * In place of AUDIT_QUEUE, for a request made through `app.request`: keeps what the Worker sends,
 * so the test hands it to the consumer itself, in one batch, when it chooses.
 */
export function keptQueue() {
  const sent: unknown[] = []
  const queue = {
    async send(body: unknown) {
      sent.push(structuredClone(body))
    },
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      for (const m of messages) sent.push(structuredClone(m.body))
    },
  }
  return { queue: queue as unknown as Queue, sent }
}

/**
 * Hands `bodies` to the Worker's queue handler as one audit batch; returns what it acked or
 * retried, and the delay it asked for (getQueueResult leaves that out).
 */
export async function consumeAudit(bodies: unknown[], environment: Env = env, attempts = 1) {
  const batch = createMessageBatch(
    environment.AUDIT_QUEUE_NAME,
    bodies.map((body, i) => ({ id: `audit-message-${i}`, timestamp: new Date(), attempts, body })),
  )
  const retryAll = vi.spyOn(batch, 'retryAll')
  const ctx = createExecutionContext()
  await worker.queue(batch, environment)
  const retryDelay = retryAll.mock.calls[0]?.[0]?.delaySeconds
  return { ...(await getQueueResult(batch, ctx)), retryDelay }
}

/**
 * Longer than the local audit queue takes to deliver a batch (vitest.config.ts: 0.1 s), with room
 * for a busy machine.
 */
export const AUDIT_DELIVERY_MS = 15_000

/** Polls until `check` holds, for events that reach D1 through the audit queue. */
export function eventuallyAudited<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
): Promise<T> {
  return eventually(read, check, { timeoutMs: AUDIT_DELIVERY_MS, intervalMs: 50 })
}
