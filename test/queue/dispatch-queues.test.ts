// Four dispatch queues (decisions.md D49): a delivery's job goes through the queue its id picks, so
// even one shard's deliveries spread over all four, and the Worker consumes a batch from any of them
// as a dispatch batch.
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { app } from '../../src/app.ts'
import { dispatchQueueOf } from '../../src/config.ts'
import { dispatchQueueIndex } from '../../src/domain/admission.ts'
import worker from '../../src/index.ts'
import { findDeliveryById } from '../../src/storage/messages.ts'
import {
  deliveryDb,
  DISPATCH_BINDINGS,
  dispatchBindingOf,
  dispatchJob,
  freshPhone,
  freshSender,
  settle,
  smsRequest,
  smsTo,
  writeOutbox,
} from '../helpers/dispatch.ts'
import { ORIGIN } from '../helpers/http.ts'
import { countRoundTrips } from '../helpers/round-trips.ts'
import { useStandIn } from '../helpers/stand-in.ts'

/** A batch of the dispatch jobs of `ids`, as queue `queue` delivers it to the Worker. */
function batchFrom(queue: string, ids: string[]) {
  const messages = ids.map((id, i) => ({
    id: `m-${i}`,
    timestamp: new Date(),
    attempts: 1,
    body: dispatchJob(id),
  }))
  return createMessageBatch(queue, messages)
}

describe('the dispatch queues', () => {
  it("spreads one shard's deliveries over the four queues by their ids, and sends them", async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await freshSender({ phone })
    const counter = countRoundTrips(env)
    const accepted: { id: string; deliveries: { id: string }[] }[] = []
    // Enough messages that each queue is picked: it fails by chance once in 25,000 runs.
    for (let i = 0; i < 40; i++) {
      const ctx = createExecutionContext()
      const request = new Request(`${ORIGIN}/Services`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(smsRequest(sender)),
      })
      const response = await app.fetch(request, counter.env, ctx)
      await waitOnExecutionContext(ctx)
      expect(response.status).toBe(201)
      accepted.push(await response.json())
    }
    const shard = `provider:${sender.providerId}`
    for (const binding of DISPATCH_BINDINGS) {
      const expected = accepted
        .flatMap((m) => m.deliveries)
        .filter((d) => dispatchBindingOf(d.id) === binding)
        .map((d) => ({ deliveryId: d.id, shard }))
      expect(expected.length).toBeGreaterThan(0)
      expect(counter.sent(binding)).toEqual(expected)
    }
    // Each queue's own consumer (wrangler.toml) takes its jobs and sends them.
    for (const message of accepted) {
      expect((await settle(sender, message.id)).status).toBe('sent')
    }
    expect(smsTo(standIn, phone)).toHaveLength(accepted.length)
  })

  it.each([
    ['DISPATCH_QUEUE_NAME_2', env.DISPATCH_QUEUE_NAME_2],
    ['DISPATCH_QUEUE_NAME_3', env.DISPATCH_QUEUE_NAME_3],
    ['DISPATCH_QUEUE_NAME_4', env.DISPATCH_QUEUE_NAME_4],
  ])('consumes a batch from the queue %s names as one from the first', async (_, queue) => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const to = freshPhone()
    const [id] = await writeOutbox(sender, [{ address: to }])
    const batch = batchFrom(queue, [id!])
    const ctx = createExecutionContext()
    await worker.queue(batch, env)
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(['m-0'])
    expect((await findDeliveryById(deliveryDb(id!), id!))?.status).toBe('sent')
    expect(smsTo(standIn, to)).toHaveLength(1)
  })

  it('throws back a batch from a dispatch queue whose var is emptied, sending nothing', async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const to = freshPhone()
    const [id] = await writeOutbox(sender, [{ address: to }])
    const batch = batchFrom(env.DISPATCH_QUEUE_NAME_3, [id!])
    await expect(worker.queue(batch, { ...env, DISPATCH_QUEUE_NAME_3: '' })).rejects.toThrow(
      `no consumer is configured for queue "${env.DISPATCH_QUEUE_NAME_3}"`,
    )
    expect((await findDeliveryById(deliveryDb(id!), id!))?.status).toBe('queued')
    expect(smsTo(standIn, to)).toHaveLength(0)
  })

  it('picks among the dispatch queues an environment binds, in order', () => {
    const names = Array.from({ length: 64 }, () => crypto.randomUUID())
    const all = dispatchQueueOf(env)
    expect(new Set(names.map(all))).toEqual(new Set(DISPATCH_BINDINGS.map((b) => env[b])))
    for (const name of names) {
      expect(all(name)).toBe(env[DISPATCH_BINDINGS[dispatchQueueIndex(name, 4)]!])
    }
    // DISPATCH_QUEUE_2 and _4 removed: the two left, DISPATCH_QUEUE first.
    const two = dispatchQueueOf({
      ...env,
      DISPATCH_QUEUE_2: undefined,
      DISPATCH_QUEUE_4: undefined,
    })
    for (const name of names) {
      const expected = [env.DISPATCH_QUEUE, env.DISPATCH_QUEUE_3][dispatchQueueIndex(name, 2)]
      expect(two(name)).toBe(expected)
    }
    const { DISPATCH_QUEUE_2, DISPATCH_QUEUE_3, DISPATCH_QUEUE_4, ...one } = env
    expect(new Set(names.map(dispatchQueueOf(one)))).toEqual(new Set([env.DISPATCH_QUEUE]))
  })
})
