import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import worker from '../../src/index.ts'
import { loadConfig } from '../../src/config.ts'
import { publishWebhookEvents } from '../../src/storage/webhooks.ts'
import {
  WEBHOOK_DELIVERY_RULES,
  WEBHOOK_GONE_REASON,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_PROVIDER_LIMIT,
  WEBHOOK_SLOW_MS,
  WEBHOOK_TIMEOUT_MS,
} from '../../src/domain/webhooks.ts'
import {
  consumeWebhookBatch,
  consumeWebhookDeadLetters,
  type WebhookDeliveryRules,
} from '../../src/queue/webhook-consumer.ts'
import { sweepWebhookOutbox } from '../../src/queue/webhook-sweeper.ts'
import type { StandIn } from '../../stand-in/app.ts'
import { call } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'
import {
  createWebhookProvider,
  emitEvent,
  receiverAt,
  registerEndpoint,
  verifiesWith,
} from '../helpers/webhooks.ts'

/** A queue that only remembers what it was sent, and after how long it would deliver it. */
function fakeQueue() {
  const sent: unknown[] = []
  const sentDelays: Array<number | undefined> = []
  const queue = {
    sendBatch: async (messages: Iterable<MessageSendRequest>) => {
      for (const m of messages) {
        sent.push(m.body)
        sentDelays.push(m.delaySeconds)
      }
    },
  } as unknown as Queue
  return { queue, sent, sentDelays }
}

type ConsumeOptions = {
  fetch?: typeof globalThis.fetch
  now?: () => Date
  queueName?: string
  rules?: Partial<WebhookDeliveryRules>
  /** Called once the batch is made, before it is consumed (to watch its messages). */
  watch?: (messages: readonly Message<unknown>[]) => void
}

async function consume(
  bodies: unknown[],
  {
    fetch,
    now = () => new Date(),
    queueName = env.WEBHOOK_QUEUE_NAME,
    rules,
    watch,
  } = {} as ConsumeOptions,
) {
  const batch = createMessageBatch(
    queueName,
    bodies.map((body, i) => ({ id: `webhook-${i}`, timestamp: new Date(), attempts: 1, body })),
  )
  const retries = batch.messages.map((m) => vi.spyOn(m, 'retry'))
  watch?.(batch.messages)
  const ctx = createExecutionContext()
  const { queue, sent, sentDelays } = fakeQueue()
  const { webhookSecretKey } = await loadConfig(env)
  const deps = {
    db: env.DB,
    queue,
    secretKey: webhookSecretKey,
    now,
    fetch,
    rules: { ...WEBHOOK_DELIVERY_RULES, ...rules },
  }
  if (queueName === env.WEBHOOK_QUEUE_NAME) await consumeWebhookBatch(batch, deps)
  else await consumeWebhookDeadLetters(batch, deps)
  const result = await getQueueResult(batch, ctx)
  return {
    result,
    sent,
    sentDelays,
    delays: retries.map((s) => s.mock.calls[0]?.[0]?.delaySeconds),
  }
}

/** Fan-out then delivery, as the queue would run them: the per-endpoint jobs it created. */
async function fanOut(eventId: string) {
  const { sent } = await consume([{ eventId }])
  return sent as Array<{ eventId: string; endpointId: string }>
}

type DeliveryRow = { status: string; attempts: number }
const deliveryOf = (eventId: string, endpointId: string) =>
  env.DB.prepare(
    'SELECT status, attempts FROM webhook_deliveries WHERE event_id = ?1 AND endpoint_id = ?2',
  )
    .bind(eventId, endpointId)
    .first<DeliveryRow>()

type AttemptRow = {
  attempt: number
  http_status: number | null
  error: string | null
  outcome: string
  attempted_at: string
  next_attempt_at: string | null
}
const attemptsOf = async (eventId: string) =>
  (
    await env.DB.prepare(
      `SELECT attempt, http_status, error, outcome, attempted_at, next_attempt_at
       FROM webhook_attempts WHERE event_id = ?1 ORDER BY id`,
    )
      .bind(eventId)
      .all<AttemptRow>()
  ).results

/** Routes the consumer's fetch to the stand-in (its own, not the global spy). */
const viaStandIn = (standIn: StandIn) =>
  (async (input: RequestInfo | URL, init?: RequestInit) =>
    standIn.fetch(new Request(input, init))) as typeof globalThis.fetch

async function setUp(types?: Parameters<typeof registerEndpoint>[1]) {
  const standIn = useStandIn()
  const provider = await createWebhookProvider()
  const endpoint = await registerEndpoint(provider, types)
  const receiver = receiverAt(standIn, endpoint.url)
  receiver.secrets = [endpoint.secret]
  return { standIn, provider, endpoint, receiver, fetch: viaStandIn(standIn) }
}

describe('the fan-out', () => {
  it('writes no event for a provider without an endpoint wanting its type', async () => {
    const provider = await createWebhookProvider()
    await registerEndpoint(provider, ['message.dead'])
    const eventId = await emitEvent(provider.providerId, 'message.delivered')
    const row = await env.DB.prepare('SELECT id FROM webhook_events WHERE id = ?1')
      .bind(eventId)
      .first()
    expect(row).toBeNull()
    // Enqueued anyway, it is dropped at the cost of a read.
    const { result, sent } = await consume([{ eventId }])
    expect(result.explicitAcks).toEqual(['webhook-0'])
    expect(sent).toEqual([])
  })

  it('sends one job per enabled endpoint subscribed to the type, once', async () => {
    const { provider, endpoint } = await setUp(['message.delivered'])
    await registerEndpoint(provider, ['message.failed'])
    const eventId = await emitEvent(provider.providerId, 'message.delivered')
    expect(await fanOut(eventId)).toEqual([{ eventId, endpointId: endpoint.id }])
    const row = await env.DB.prepare('SELECT fanned_out_at FROM webhook_events WHERE id = ?1')
      .bind(eventId)
      .first<{ fanned_out_at: number | null }>()
    expect(row?.fanned_out_at).toEqual(expect.any(Number))
  })
})

describe('a delivery', () => {
  it('POSTs the payload signed as Standard Webhooks says, verified independently', async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    const eventId = await emitEvent(provider.providerId, 'message.undelivered')
    const jobs = await fanOut(eventId)
    const { result } = await consume(jobs, { fetch })
    expect(result.explicitAcks).toEqual(['webhook-0'])
    const [got] = receiver.received
    expect(got).toMatchObject({ id: eventId, verified: true, status: 200 })
    expect(got!.signatures).toHaveLength(1)
    const body = JSON.stringify(got!.body)
    expect(
      await verifiesWith(
        endpoint.secret,
        { id: got!.id!, timestamp: got!.timestamp!, signature: got!.signatures.join(' ') },
        body,
      ),
    ).toBe(true)
    expect(Math.abs(Number(got!.timestamp) - Date.now() / 1000)).toBeLessThan(60)
    expect(got!.body).toEqual({
      type: 'message.undelivered',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: {
        message_id: expect.any(String),
        delivery_id: expect.any(String),
        service_id: 1,
        part: 'notification',
        channel: 'sms',
        status: 'undelivered',
        error_code: '30003',
        reason: 'Unreachable handset',
      },
    })
    expect(body).not.toContain('5491155550000')
    expect(await deliveryOf(eventId, endpoint.id)).toEqual({ status: 'succeeded', attempts: 1 })
    expect(await attemptsOf(eventId)).toEqual([
      expect.objectContaining({ attempt: 1, http_status: 200, outcome: 'succeeded' }),
    ])
  })

  it('is never sent twice to an endpoint once it answered 2xx', async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    const eventId = await emitEvent(provider.providerId)
    const jobs = await fanOut(eventId)
    await consume(jobs, { fetch })
    // The same job again (a queue redelivery) and a second fan-out (the sweeper).
    const again = await consume([...jobs, ...(await fanOut(eventId))], { fetch })
    expect(again.result.explicitAcks).toEqual(['webhook-0'])
    expect(receiver.received).toHaveLength(1)
    expect(await deliveryOf(eventId, endpoint.id)).toEqual({ status: 'succeeded', attempts: 1 })
  })

  it('retries a 500 with backoff, records each attempt, then succeeds', async () => {
    const { provider, receiver, fetch } = await setUp()
    receiver.failNext = 1
    const eventId = await emitEvent(provider.providerId)
    const jobs = await fanOut(eventId)
    const first = await consume(jobs, { fetch })
    expect(first.result.retryMessages).toEqual([{ msgId: 'webhook-0' }])
    expect(first.delays[0]).toBeGreaterThanOrEqual(5)
    expect(first.delays[0]).toBeLessThanOrEqual(10)
    const second = await consume(jobs, { fetch })
    expect(second.result.explicitAcks).toEqual(['webhook-0'])
    const attempts = await attemptsOf(eventId)
    expect(attempts).toEqual([
      expect.objectContaining({ attempt: 1, http_status: 500, outcome: 'retrying' }),
      expect.objectContaining({ attempt: 2, http_status: 200, outcome: 'succeeded' }),
    ])
    const attemptedAt = Math.floor(Date.parse(attempts[0]!.attempted_at) / 1000)
    const nextAt = Date.parse(attempts[0]!.next_attempt_at!) / 1000
    expect(nextAt - attemptedAt).toBe(first.delays[0])
    // The same event id on both attempts: receivers deduplicate on it.
    expect(receiver.received.map((r) => r.id)).toEqual([eventId, eventId])
  })

  it.each([
    ['a 429 with Retry-After', 429, { 'retry-after': '120' }, 'answered 429', 120],
    ['a 4xx', 400, {}, 'answered 400', 5],
    ['a redirect, not followed', 302, { location: 'https://elsewhere.test/' }, 'redirect', 5],
  ])('retries %s', async (_, status, headers, error, minDelay) => {
    const { provider } = await setUp()
    const eventId = await emitEvent(provider.providerId)
    const jobs = await fanOut(eventId)
    const fetch = vi.fn(async () => new Response('no', { status, headers }))
    const { result, delays } = await consume(jobs, { fetch: fetch as typeof globalThis.fetch })
    expect(result.retryMessages).toEqual([{ msgId: 'webhook-0' }])
    expect(delays[0]).toBeGreaterThanOrEqual(minDelay)
    expect(fetch).toHaveBeenCalledTimes(1)
    const [, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(init.redirect).toBe('manual')
    expect((await attemptsOf(eventId))[0]).toMatchObject({
      http_status: status,
      outcome: 'retrying',
      error: expect.stringContaining(error),
    })
  })

  it('retries a network error, recorded without a status', async () => {
    const { provider } = await setUp()
    const eventId = await emitEvent(provider.providerId)
    const jobs = await fanOut(eventId)
    const fetch = (async () => {
      throw new TypeError('connection refused')
    }) as typeof globalThis.fetch
    const { result } = await consume(jobs, { fetch })
    expect(result.retryMessages).toEqual([{ msgId: 'webhook-0' }])
    expect((await attemptsOf(eventId))[0]).toMatchObject({
      http_status: null,
      outcome: 'retrying',
      error: expect.stringContaining('connection refused'),
    })
  })

  it(`is dead for the endpoint after ${WEBHOOK_MAX_ATTEMPTS} failed attempts`, async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    receiver.failNext = 1
    const eventId = await emitEvent(provider.providerId)
    const jobs = await fanOut(eventId)
    await env.DB.prepare('UPDATE webhook_deliveries SET attempts = ?2 WHERE event_id = ?1')
      .bind(eventId, WEBHOOK_MAX_ATTEMPTS - 1)
      .run()
    const { result } = await consume(jobs, { fetch })
    expect(result.explicitAcks).toEqual(['webhook-0'])
    expect(result.retryMessages).toEqual([])
    expect(await deliveryOf(eventId, endpoint.id)).toEqual({
      status: 'dead',
      attempts: WEBHOOK_MAX_ATTEMPTS,
    })
    expect(await attemptsOf(eventId)).toEqual([
      expect.objectContaining({
        attempt: WEBHOOK_MAX_ATTEMPTS,
        outcome: 'dead',
        next_attempt_at: null,
        error: expect.stringContaining(`gave up after ${WEBHOOK_MAX_ATTEMPTS} attempts`),
      }),
    ])
    // Dead is final: a redelivered job sends nothing.
    await consume(jobs, { fetch })
    expect(receiver.received).toHaveLength(1)
  })

  it('disables the endpoint at once on 410 Gone: no retry, audited, the rest dropped', async () => {
    const { provider, endpoint, fetch: viaReceiver } = await setUp()
    const [first, second] = [
      await emitEvent(provider.providerId),
      await emitEvent(provider.providerId),
    ]
    const jobs = [...(await fanOut(first!)), ...(await fanOut(second!))]
    const gone = vi.fn(async () => new Response(null, { status: 410 }))
    const { result } = await consume(jobs.slice(0, 1), { fetch: gone as typeof fetch })
    expect(result.retryMessages).toEqual([])
    expect(result.explicitAcks).toEqual(['webhook-0'])
    expect(await attemptsOf(first!)).toEqual([
      expect.objectContaining({ attempt: 1, http_status: 410, outcome: 'dead' }),
    ])
    const read = await call(`/webhooks/${endpoint.id}`, {
      headers: { authorization: `Bearer ${provider.token}` },
    })
    expect(await read.json()).toMatchObject({
      enabled: false,
      disabled_reason: WEBHOOK_GONE_REASON,
    })
    const audit = await env.DB.prepare(
      `SELECT action FROM audit_events WHERE target = ?1 AND action = 'webhook.disabled'`,
    )
      .bind(endpoint.id)
      .all()
    expect(audit.results).toHaveLength(1)
    // The other pending event is dropped, never sent.
    await consume(jobs.slice(1), { fetch: viaReceiver })
    expect(await deliveryOf(second!, endpoint.id)).toMatchObject({ status: 'dead' })
  })

  it('is dropped, unsent, for an endpoint disabled or deleted since the fan-out', async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    const eventId = await emitEvent(provider.providerId)
    const jobs = await fanOut(eventId)
    await env.DB.prepare(`UPDATE webhook_endpoints SET status = 'disabled' WHERE id = ?1`)
      .bind(endpoint.id)
      .run()
    const { result } = await consume(jobs, { fetch })
    expect(result.explicitAcks).toEqual(['webhook-0'])
    expect(receiver.received).toEqual([])
    expect(await deliveryOf(eventId, endpoint.id)).toMatchObject({ status: 'dead' })
    const deleted = await consume([{ eventId, endpointId: 'ep_gone' }], { fetch })
    expect(deleted.result.explicitAcks).toEqual(['webhook-0'])
  })

  it('acks a malformed job, and retries one whose storage fails', async () => {
    const { result } = await consume([{ nope: true }, 'text'])
    expect(result.explicitAcks).toEqual(['webhook-0', 'webhook-1'])
    const batch = createMessageBatch(env.WEBHOOK_QUEUE_NAME, [
      { id: 'broken', timestamp: new Date(), attempts: 3, body: { eventId: 'msg_x' } },
    ])
    const retry = vi.spyOn(batch.messages[0]!, 'retry')
    const broken = {
      prepare: () => {
        throw new Error('D1 is down')
      },
    } as unknown as D1Database
    const { webhookSecretKey } = await loadConfig(env)
    const ctx = createExecutionContext()
    const deps = {
      queue: fakeQueue().queue,
      secretKey: webhookSecretKey,
      now: () => new Date(),
      rules: WEBHOOK_DELIVERY_RULES,
    }
    await consumeWebhookBatch(batch, { ...deps, db: broken })
    expect((await getQueueResult(batch, ctx)).retryMessages).toEqual([{ msgId: 'broken' }])
    expect(retry.mock.calls[0]?.[0]?.delaySeconds).toBeGreaterThanOrEqual(20)
  })
})

describe('a rotated secret', () => {
  it('signs alongside the new one during the overlap, then only the new one signs', async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    const response = await call(`/webhooks/${endpoint.id}/secret/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${provider.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ overlap_seconds: 3600 }),
    })
    expect(response.status).toBe(200)
    const { secret: fresh } = (await response.json()) as { secret: string }
    expect(fresh).not.toBe(endpoint.secret)
    receiver.secrets = [endpoint.secret, fresh]

    const during = await emitEvent(provider.providerId)
    await consume(await fanOut(during), { fetch })
    const [got] = receiver.received
    expect(got!.signatures).toHaveLength(2)
    expect(got!.matched).toEqual([0, 1])
    const body = JSON.stringify(got!.body)
    for (const [secret, signature] of [
      [fresh, got!.signatures[0]!],
      [endpoint.secret, got!.signatures[1]!],
    ] as const) {
      const headers = { id: got!.id!, timestamp: got!.timestamp!, signature }
      expect(await verifiesWith(secret, headers, body)).toBe(true)
    }

    // The overlap over (as time would end it):
    await env.DB.prepare('UPDATE webhook_endpoints SET previous_secret_until = ?2 WHERE id = ?1')
      .bind(endpoint.id, Math.floor(Date.now() / 1000) - 1)
      .run()
    const after = await emitEvent(provider.providerId)
    await consume(await fanOut(after), { fetch })
    expect(receiver.received[1]!.signatures).toHaveLength(1)
    expect(receiver.received[1]!.matched).toEqual([1])
  })
})

describe('an endpoint that keeps failing', () => {
  it('is disabled with a reason and an audit event, and re-enabled by PATCH', async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    const sixDaysAgo = Math.floor(Date.now() / 1000) - 6 * 24 * 60 * 60
    await env.DB.prepare(
      'UPDATE webhook_endpoints SET consecutive_failures = 9, failing_since = ?2 WHERE id = ?1',
    )
      .bind(endpoint.id, sixDaysAgo)
      .run()
    receiver.failNext = 1
    const eventId = await emitEvent(provider.providerId)
    await consume(await fanOut(eventId), { fetch })

    const auth = { authorization: `Bearer ${provider.token}` }
    const read = await call(`/webhooks/${endpoint.id}`, { headers: auth })
    expect(await read.json()).toMatchObject({
      enabled: false,
      disabled_reason: 'every attempt failed or answered slowly for 5 days',
      disabled_at: expect.any(String),
      consecutive_failures: 10,
    })
    const audit = await env.DB.prepare(
      `SELECT outcome, detail FROM audit_events WHERE action = 'webhook.disabled' AND target = ?1`,
    )
      .bind(endpoint.id)
      .first<{ outcome: string; detail: string }>()
    expect(audit?.outcome).toBe('success')
    expect(JSON.parse(audit!.detail)).toMatchObject({ provider_id: provider.providerId })

    // Disabled: a new event is not even written for it.
    expect(await fanOut(await emitEvent(provider.providerId))).toEqual([])

    const patched = await call(`/webhooks/${endpoint.id}`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: true }),
    })
    expect(await patched.json()).toMatchObject({
      enabled: true,
      disabled_reason: null,
      consecutive_failures: 0,
    })
    const next = await emitEvent(provider.providerId)
    await consume(await fanOut(next), { fetch })
    expect(receiver.received.at(-1)).toMatchObject({ id: next, verified: true })
  })

  it('is not disabled by many failures in a short time', async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    await env.DB.prepare('UPDATE webhook_endpoints SET consecutive_failures = 50 WHERE id = ?1')
      .bind(endpoint.id)
      .run()
    receiver.failNext = 1
    await consume(await fanOut(await emitEvent(provider.providerId)), { fetch })
    const row = await env.DB.prepare('SELECT status FROM webhook_endpoints WHERE id = ?1')
      .bind(endpoint.id)
      .first<{ status: string }>()
    expect(row?.status).toBe('enabled')
  })
})

/** A promise and the function that settles it, for answers the test releases when it wants. */
function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

type EndpointRow = { status: string; consecutive_failures: number; failing_since: number | null }
const endpointRow = (id: string) =>
  env.DB.prepare(
    'SELECT status, consecutive_failures, failing_since FROM webhook_endpoints WHERE id = ?1',
  )
    .bind(id)
    .first<EndpointRow>()

/** `count` events of one provider for one endpoint: their delivery jobs, fanned out. */
async function jobsFor(providerId: string, count: number) {
  const jobs: Array<{ eventId: string; endpointId: string }> = []
  for (let i = 0; i < count; i++) jobs.push(...(await fanOut(await emitEvent(providerId))))
  return jobs
}

describe('one provider cannot starve the others', () => {
  it("sends another provider's delivery while a slow endpoint still keeps its answer", async () => {
    const slow = await setUp()
    const fast = await setUp()
    const [slowJob] = await jobsFor(slow.provider.providerId, 1)
    const [fastJob] = await jobsFor(fast.provider.providerId, 1)
    const answer = deferred<Response>()
    const order: string[] = []
    const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input) === slow.endpoint.url) return answer.promise
      return fast.fetch(input, init)
    }) as unknown as typeof globalThis.fetch
    const fastAcked = deferred<void>()
    const running = consume([slowJob, fastJob], {
      fetch,
      watch: ([, fastMessage]) => {
        const ack = fastMessage!.ack.bind(fastMessage)
        vi.spyOn(fastMessage!, 'ack').mockImplementation(() => {
          order.push('fast delivery acked')
          ack()
          fastAcked.resolve()
        })
      },
    })
    // The fast provider's delivery ends, recorded, while the slow endpoint has not answered.
    await fastAcked.promise
    expect(await deliveryOf(fastJob!.eventId, fast.endpoint.id)).toEqual({
      status: 'succeeded',
      attempts: 1,
    })
    expect(fast.receiver.received).toHaveLength(1)
    order.push('slow endpoint answers')
    answer.resolve(new Response('ok'))
    const { result } = await running
    expect(order).toEqual(['fast delivery acked', 'slow endpoint answers'])
    expect(fetch).toHaveBeenCalledTimes(2)
    expect(result.explicitAcks).toEqual(['webhook-0', 'webhook-1'])
    expect(await deliveryOf(slowJob!.eventId, slow.endpoint.id)).toMatchObject({
      status: 'succeeded',
    })
  })

  it('abandons a request at the timeout: a failed attempt, retried, the rest delivered', async () => {
    const silent = await setUp()
    const fast = await setUp()
    const [silentJob] = await jobsFor(silent.provider.providerId, 1)
    const [fastJob] = await jobsFor(fast.provider.providerId, 1)
    // The silent endpoint never answers and ignores the abort signal: only the consumer's own
    // deadline ends it. The other answers at once, before any timer can fire.
    const fetch = ((input: RequestInfo | URL) =>
      String(input) === silent.endpoint.url
        ? new Promise<Response>(() => {})
        : Promise.resolve(new Response('ok'))) as typeof globalThis.fetch
    const { result } = await consume([silentJob, fastJob], { fetch, rules: { timeoutMs: 20 } })
    expect(result.retryMessages).toEqual([{ msgId: 'webhook-0' }])
    expect(result.explicitAcks).toEqual(['webhook-1'])
    expect(await attemptsOf(silentJob!.eventId)).toEqual([
      expect.objectContaining({
        http_status: null,
        outcome: 'retrying',
        error: 'did not answer within 20 ms',
      }),
    ])
    expect(await endpointRow(silent.endpoint.id)).toMatchObject({ consecutive_failures: 1 })
    expect(await deliveryOf(fastJob!.eventId, fast.endpoint.id)).toMatchObject({
      status: 'succeeded',
    })
  })

  it(`sends at most ${WEBHOOK_PROVIDER_LIMIT} of a provider's deliveries a batch; the rest wait unclaimed`, async () => {
    const busy = await setUp()
    const other = await setUp()
    const busyJobs = await jobsFor(busy.provider.providerId, WEBHOOK_PROVIDER_LIMIT + 2)
    const [otherJob] = await jobsFor(other.provider.providerId, 1)
    const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) =>
      busy.fetch(input, init),
    ) as unknown as typeof globalThis.fetch
    // The other provider's delivery comes last, behind the busy provider's.
    const { result, sent, sentDelays } = await consume([...busyJobs, otherJob], { fetch })
    expect(fetch).toHaveBeenCalledTimes(WEBHOOK_PROVIDER_LIMIT + 1)
    expect(busy.receiver.received).toHaveLength(WEBHOOK_PROVIDER_LIMIT)
    expect(other.receiver.received).toHaveLength(1)
    // Every message is settled once; the two over the limit went back as new messages.
    expect(result.retryMessages).toEqual([])
    expect(result.explicitAcks).toHaveLength(busyJobs.length + 1)
    const putBack = busyJobs.slice(WEBHOOK_PROVIDER_LIMIT)
    expect(sent).toEqual(putBack)
    expect(sentDelays).toEqual([5, 5])
    for (const job of putBack) {
      expect(await deliveryOf(job.eventId, job.endpointId)).toEqual({
        status: 'pending',
        attempts: 0,
      })
    }
    // Back from the queue, they are sent as any delivery is.
    await consume(sent, { fetch })
    expect(busy.receiver.received).toHaveLength(busyJobs.length)
  })

  it('sends one request a batch to an endpoint whose last attempt failed', async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    const jobs = await jobsFor(provider.providerId, 3)
    await env.DB.prepare(
      'UPDATE webhook_endpoints SET consecutive_failures = 1, failing_since = ?2 WHERE id = ?1',
    )
      .bind(endpoint.id, Math.floor(Date.now() / 1000))
      .run()
    const { result, sent, sentDelays } = await consume(jobs, { fetch })
    expect(receiver.received.map((r) => r.id)).toEqual([jobs[0]!.eventId])
    expect(result.explicitAcks).toHaveLength(3)
    expect(sent).toEqual(jobs.slice(1))
    // One request at a time, each of which may take the whole timeout.
    const turn = WEBHOOK_TIMEOUT_MS / 1000
    expect(sentDelays).toEqual([turn, 2 * turn])
    // Its 2xx ended the run: the next batch sends them together again.
    await consume(sent, { fetch })
    expect(receiver.received).toHaveLength(3)
  })

  it('retries the deliveries it could not put back, after their delay', async () => {
    const { provider, receiver, fetch } = await setUp()
    const jobs = await jobsFor(provider.providerId, WEBHOOK_PROVIDER_LIMIT + 1)
    const batch = createMessageBatch(
      env.WEBHOOK_QUEUE_NAME,
      jobs.map((body, i) => ({ id: `full-${i}`, timestamp: new Date(), attempts: 1, body })),
    )
    const retry = vi.spyOn(batch.messages.at(-1)!, 'retry')
    const queue = {
      sendBatch: async () => {
        throw new Error('queue unavailable')
      },
    } as unknown as Queue
    const { webhookSecretKey } = await loadConfig(env)
    const ctx = createExecutionContext()
    await consumeWebhookBatch(batch, {
      db: env.DB,
      queue,
      secretKey: webhookSecretKey,
      now: () => new Date(),
      fetch,
      rules: WEBHOOK_DELIVERY_RULES,
    })
    const result = await getQueueResult(batch, ctx)
    expect(result.retryMessages).toEqual([{ msgId: `full-${WEBHOOK_PROVIDER_LIMIT}` }])
    expect(retry.mock.calls[0]?.[0]?.delaySeconds).toBe(5)
    expect(receiver.received).toHaveLength(WEBHOOK_PROVIDER_LIMIT)
  })
})

describe('a slow answer', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  /** A fetch that answers through the stand-in after `ms` of the (fake) clock. */
  const answeringAfter = (ms: number, fetch: typeof globalThis.fetch) =>
    (async (input: RequestInfo | URL, init?: RequestInit) => {
      vi.setSystemTime(Date.now() + ms)
      return fetch(input, init)
    }) as typeof globalThis.fetch

  it(`over ${WEBHOOK_SLOW_MS} ms is delivered, never sent again, and counts as a failure`, async () => {
    const { provider, endpoint, receiver, fetch } = await setUp()
    const [job] = await jobsFor(provider.providerId, 1)
    vi.useFakeTimers({ toFake: ['Date'] })
    const slow = await consume([job], { fetch: answeringAfter(WEBHOOK_SLOW_MS + 1, fetch) })
    expect(slow.result.explicitAcks).toEqual(['webhook-0'])
    expect(await deliveryOf(job!.eventId, endpoint.id)).toEqual({
      status: 'succeeded',
      attempts: 1,
    })
    expect(await attemptsOf(job!.eventId)).toEqual([
      expect.objectContaining({
        http_status: 200,
        outcome: 'succeeded',
        error: `answered 200 after ${WEBHOOK_SLOW_MS + 1} ms, over ${WEBHOOK_SLOW_MS} ms: delivered, but counted as a failure toward disabling`,
      }),
    ])
    expect(await endpointRow(endpoint.id)).toMatchObject({
      status: 'enabled',
      consecutive_failures: 1,
      failing_since: expect.any(Number),
    })
    await consume([job], { fetch })
    expect(receiver.received).toHaveLength(1)
    // What the provider reads: the attempt succeeded, and says it was counted.
    const auth = { authorization: `Bearer ${provider.token}` }
    const listed = await call(`/webhooks/${endpoint.id}/attempts`, { headers: auth })
    expect(await listed.json()).toMatchObject({
      items: [
        {
          event_id: job!.eventId,
          outcome: 'succeeded',
          duration_ms: WEBHOOK_SLOW_MS + 1,
          error: expect.stringContaining('counted as a failure toward disabling'),
        },
      ],
    })
    const read = await call(`/webhooks/${endpoint.id}`, { headers: auth })
    expect(await read.json()).toMatchObject({ enabled: true, consecutive_failures: 1 })

    // Within the bound, a 2xx ends the run of failures.
    const [next] = await jobsFor(provider.providerId, 1)
    await consume([next], { fetch: answeringAfter(WEBHOOK_SLOW_MS, fetch) })
    expect(await endpointRow(endpoint.id)).toMatchObject({
      consecutive_failures: 0,
      failing_since: null,
    })
  })

  it('disables an endpoint that has answered nothing in time for 5 days', async () => {
    const { provider, endpoint, fetch } = await setUp()
    const sixDaysAgo = Math.floor(Date.now() / 1000) - 6 * 24 * 60 * 60
    await env.DB.prepare(
      'UPDATE webhook_endpoints SET consecutive_failures = 9, failing_since = ?2 WHERE id = ?1',
    )
      .bind(endpoint.id, sixDaysAgo)
      .run()
    const [job] = await jobsFor(provider.providerId, 1)
    vi.useFakeTimers({ toFake: ['Date'] })
    await consume([job], { fetch: answeringAfter(WEBHOOK_SLOW_MS + 1000, fetch) })
    expect(await deliveryOf(job!.eventId, endpoint.id)).toMatchObject({ status: 'succeeded' })
    expect(await endpointRow(endpoint.id)).toMatchObject({
      status: 'disabled',
      consecutive_failures: 10,
    })
    const audit = await env.DB.prepare(
      `SELECT detail FROM audit_events WHERE action = 'webhook.disabled' AND target = ?1`,
    )
      .bind(endpoint.id)
      .first<{ detail: string }>()
    expect(JSON.parse(audit!.detail)).toMatchObject({
      reason: 'every attempt failed or answered slowly for 5 days',
    })
  })
})

describe('the dead-letter queue', () => {
  it('marks a delivery dead and leaves a fan-out to the sweeper', async () => {
    const { provider, endpoint } = await setUp()
    const eventId = await emitEvent(provider.providerId)
    const jobs = await fanOut(eventId)
    const { result } = await consume([...jobs, { eventId }], {
      queueName: env.WEBHOOK_DEAD_LETTER_QUEUE_NAME,
    })
    expect(result.explicitAcks).toEqual(['webhook-0', 'webhook-1'])
    expect(await deliveryOf(eventId, endpoint.id)).toMatchObject({ status: 'dead' })
  })
})

describe('the sweeper', () => {
  it('enqueues events never enqueued, and deliveries whose message was lost', async () => {
    const { provider, endpoint } = await setUp()
    const tenMinutesAgo = new Date(Date.now() - 10 * 60 * 1000)
    const stranded = await emitEvent(provider.providerId, 'message.delivered', tenMinutesAgo)
    const recent = await emitEvent(provider.providerId)
    const lost = await emitEvent(provider.providerId)
    await fanOut(lost)
    await env.DB.prepare('UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE event_id = ?1')
      .bind(lost, Math.floor(tenMinutesAgo.getTime() / 1000))
      .run()

    const { queue, sent } = fakeQueue()
    await sweepWebhookOutbox(env.DB, queue, new Date())
    expect(sent).toContainEqual({ eventId: stranded })
    expect(sent).toContainEqual({ eventId: lost, endpointId: endpoint.id })
    expect(sent).not.toContainEqual({ eventId: recent })
    // Taken once: the next run leaves them to the queue.
    const again = fakeQueue()
    await sweepWebhookOutbox(env.DB, again.queue, new Date())
    expect(again.sent).not.toContainEqual({ eventId: stranded })
  })
})

describe('through the Worker', () => {
  it('routes WEBHOOK_QUEUE_NAME to the consumer: published, fanned out, received', async () => {
    const { provider, receiver } = await setUp()
    const eventId = await emitEvent(provider.providerId, 'message.delivered')
    expect(await publishWebhookEvents(env.WEBHOOK_QUEUE, [eventId])).toBe(true)
    const received = await eventually(
      async () => receiver.received,
      (r) => r.length > 0,
    )
    expect(received[0]).toMatchObject({ id: eventId, verified: true, status: 200 })
  })

  it('runs the sweeper in the scheduled handler: a stranded event still arrives', async () => {
    const { provider, receiver } = await setUp()
    const tenMinutesAgo = new Date(Date.now() - 10 * 60 * 1000)
    const eventId = await emitEvent(provider.providerId, 'message.delivered', tenMinutesAgo)
    await worker.scheduled({ scheduledTime: Date.now(), cron: '*/5 * * * *', noRetry() {} }, env)
    const received = await eventually(
      async () => receiver.received,
      (r) => r.length > 0,
    )
    expect(received[0]).toMatchObject({ id: eventId, verified: true })
  })
})
