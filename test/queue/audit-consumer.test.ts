// The audit queue's consumer, handed batches as the queue hands them: one D1 statement a batch,
// repeated failures folded into one counted row, occurrence times kept, and a failed write retried
// whole so that nothing is lost.
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { AUDIT_LIMITS, type OccurredAuditEvent } from '../../src/storage/audit-events.ts'
import { consumeAudit, countingDb } from '../helpers/audit.ts'
import { freshIp } from '../helpers/http.ts'

type Row = {
  id: number
  occurred_at: string
  last_at: string | null
  count: number
  action: string
  outcome: string
  actor: string | null
  target: string | null
  request_id: string | null
  ip: string | null
  detail: string
}

async function rowsOf(target: string): Promise<Row[]> {
  const { results } = await env.DB.prepare(
    'SELECT * FROM audit_events WHERE target = ?1 ORDER BY id',
  )
    .bind(target)
    .all<Row>()
  return results
}

/** A time `seconds` before now, as the Worker stamps events. */
const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString()

function issued(target: string, occurredAt: string, jti = crypto.randomUUID()): OccurredAuditEvent {
  return {
    action: 'token.issued',
    outcome: 'success',
    actor: target,
    target,
    requestId: crypto.randomUUID(),
    ip: '203.0.113.7',
    detail: { via: 'oauth/token', jti, scope: 'services:send', aud: ['https://portero.test'] },
    occurredAt,
  }
}

function failedLogin(
  target: string,
  ip: string,
  occurredAt: string,
  reason = 'wrong_secret',
): OccurredAuditEvent {
  return {
    action: 'login.failed',
    outcome: 'failure',
    actor: null,
    target,
    requestId: crypto.randomUUID(),
    ip,
    detail: { via: 'oauth/token', reason },
    occurredAt,
  }
}

describe('audit consumer', () => {
  it('inserts a batch of 100 events with one D1 statement, at the times they happened, and acks it', async () => {
    const target = `client-${crypto.randomUUID()}`
    // An hour ago, a millisecond apart: the rows must not take the insert time instead.
    const events = Array.from({ length: 100 }, (_, i) =>
      issued(target, new Date(Date.now() - 3600_000 + i).toISOString()),
    )
    const counted = countingDb()
    const result = await consumeAudit(events, { ...env, DB: counted.db })
    expect(counted.statements).toHaveLength(1)
    expect(result.ackAll).toBe(true)
    expect(result.retryBatch.retry).toBe(false)
    expect(result.retryMessages).toEqual([])

    const rows = await rowsOf(target)
    expect(rows).toHaveLength(100)
    expect(rows.map((r) => r.occurred_at)).toEqual(events.map((e) => e.occurredAt))
    expect(rows.map((r) => r.request_id)).toEqual(events.map((e) => e.requestId))
    expect(rows[0]).toMatchObject({
      count: 1,
      last_at: null,
      action: 'token.issued',
      outcome: 'success',
      actor: target,
      ip: '203.0.113.7',
    })
    expect(JSON.parse(rows[0]!.detail)).toEqual(events[0]!.detail)
  })

  it('folds repeated failures from one address into one row that counts them', async () => {
    const target = `client-${crypto.randomUUID()}`
    const attacker = freshIp()
    const other = freshIp()
    const repeated = [5, 4, 3, 2, 1].map((s) => failedLogin(target, attacker, ago(s)))
    const events = [
      ...repeated.slice(2),
      failedLogin(target, other, ago(2.5)), // another address
      failedLogin(target, attacker, ago(2.5), 'client_disabled'), // another reason
      ...repeated.slice(0, 2), // the batch need not be in order
      issued(target, ago(1.5)),
    ]
    const counted = countingDb()
    await consumeAudit(events, { ...env, DB: counted.db })
    expect(counted.statements).toHaveLength(1)

    const rows = await rowsOf(target)
    expect(rows.map((r) => [r.action, r.ip, JSON.parse(r.detail).reason, r.count])).toEqual([
      ['login.failed', attacker, 'wrong_secret', 5],
      ['login.failed', other, 'wrong_secret', 1],
      ['login.failed', attacker, 'client_disabled', 1],
      ['token.issued', '203.0.113.7', undefined, 1],
    ])
    // The first occurrence's time and request id, the last one's time.
    expect(rows[0]).toMatchObject({
      occurred_at: repeated[0]!.occurredAt,
      request_id: repeated[0]!.requestId,
      last_at: repeated[4]!.occurredAt,
    })
  })

  it('never folds successes, however alike', async () => {
    const target = `client-${crypto.randomUUID()}`
    const at = ago(1)
    const revoked = (): OccurredAuditEvent => ({
      action: 'token.revoked',
      outcome: 'success',
      actor: target,
      target,
      requestId: crypto.randomUUID(),
      ip: '203.0.113.7',
      detail: { outcome: 'revoked' },
      occurredAt: at,
    })
    await consumeAudit([revoked(), revoked(), revoked()])
    expect((await rowsOf(target)).map((r) => r.count)).toEqual([1, 1, 1])
  })

  it('retries the whole batch when D1 fails, and the retry loses nothing', async () => {
    const target = `client-${crypto.randomUUID()}`
    const ip = freshIp()
    const events = [
      ...Array.from({ length: 40 }, (_, i) => issued(target, ago(10 - i / 10))),
      ...Array.from({ length: 3 }, (_, i) => failedLogin(target, ip, ago(5 - i))),
    ]
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const broken = countingDb(env.DB, { failing: true })
    const failed = await consumeAudit(events, { ...env, DB: broken.db })
    expect(broken.statements).toHaveLength(1)
    expect(JSON.parse(String(errors.mock.calls[0]?.[0]))).toMatchObject({
      message: 'audit batch failed, retrying',
      events: 43,
      cause: expect.stringMatching(/no such table/),
    })
    expect(failed.retryBatch.retry).toBe(true)
    expect(failed.ackAll).toBe(false)
    expect(failed.explicitAcks).toEqual([])
    expect(await rowsOf(target)).toEqual([])

    // The queue delivers the same messages again.
    const retried = await consumeAudit(events, env, 2)
    expect(retried.ackAll).toBe(true)
    const rows = await rowsOf(target)
    expect(rows.filter((r) => r.action === 'token.issued')).toHaveLength(40)
    expect(rows.filter((r) => r.action === 'login.failed').map((r) => r.count)).toEqual([3])
  })

  it('retries with a delay that grows with the attempts', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const broken = countingDb(env.DB, { failing: true })
    const event = issued(`client-${crypto.randomUUID()}`, ago(1))
    const first = await consumeAudit([event], { ...env, DB: broken.db }, 1)
    const later = await consumeAudit([event], { ...env, DB: broken.db }, 6)
    expect(first.retryBatch.retry).toBe(true)
    expect(first.retryDelay).toBeGreaterThanOrEqual(5)
    expect(later.retryDelay).toBeGreaterThan(first.retryDelay!)
  })

  it('acks and logs a malformed message, and writes the rest of its batch', async () => {
    const target = `client-${crypto.randomUUID()}`
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const result = await consumeAudit([
      issued(target, ago(2)),
      { deliveryId: crypto.randomUUID() }, // a dispatch job on the wrong queue
      { ...issued(target, ago(1)), occurredAt: 'yesterday' },
      'not even an object',
    ])
    expect(result.explicitAcks.sort()).toEqual([
      'audit-message-1',
      'audit-message-2',
      'audit-message-3',
    ])
    expect(result.ackAll).toBe(true)
    expect(await rowsOf(target)).toHaveLength(1)
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)).message)).toEqual([
      'dropping a malformed audit event',
      'dropping a malformed audit event',
      'dropping a malformed audit event',
    ])
  })

  it('bounds every stored field, however long the event', async () => {
    const target = `client-${'t'.repeat(5000)}-${crypto.randomUUID()}`
    const requestId = crypto.randomUUID()
    await consumeAudit([
      {
        action: `a${'c'.repeat(5000)}`,
        outcome: 'failure',
        actor: 'x'.repeat(5000),
        target,
        requestId: requestId + 'r'.repeat(5000),
        ip: '1'.repeat(5000),
        detail: {
          reason: 'y'.repeat(15_000),
          list: Array.from({ length: 500 }, (_, i) => `item ${i}`),
        },
        occurredAt: ago(1),
      } satisfies OccurredAuditEvent,
    ])
    const { results } = await env.DB.prepare('SELECT * FROM audit_events WHERE request_id LIKE ?1')
      .bind(`${requestId}%`)
      .all<Row>()
    expect(results).toHaveLength(1)
    const row = results[0]!
    expect(row.action).toHaveLength(AUDIT_LIMITS.action)
    expect(row.action.endsWith('…')).toBe(true)
    expect(row.actor).toHaveLength(AUDIT_LIMITS.actor)
    expect(row.target).toHaveLength(AUDIT_LIMITS.target)
    expect(row.request_id).toHaveLength(AUDIT_LIMITS.requestId)
    expect(row.ip).toHaveLength(AUDIT_LIMITS.ip)
    const detail = JSON.parse(row.detail) as { reason: string; list: string[] }
    expect(detail.reason).toHaveLength(AUDIT_LIMITS.detailString)
    expect(detail.list).toHaveLength(AUDIT_LIMITS.detailItems)
    expect(row.detail.length).toBeLessThanOrEqual(AUDIT_LIMITS.detailJson)
  })
})

describe('audit consumer at scale', () => {
  it('writes 1,000 issued tokens with at most 10 D1 statements', async () => {
    const target = `client-${crypto.randomUUID()}`
    const counted = countingDb()
    const start = Date.now() - 600_000
    for (let b = 0; b < 10; b++) {
      const events = Array.from({ length: 100 }, (_, i) =>
        issued(target, new Date(start + b * 100 + i).toISOString()),
      )
      const result = await consumeAudit(events, { ...env, DB: counted.db })
      expect(result.ackAll).toBe(true)
    }
    expect(counted.statements.length).toBeLessThanOrEqual(10)
    const { count } = (await env.DB.prepare(
      'SELECT COUNT(*) AS count FROM audit_events WHERE target = ?1',
    )
      .bind(target)
      .first<{ count: number }>())!
    expect(count).toBe(1000)
  })
})
