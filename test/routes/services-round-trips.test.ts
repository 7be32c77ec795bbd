// What POST /Services waits on (docs/sending.md "What happens next"): one call to the provider's
// send shard, which checks the request against its copy of the send facts, admits and stores the
// message; no D1; the picture writes in one KV round before it, and never the queue. Counted by
// proxies around the real bindings.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { app } from '../../src/app.ts'
import { GRACE_SECONDS } from '../../src/queue/sweeper.ts'
import { findDeliveryById } from '../../src/storage/messages.ts'
import { runShardAlarm, shardDb } from '../helpers/shards.ts'
import { createSender, DISPATCH_BINDINGS, example001, type Sender } from '../helpers/dispatch.ts'
import { call, ORIGIN } from '../helpers/http.ts'
import { randomPng, toBase64 } from '../helpers/pictures.ts'
import { countRoundTrips, type Call } from '../helpers/round-trips.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'

const QUEUE = { timeout: 20_000 }

type ProbeOptions = {
  /** Every queue send fails. */
  failSend?: boolean
  /** Awaited before the request's call to its send shard goes out. */
  beforeShard?: () => Promise<void>
}

/** A call's method: `batch` for `d1.batch(3)`, `getWithMetadata` for `kv.getWithMetadata`. */
const methodOf = (call: Call) => call.name.replace(/^\w+\.|\(\d+\)$/g, '')

/**
 * The test env with D1, KV and the dispatch queue counted (test/helpers/round-trips.ts). Queue
 * sends are held until `release()`, so a response that waited on one could only come after it.
 */
function probeEnv({ failSend = false, beforeShard }: ProbeOptions) {
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  const counter = countRoundTrips(env, {
    async before(call) {
      if (call.kind === 'queue') {
        await held
        if (failSend) throw new Error('queue unavailable')
      }
      if (call.kind === 'do') await beforeShard?.()
    },
  })
  return { counter, release }
}

/** A token check that reads no D1: its state is cached in KV by a first request. */
async function warmToken(sender: Sender): Promise<void> {
  const ctx = createExecutionContext()
  const headers = { authorization: `Bearer ${sender.token}` }
  await app.fetch(
    new Request(`${ORIGIN}/Services/messages/${crypto.randomUUID()}`, { headers }),
    env,
    ctx,
  )
  await waitOnExecutionContext(ctx)
}

type Accepted = { id: string; deliveries: { id: string; picture_url: string | null }[] }

/**
 * POST /Services through the app with the probes. Returns the response, the binding calls that
 * started before it, and what reached the queue once the deferred work was done.
 */
async function dispatchProbed(
  sender: Sender,
  body: unknown,
  headers: Record<string, string> = {},
  options: ProbeOptions = {},
) {
  const probe = probeEnv(options)
  const ctx = createExecutionContext()
  const request = new Request(`${ORIGIN}/Services`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${sender.token}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify(body),
  })
  // Should the handler await a send, the held send is let go after a while so the test fails
  // on the count below instead of timing out.
  const timer = setTimeout(probe.release, 2000)
  const response = await app.fetch(request, probe.counter.env, ctx)
  const atResponse = probe.counter.timeline().map((c) => ({ ...c, method: methodOf(c) }))
  clearTimeout(timer)
  probe.release()
  await waitOnExecutionContext(ctx)
  const d1 = atResponse.filter((c) => c.kind === 'd1')
  const shard = atResponse.filter((c) => c.kind === 'do')
  const pictures = atResponse.filter((c) => c.kind === 'kv' && c.key?.startsWith('picture:'))
  // A send is held until the response is out: one already done means the response waited for it.
  const sendsAwaited = atResponse.filter((c) => c.kind === 'queue' && c.end !== undefined)
  return {
    response,
    d1,
    shard,
    pictures,
    sendsAwaited,
    sent: DISPATCH_BINDINGS.flatMap((binding) => probe.counter.sent(binding)),
  }
}

/** Waits until the consumer has sent the sender's delivery (the real queue and the stand-in). */
async function untilSent(sender: Sender, id: string) {
  const shard = shardDb(sender.providerId)
  let delivery = await findDeliveryById(shard, id)
  for (let round = 0; round < 15 && delivery?.status !== 'sent'; round++) {
    delivery = await eventually(
      () => findDeliveryById(shard, id),
      (d) => d?.status === 'sent',
    )
  }
  return delivery
}

describe('POST /Services round trips', () => {
  it(
    'answers a first send after one call to the shard, no D1, and enqueues after the response',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await createSender()
      await warmToken(sender)
      const key = { 'idempotency-key': `order-${crypto.randomUUID()}` }
      const { response, d1, shard, pictures, sendsAwaited, sent } = await dispatchProbed(
        sender,
        example001(sender),
        key,
      )
      expect(response.status).toBe(201)
      const message = (await response.json()) as Accepted
      // Nothing read from D1, nothing written: one call to the provider's shard checks the
      // request against the shard's copy of the send facts, admits and stores the message.
      expect(d1).toEqual([])
      const name = `provider:${sender.providerId}`
      expect(shard).toMatchObject([{ method: 'accept', key: name }])
      expect(pictures).toEqual([])
      expect(sendsAwaited).toEqual([])
      // The probe lets the send go once the response is out: it carries every delivery of the
      // message, with the shard that holds it.
      const ids = message.deliveries.map((d) => d.id)
      const jobs = ids.map((deliveryId) => ({ deliveryId, shard: name }))
      expect(sent).toEqual(expect.arrayContaining(jobs))
      expect(sent).toHaveLength(ids.length)
      for (const id of ids) expect((await untilSent(sender, id))?.status).toBe('sent')
    },
  )

  it(
    'answers a replay after the same round trips, from the shard, and sends nothing',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await createSender()
      await warmToken(sender)
      const key = { 'idempotency-key': `order-${crypto.randomUUID()}` }
      const first = await dispatchProbed(sender, example001(sender), key)
      expect(first.response.status).toBe(201)
      const original = (await first.response.json()) as Accepted

      const again = await dispatchProbed(sender, example001(sender), key)
      expect(again.response.status).toBe(200)
      expect(((await again.response.json()) as Accepted).id).toBe(original.id)
      expect(again.d1).toEqual([])
      expect(again.shard).toMatchObject([{ method: 'accept' }])
      expect(again.sent).toEqual([])
      for (const { id } of original.deliveries) {
        expect((await untilSent(sender, id))?.status).toBe('sent')
      }
    },
  )

  it('writes a new picture in one KV round, before the call to the shard', QUEUE, async () => {
    useStandIn()
    const sender = await createSender()
    await warmToken(sender)
    const base = example001(sender)
    const advertisement = { ...base.parameters.advertisement, Picture: toBase64(randomPng()) }
    const body = { ...base, parameters: { ...base.parameters, advertisement } }
    const { response, d1, shard, pictures } = await dispatchProbed(sender, body)
    expect(response.status).toBe(201)
    expect(d1).toEqual([])
    const [lookup, write, ...more] = pictures
    expect(more).toEqual([])
    expect(lookup).toMatchObject({ method: 'getWithMetadata' })
    // Stored before the rows that point to it.
    expect(write).toMatchObject({ method: 'put', key: lookup!.key })
    expect(write!.start).toBeGreaterThan(lookup!.end!)
    expect(write!.end).toBeLessThan(shard[0]!.start)

    // The same picture again is stored already: looked up, not written.
    const second = await dispatchProbed(sender, body)
    expect(second.response.status).toBe(201)
    expect(second.pictures.map((c) => c.method)).toEqual(['getWithMetadata'])
    const accepted = [
      (await response.json()) as Accepted,
      (await second.response.json()) as Accepted,
    ]
    for (const { id } of accepted.flatMap((m) => m.deliveries))
      expect((await untilSent(sender, id))?.status).toBe('sent')
  })

  it(
    'answers the loser of a race for one Idempotency-Key with the winner’s message',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await createSender()
      await warmToken(sender)
      // Both requests are ready before either reaches the shard: the shard, one call at a time,
      // decides.
      let arrived = 0
      let meet!: () => void
      const together = new Promise<void>((resolve) => (meet = resolve))
      const beforeShard = async () => {
        if (++arrived === 2) meet()
        await together
      }
      const key = { 'idempotency-key': `order-${crypto.randomUUID()}` }
      const results = await Promise.all(
        [0, 1].map(() => dispatchProbed(sender, example001(sender), key, { beforeShard })),
      )
      expect(results.map((r) => r.response.status).sort()).toEqual([200, 201])
      const winner = results.find((r) => r.response.status === 201)!
      const loser = results.find((r) => r.response.status === 200)!
      const accepted = (await winner.response.json()) as Accepted
      expect(await loser.response.json()).toEqual(accepted)
      expect(loser.response.headers.get('idempotent-replayed')).toBe('true')
      // The loser's one shard call finds the winner's message: no round trip more.
      for (const result of [winner, loser]) {
        expect(result.d1).toEqual([])
        expect(result.shard).toMatchObject([{ method: 'accept' }])
      }
      expect(loser.sent).toEqual([])
      expect(winner.sent).toHaveLength(accepted.deliveries.length)
      for (const { id } of accepted.deliveries) {
        expect((await untilSent(sender, id))?.status).toBe('sent')
      }
    },
  )

  it(
    "leaves the message queued in its shard when the enqueue fails, and the shard's alarm sends it",
    QUEUE,
    async () => {
      useStandIn()
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      const sender = await createSender()
      await warmToken(sender)
      const { response } = await dispatchProbed(sender, example001(sender), {}, { failSend: true })
      expect(response.status).toBe(201)
      const text = await response.text()
      const message = JSON.parse(text) as Accepted
      const shard = shardDb(sender.providerId)
      for (const { id } of message.deliveries) {
        expect(await findDeliveryById(shard, id)).toMatchObject({ status: 'queued', attempts: 0 })
      }
      // Built from what was inserted, the answer is the stored message as its status view shows it
      // (which adds each delivery's timeline).
      const view = await call(`/Services/messages/${message.id}`, {
        headers: { authorization: `Bearer ${sender.token}` },
      })
      const shown = (await view.json()) as Accepted & { deliveries: { events?: unknown }[] }
      for (const delivery of shown.deliveries) {
        expect(delivery.events).toEqual([expect.objectContaining({ status: 'queued' })])
        delete delivery.events
      }
      expect(JSON.stringify(shown)).toBe(text)
      const warnings = warn.mock.calls.map(
        ([line]) => JSON.parse(String(line)) as Record<string, unknown>,
      )
      const enqueueFailed = {
        level: 'warn',
        message: expect.stringMatching(/enqueue failed/),
        messageId: message.id,
      }
      expect(warnings).toContainEqual(expect.objectContaining(enqueueFailed))

      // The alarm's sweep after the grace period finds the deliveries overdue and enqueues them:
      // the grace is taken back from their due time rather than waited for.
      await shard
        .prepare(
          'UPDATE deliveries SET next_attempt_at = next_attempt_at - ?2 WHERE message_id = ?1',
        )
        .bind(message.id, 2 * GRACE_SECONDS)
        .run()
      expect(await runShardAlarm(sender.providerId)).toBe(true)
      for (const { id } of message.deliveries) {
        expect(await untilSent(sender, id)).toMatchObject({ status: 'sent', attempts: 1 })
      }
    },
  )
})
