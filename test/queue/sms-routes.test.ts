// The second SMS route (decisions.md D45): Vonage's SMS API takes over from Twilio's when Twilio
// refuses Portero's settings, or while its circuit breaker is open; an attempt whose outcome is
// unknown never fails over. Each test has a breaker of its own (a RouteHealth object by a fresh
// name) and the consumer's clock, so time is the test's.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { loadChannelConfig } from '../../src/config.ts'
import { createSecondarySmsNotifier } from '../../src/channels/channels.ts'
import { createSmsNotifier } from '../../src/channels/sms.ts'
import type { Notifiers } from '../../src/channels/channels.ts'
import worker from '../../src/index.ts'
import { consumeDispatchBatch } from '../../src/queue/consumer.ts'
import { rememberRouteHealth, ROUTE_MEMORY_MS } from '../../src/queue/sms-routes.ts'
import { findDeliveryById } from '../../src/storage/messages.ts'
import {
  freshShardDatabaseIn,
  shardDatabaseIn,
  sharedShardDatabaseIn,
} from '../../src/storage/shard-database.ts'
import type { StandIn } from '../../stand-in/app.ts'
import {
  createSender,
  deliveryDb,
  dispatchJob,
  freshPhone,
  readMessage,
  writeOutbox,
  type MessageView,
} from '../helpers/dispatch.ts'
import { call } from '../helpers/http.ts'
import { runShardAlarm } from '../helpers/shards.ts'
import { useStandIn, VONAGE_VARS } from '../helpers/stand-in.ts'
import { registerEndpoint } from '../helpers/webhooks.ts'

// Now, as the stand-in's message list dates messages by the real clock.
const T = Date.now()
const channels = () => loadChannelConfig({ ...env, ...VONAGE_VARS })

/** A breaker of the test's own. */
const freshBreaker = () => env.ROUTE_HEALTH.getByName(`test-${crypto.randomUUID()}`)

/** Hands the deliveries to the consumer in one batch, at `at`, with both SMS routes. */
async function consume(
  ids: string[],
  breaker: ReturnType<typeof freshBreaker>,
  at: number,
  notifiers: Notifiers = { sms: createSmsNotifier(channels().sms!) },
) {
  const batch = createMessageBatch(
    env.DISPATCH_QUEUE_NAME,
    ids.map((id, i) => ({
      id: `m-${i}`,
      timestamp: new Date(at),
      attempts: 1,
      body: dispatchJob(id),
    })),
  )
  const ctx = createExecutionContext()
  await consumeDispatchBatch(batch, {
    db: env.DB,
    shards: (name) => shardDatabaseIn(env.SEND_SHARDS, name),
    freshShards: (name) => freshShardDatabaseIn(env.SEND_SHARDS, name),
    sharedShards: (name, tasks) => sharedShardDatabaseIn(env.SEND_SHARDS, name, tasks),
    dispatch: () => env.DISPATCH_QUEUE,
    // SMS only here: no push asks for its acknowledgement URL.
    ackUrl: () => Promise.reject(new Error('no push in these tests')),
    notifiers,
    routes: { secondary: createSecondarySmsNotifier(channels())!, health: breaker },
    now: () => new Date(at),
  })
  return getQueueResult(batch, ctx)
}

const row = async (id: string) => (await findDeliveryById(deliveryDb(id), id))!
/** Twilio's send requests for `to`, by answer status. */
const twilio = (standIn: StandIn, to: string) =>
  standIn.state.sms
    .filter((r) => r.method === 'POST' && (r.body as { To?: string }).To === to)
    .map((r) => r.status)
/** Vonage's send requests for `to` (digits), by message status. */
const vonage = (standIn: StandIn, to: string) =>
  standIn
    .vonage!.requests.filter((r) => r.body.to === to.slice(1))
    .map(
      (r) =>
        (r.response as { messages?: { status: string }[] }).messages?.[0]?.status ?? r.httpStatus,
    )
const timeline = async (id: string) =>
  (
    await deliveryDb(id)
      .prepare('SELECT status, detail FROM delivery_events WHERE delivery_id = ?1 ORDER BY rowid')
      .bind(id)
      .all<{ status: string; detail: string | null }>()
  ).results

describe('a second SMS route', () => {
  it('fails over at once when the primary refuses Portero’s credentials: sent once, delivered', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = freshPhone()
    const [id] = await writeOutbox(sender, [{ address: to }])
    standIn.state.failures.push({ target: 'sms', status: 401, remaining: 1 })
    await registerEndpoint(sender, ['message.failed_over'])
    const breaker = freshBreaker()
    const result = await consume([id!], breaker, T)
    expect(result.explicitAcks).toEqual(['m-0'])
    expect(twilio(standIn, to)).toEqual([401])
    expect(vonage(standIn, to)).toEqual(['0'])
    const sent = await row(id!)
    expect(sent).toMatchObject({ status: 'sent', route: 'secondary', attempts: 1 })
    expect(sent.providerMessageId).toMatch(/^[0-9A-F]{16}$/)
    // The route is recorded in the timeline before the attempt by it.
    expect(await timeline(id!)).toEqual([
      { status: 'queued', detail: null },
      { status: 'sending', detail: null },
      {
        status: 'sending',
        detail:
          "by the secondary SMS route: the primary SMS route refused Portero's account or settings",
      },
      { status: 'sent', detail: null },
    ])
    // Vonage's receipt reaches the delivery in its shard.
    const [receipt] = await standIn.vonage!.sendReceipts()
    expect(receipt!.answer).toBe(200)
    expect(await row(id!)).toMatchObject({ status: 'delivered' })
    // The provider sees the route; the breaker opened at once.
    const view = (await (await readMessage(sender, sent.messageId)).json()) as MessageView
    expect(view.deliveries[0]).toMatchObject({ status: 'delivered', route: 'secondary' })
    expect(await breaker.state()).toMatchObject({ state: 'open', openedAt: T })
    // The provider is told that it failed over, and why.
    await runShardAlarm(sender.providerId)
    const { results } = await env.DB.prepare(
      "SELECT payload FROM webhook_events WHERE provider_id = ?1 AND type = 'message.failed_over'",
    )
      .bind(sender.providerId)
      .all<{ payload: string }>()
    expect(results.map((r) => (JSON.parse(r.payload) as { data: unknown }).data)).toEqual([
      expect.objectContaining({
        delivery_id: id,
        status: 'failed_over',
        reason:
          "by the secondary SMS route: the primary SMS route refused Portero's account or settings",
      }),
    ])
  })

  it('opens the breaker after 5 transient failures; the SMS then go by Vonage, once each', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const phones = Array.from({ length: 5 }, freshPhone)
    const ids = await writeOutbox(
      sender,
      phones.map((address) => ({ address })),
    )
    standIn.state.failures.push({ target: 'sms', status: 503, remaining: 5 })
    const breaker = freshBreaker()
    const first = await consume(ids, breaker, T)
    expect(first.retryMessages).toHaveLength(5)
    for (const to of phones) expect(vonage(standIn, to)).toEqual([])
    expect(await breaker.state()).toMatchObject({ state: 'open', failures: 5 })
    // The next attempts ask Twilio about the earlier ones (a 503 is not proof), then go by Vonage.
    const second = await consume(ids, breaker, T + 1_000)
    expect(second.explicitAcks).toHaveLength(5)
    for (const [i, to] of phones.entries()) {
      expect(twilio(standIn, to)).toEqual([503])
      expect(vonage(standIn, to)).toEqual(['0'])
      expect(await row(ids[i]!)).toMatchObject({ status: 'sent', route: 'secondary' })
    }
    await standIn.vonage!.sendReceipts()
    for (const id of ids) expect(await row(id)).toMatchObject({ status: 'delivered' })
  })

  it('stays on the primary below the threshold: a transient failure is retried there', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = freshPhone()
    const [id] = await writeOutbox(sender, [{ address: to }])
    standIn.state.failures.push({ target: 'sms', status: 503, remaining: 1 })
    const breaker = freshBreaker()
    await consume([id!], breaker, T)
    await consume([id!], breaker, T + 1_000)
    expect(twilio(standIn, to)).toEqual([503, 201])
    expect(vonage(standIn, to)).toEqual([])
    expect(await row(id!)).toMatchObject({ status: 'sent', route: 'primary' })
    expect(await breaker.state()).toMatchObject({ state: 'closed', failures: 0 })
  })

  it('half-opens after the cool-down: one probe by the primary, which closes it', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const breaker = freshBreaker()
    await breaker.report(['misconfigured'], T)
    const phones = [freshPhone(), freshPhone()]
    const ids = await writeOutbox(
      sender,
      phones.map((address) => ({ address })),
    )
    // Still cooling down: by Vonage.
    await consume([ids[0]!], breaker, T + 59_000)
    expect(vonage(standIn, phones[0]!)).toEqual(['0'])
    expect(twilio(standIn, phones[0]!)).toEqual([])
    // After a minute, one probe goes by Twilio; it is answered, so the breaker closes.
    await consume([ids[1]!], breaker, T + 60_000)
    expect(twilio(standIn, phones[1]!)).toEqual([201])
    expect(vonage(standIn, phones[1]!)).toEqual([])
    expect(await breaker.state()).toMatchObject({ state: 'closed' })
  })

  it('gives the one probe to one SMS of a batch; the others go by Vonage', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const breaker = freshBreaker()
    await breaker.report(['misconfigured'], T)
    const phones = [freshPhone(), freshPhone(), freshPhone()]
    const ids = await writeOutbox(
      sender,
      phones.map((address) => ({ address })),
    )
    await consume(ids, breaker, T + 60_000)
    const byTwilio = phones.filter((to) => twilio(standIn, to).length > 0)
    const byVonage = phones.filter((to) => vonage(standIn, to).length > 0)
    expect(byTwilio).toHaveLength(1)
    expect(byVonage).toHaveLength(2)
    expect(byTwilio.filter((to) => byVonage.includes(to))).toEqual([])
  })

  it('does not fail over an attempt whose answer was lost: it is asked about, and sent once', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = freshPhone()
    const [id] = await writeOutbox(sender, [{ address: to }])
    const breaker = freshBreaker()
    // Twilio accepts the SMS, and the answer never arrives (a timeout after the request went out).
    const lost: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      await response.body?.cancel()
      throw new Error('Network connection lost.')
    }
    const lossy = { sms: createSmsNotifier({ ...channels().sms!, fetch: lost }) }
    const result = await consume([id!], breaker, T, lossy)
    expect(result.retryMessages).toHaveLength(1)
    expect(await row(id!)).toMatchObject({ status: 'queued', route: 'primary' })
    expect((await row(id!)).inDoubtSince).not.toBeNull()
    // Even with the breaker open, the next attempt asks Twilio first, and finds it.
    await breaker.report(['misconfigured'], T + 1_000)
    await standIn.sendCallbacks((c) => c.form.To === to && c.form.MessageStatus === 'sent')
    await consume([id!], breaker, T + 2_000)
    expect(twilio(standIn, to)).toEqual([201])
    expect(vonage(standIn, to)).toEqual([])
    expect(await row(id!)).toMatchObject({ status: 'sent', route: 'primary' })
  })

  it('uses one route only without a second one configured', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = freshPhone()
    const [id] = await writeOutbox(sender, [{ address: to }])
    standIn.state.failures.push({ target: 'sms', status: 401, remaining: 1 })
    const batch = createMessageBatch(env.DISPATCH_QUEUE_NAME, [
      { id: 'm-0', timestamp: new Date(), attempts: 1, body: dispatchJob(id!) },
    ])
    await worker.queue!(batch, env)
    expect(vonage(standIn, to)).toEqual([])
    expect(await row(id!)).toMatchObject({ status: 'failed', route: 'primary' })
  })
})

describe('GET /callbacks/sms/vonage', () => {
  const receipt = (query: string, vars: Partial<Env> = VONAGE_VARS) =>
    worker.fetch!(
      new Request(`https://portero.test/callbacks/sms/vonage?${query}`),
      { ...env, ...vars },
      createExecutionContext(),
    )

  it('answers 403 invalid_signature for a token that is not Portero’s', async () => {
    const response = await receipt('shard=provider%3A1&token=forged&messageId=AB&status=delivered')
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ code: 'invalid_signature' })
  })

  it('answers 501 without a secondary SMS route', async () => {
    const response = await receipt('shard=provider%3A1&token=x&messageId=AB&status=delivered', {})
    expect(response.status).toBe(501)
    expect(await response.json()).toMatchObject({ code: 'channel_not_configured' })
  })

  it('is refused on the deployment itself until the route is configured', async () => {
    const response = await call('/callbacks/sms/vonage?shard=provider%3A1&token=x')
    expect(await response.json()).toMatchObject({ code: 'channel_not_configured' })
    expect(response.status).toBe(501)
  })
})

describe("an isolate's memory of the breaker", () => {
  it('answers from memory for 5 s, and asks again after a failure is reported', async () => {
    const asked: number[] = []
    let answer: 'primary' | 'probe' | 'secondary' = 'primary'
    const api = {
      decide: async (now: number) => (asked.push(now), answer),
      report: async () => null,
    }
    const health = rememberRouteHealth(api)
    expect(await health.decide(T)).toBe('primary')
    answer = 'secondary'
    expect(await health.decide(T + ROUTE_MEMORY_MS - 1)).toBe('primary')
    expect(await health.decide(T + ROUTE_MEMORY_MS)).toBe('secondary')
    await health.report(['transient'], T + ROUTE_MEMORY_MS + 1)
    answer = 'probe'
    // The probe goes to this caller alone; the memory keeps the others on the secondary.
    expect(await health.decide(T + ROUTE_MEMORY_MS + 2)).toBe('probe')
    expect(await health.decide(T + ROUTE_MEMORY_MS + 3)).toBe('secondary')
    expect(asked).toEqual([T, T + ROUTE_MEMORY_MS, T + ROUTE_MEMORY_MS + 2])
  })
})
