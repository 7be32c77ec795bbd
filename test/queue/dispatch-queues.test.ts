// Four dispatch queues (decisions.md D49): a send shard's deliveries always go through the queue
// its name picks, and the Worker consumes a batch from any of them as a dispatch batch.
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
import { insertProvider } from '../../src/storage/providers.ts'
import {
  deliveryDb,
  DISPATCH_BINDINGS,
  dispatchJob,
  freshPhone,
  freshSender,
  settle,
  smsRequest,
  smsTo,
  writeOutbox,
  type Sender,
} from '../helpers/dispatch.ts'
import { ORIGIN } from '../helpers/http.ts'
import { countRoundTrips } from '../helpers/round-trips.ts'
import { useStandIn } from '../helpers/stand-in.ts'

/** A sender whose (single) send shard's deliveries go through dispatch queue `index` (0 to 3). */
async function senderOnQueue(index: number, phone: string): Promise<Sender> {
  let id: string
  do id = String(Math.floor(Math.random() * 2 ** 40) + 1)
  while (dispatchQueueIndex(`provider:${id}`, DISPATCH_BINDINGS.length) !== index)
  await insertProvider(env.DB, { id, name: `provider ${id}` })
  return freshSender({ providerId: id, phone })
}

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
  it("enqueues each shard's deliveries on the queue its name picks, and sends them", async () => {
    const standIn = useStandIn()
    const phones = [freshPhone(), freshPhone()]
    const senders = [await senderOnQueue(1, phones[0]!), await senderOnQueue(3, phones[1]!)]
    const counter = countRoundTrips(env)
    const accepted: { id: string; deliveries: { id: string }[] }[] = []
    for (const sender of senders) {
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
    const jobs = senders.map((sender, i) =>
      accepted[i]!.deliveries.map((d) => ({
        deliveryId: d.id,
        shard: `provider:${sender.providerId}`,
      })),
    )
    expect(counter.sent('DISPATCH_QUEUE')).toEqual([])
    expect(counter.sent('DISPATCH_QUEUE_2')).toEqual(jobs[0])
    expect(counter.sent('DISPATCH_QUEUE_3')).toEqual([])
    expect(counter.sent('DISPATCH_QUEUE_4')).toEqual(jobs[1])
    // Each queue's own consumer (wrangler.toml) takes its jobs and sends them.
    for (const [i, sender] of senders.entries()) {
      expect((await settle(sender, accepted[i]!.id)).status).toBe('sent')
      expect(smsTo(standIn, phones[i]!)).toHaveLength(1)
    }
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
    const names = Array.from({ length: 64 }, (_, k) => `provider:424242:${k}`)
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
