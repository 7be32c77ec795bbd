// The audit queue consumer: a batch of per-request events becomes rows written by one D1 statement,
// with repeated failures folded into one row that counts them. The whole batch lands or retries.
import { log } from '../log.ts'
import {
  insertAuditRecords,
  type AuditRecord,
  type OccurredAuditEvent,
} from '../storage/audit-events.ts'
import { AuditJob } from './audit-job.ts'
import { backoff } from './backoff.ts'

export type AuditConsumerDeps = { db: D1Database }

export async function consumeAuditBatch(
  batch: MessageBatch<unknown>,
  deps: AuditConsumerDeps,
): Promise<void> {
  const events: OccurredAuditEvent[] = []
  for (const message of batch.messages) {
    const job = AuditJob.safeParse(message.body)
    if (job.success) {
      events.push(job.data)
    } else {
      // Nothing a retry could fix: acked, so retryAll below leaves it out.
      log('error', 'dropping a malformed audit event', { queueMessageId: message.id })
      message.ack()
    }
  }
  if (events.length === 0) return
  try {
    await insertAuditRecords(deps.db, foldAuditEvents(events))
  } catch (cause) {
    const attempts = Math.max(...batch.messages.map((m) => m.attempts))
    log('error', 'audit batch failed, retrying', {
      events: events.length,
      attempts,
      cause: String(cause),
    })
    batch.retryAll({ delaySeconds: backoff(attempts) })
    return
  }
  batch.ackAll()
}

/**
 * One record per event, except that failures alike in everything but their time and request id (a
 * client id guessed again and again from one address, an address knocking at one admin route)
 * become one record that counts them, with the first one's time and request id. Successes are
 * never folded: each issued token or revocation keeps its row. Oldest first.
 */
export function foldAuditEvents(events: OccurredAuditEvent[]): AuditRecord[] {
  const ordered = [...events].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt))
  const records: AuditRecord[] = []
  const folded = new Map<string, AuditRecord>()
  for (const event of ordered) {
    const key = event.outcome === 'failure' ? foldKey(event) : undefined
    const same = key === undefined ? undefined : folded.get(key)
    if (same) {
      same.count++
      same.lastOccurredAt = event.occurredAt
      continue
    }
    const record: AuditRecord = { ...event, count: 1, lastOccurredAt: event.occurredAt }
    records.push(record)
    if (key !== undefined) folded.set(key, record)
  }
  return records
}

function foldKey(e: OccurredAuditEvent): string {
  return canonicalJson([e.action, e.outcome, e.actor, e.target, e.ip, e.detail ?? {}])
}

/** JSON with object keys sorted, so that equal details give equal keys. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )
}
