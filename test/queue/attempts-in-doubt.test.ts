// Attempts whose outcome is unknown (decisions.md D10): the consumer stopped, or lost the answer,
// after the attempt was recorded and possibly accepted by the channel. The next attempt asks the
// SMS API before sending again; a push is sent again, to replace the first on the device.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import worker from '../../src/index.ts'
import { LEASE_SECONDS, OPERATOR_FAULT_TEXT } from '../../src/queue/consumer.ts'
import { claimDelivery, findDeliveryById } from '../../src/storage/messages.ts'
import type { StandIn } from '../../stand-in/app.ts'
import {
  createSender,
  deliveryDb,
  dispatchJob,
  freshPhone,
  writeOutbox,
} from '../helpers/dispatch.ts'
import { runShardAlarm } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'

async function consume(deliveryIds: string[], vars: Partial<Env> = {}, attempts = 1) {
  const batch = createMessageBatch(
    env.DISPATCH_QUEUE_NAME,
    deliveryIds.map((deliveryId, i) => ({
      id: `queue-message-${i}`,
      timestamp: new Date(),
      attempts,
      body: dispatchJob(deliveryId),
    })),
  )
  const retries = batch.messages.map((m) => vi.spyOn(m, 'retry'))
  const ctx = createExecutionContext()
  await worker.queue(batch, { ...env, ...vars })
  const result = await getQueueResult(batch, ctx)
  return { result, delays: retries.map((spy) => spy.mock.calls[0]?.[0]?.delaySeconds) }
}

const row = async (id: string) => (await findDeliveryById(deliveryDb(id), id))!
const lifecycle = (id: string) => ({ shard: deliveryDb(id) })
/** The SMS API's requests about `to`: sends (POST) and list reads (GET). */
const requests = (standIn: StandIn, to: string, method: 'POST' | 'GET') =>
  standIn.state.sms.filter(
    (r) => r.method === method && (r.body as { To?: string } | undefined)?.To === to,
  )
const sends = (standIn: StandIn, to: string) => requests(standIn, to, 'POST')
const listings = (standIn: StandIn, to: string) => requests(standIn, to, 'GET')

/**
 * The SMS API's `sent` callbacks of messages to `to`: sent once the message left its queue, which
 * is when its list shows it (the stand-in, as Twilio, lists a message by its date sent).
 */
const leaveQueue = (standIn: StandIn, to: string) =>
  standIn.sendCallbacks((c) => c.form.To === to && c.form.MessageStatus === 'sent')

const timeline = async (deliveryId: string) =>
  (
    await deliveryDb(deliveryId)
      .prepare(
        'SELECT status FROM delivery_events WHERE delivery_id = ?1 ORDER BY occurred_at, rowid',
      )
      .bind(deliveryId)
      .all<{ status: string }>()
  ).results.map((r) => r.status)

/** Moves a delivery's current attempt `seconds` into the past: its lease runs out as in time. */
async function age(deliveryId: string, seconds: number) {
  await deliveryDb(deliveryId)
    .prepare(
      `UPDATE deliveries SET lease_until = lease_until - ?2, attempt_at = attempt_at - ?2
       WHERE id = ?1`,
    )
    .bind(deliveryId, seconds)
    .run()
}

/** A delivery claimed by a consumer that then died before sending anything: its lease ran out. */
async function strandedBeforeSending(deliveryId: string) {
  const past = new Date(Date.now() - (LEASE_SECONDS + 1) * 1000)
  expect(await claimDelivery(lifecycle(deliveryId), deliveryId, past, LEASE_SECONDS)).not.toBeNull()
}

/**
 * The send shards as a consumer reaches them when its process dies the moment the SMS API has
 * answered: every call after that answer fails, so nothing of it is recorded.
 */
function dyingAfterTheAnswer(standIn: StandIn, to: string): Env['SEND_SHARDS'] {
  const dead = () => sends(standIn, to).some((r) => r.status === 201)
  const shards = env.SEND_SHARDS
  const dying = {
    getByName(name: string) {
      const stub = shards.getByName(name)
      return {
        run: (statements: Parameters<typeof stub.run>[0]) =>
          dead() ? Promise.reject(new Error('the consumer was killed')) : stub.run(statements),
        runFresh: (statements: Parameters<typeof stub.run>[0]) =>
          dead() ? Promise.reject(new Error('the consumer was killed')) : stub.runFresh(statements),
      }
    },
  }
  return dying as unknown as Env['SEND_SHARDS']
}

describe('the consumer killed between the SMS API’s answer and the record', () => {
  it(
    "does not send the SMS again, and the shard's first alarm after the lease ends it delivered",
    { timeout: 30_000 },
    async () => {
      vi.spyOn(console, 'error').mockImplementation(() => {})
      const standIn = useStandIn()
      const phone = freshPhone()
      const sender = await createSender({ phone })
      const [id] = await writeOutbox(sender, [{ address: phone }])

      await consume([id!], { SEND_SHARDS: dyingAfterTheAnswer(standIn, phone) })
      // The SMS went out, and nothing of its answer was recorded: the attempt only.
      expect(sends(standIn, phone).map((r) => r.status)).toEqual([201])
      const stranded = await row(id!)
      expect(stranded).toMatchObject({ status: 'sending', attempts: 1, providerMessageId: null })
      expect(stranded.attemptAt).toEqual(expect.any(Number))
      expect(stranded.inDoubtSince).toBeNull()

      // Its receipts reach the Worker while no delivery has the sid: the final one is kept (the
      // status on the way changes nothing, and is answered so).
      const receipts = await standIn.sendCallbacks((c) => c.form.To === phone)
      expect(receipts.map((c) => [c.form.MessageStatus, c.answer])).toEqual([
        ['sent', 200],
        ['delivered', 202],
      ])

      // While the lease holds, the shard's alarm leaves it alone.
      const run = () => runShardAlarm(sender.providerId)
      await run()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect((await row(id!)).status).toBe('sending')

      // The lease runs out; the alarm's next run (every GRACE_SECONDS while a delivery is on its
      // way) hands it to the queue again: the delivery is final within a lease and half a minute
      // of the kill.
      await age(id!, LEASE_SECONDS + 1)
      await run()
      const final = await eventually(
        () => row(id!),
        (d) => d.status === 'delivered',
        { timeoutMs: 10_000 },
      )
      expect(final).toMatchObject({ status: 'delivered', attempts: 2, inDoubtSince: null })
      expect(final.providerMessageId).toBe(receipts[0]!.form.MessageSid)
      // Asked, found, recorded: exactly one SMS ever reached the SMS API.
      expect(sends(standIn, phone)).toHaveLength(1)
      expect(listings(standIn, phone)).toHaveLength(1)
      expect(await timeline(id!)).toEqual([
        'queued',
        'sending',
        'queued',
        'sending',
        'sent',
        'delivered',
      ])
      expect(
        await deliveryDb(id!)
          .prepare('SELECT 1 FROM early_receipts WHERE message_sid = ?1')
          .bind(final.providerMessageId)
          .first(),
      ).toBeNull()
    },
  )

  it('takes up a delivery whose lease ran out when its queue message comes back', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const [id] = await writeOutbox(sender, [{ address: phone }])
    await consume([id!], { SEND_SHARDS: dyingAfterTheAnswer(standIn, phone) })
    await leaveQueue(standIn, phone)
    // The queue hands the message back at once (it was never acked): it waits out the lease.
    const early = await consume([id!], {}, 2)
    expect(early.result.retryMessages).toEqual([{ msgId: 'queue-message-0' }])
    expect(early.delays[0]).toBeLessThanOrEqual(LEASE_SECONDS + 1)
    await age(id!, LEASE_SECONDS + 1)
    // Back once the lease has run out: the claim takes over.
    const { result } = await consume([id!], {}, 3)
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    expect(await row(id!)).toMatchObject({ status: 'sent', attempts: 2, inDoubtSince: null })
    expect(sends(standIn, phone)).toHaveLength(1)
  })
})

describe('an attempt in doubt', () => {
  it('is sent when the SMS API shows no such message, once', async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const [id] = await writeOutbox(sender, [{ address: phone }])
    await strandedBeforeSending(id!)
    const { result } = await consume([id!])
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    expect(listings(standIn, phone)).toHaveLength(1)
    expect(sends(standIn, phone).map((r) => r.status)).toEqual([201])
    expect(await row(id!)).toMatchObject({ status: 'sent', attempts: 2, inDoubtSince: null })
  })

  it('is sent again while the SMS API does not list it yet: what can still go twice', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const [id] = await writeOutbox(sender, [{ address: phone }])
    await consume([id!], { SEND_SHARDS: dyingAfterTheAnswer(standIn, phone) })
    // Still in the SMS API's queue (no `sent` callback yet): no date sent, so not in its list.
    await age(id!, LEASE_SECONDS + 1)
    await consume([id!], {}, 2)
    expect(listings(standIn, phone)).toHaveLength(1)
    expect(sends(standIn, phone).map((r) => r.status)).toEqual([201, 201])
    expect((await row(id!)).status).toBe('sent')
  })

  it('is retried with backoff, still in doubt and unsent, while the SMS API cannot say', async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const [id] = await writeOutbox(sender, [{ address: phone }])
    await strandedBeforeSending(id!)
    const since = (await row(id!)).attemptAt
    // An outage of the SMS API: its list answers 503 (a send would too).
    standIn.state.failures.push({ target: 'sms', status: 503, retryAfter: 40, remaining: 1 })
    const first = await consume([id!])
    expect(first.result.retryMessages).toEqual([{ msgId: 'queue-message-0' }])
    expect(first.delays[0]).toBeGreaterThanOrEqual(40)
    expect(sends(standIn, phone)).toEqual([])
    const waiting = await row(id!)
    expect(waiting).toMatchObject({ status: 'queued', inDoubtSince: since })
    expect(waiting.lastError).toMatch(/could not say whether an earlier attempt was accepted.*503/)

    // The next attempt asks again, from the same time, and sends.
    const second = await consume([id!], {}, 2)
    expect(second.result.explicitAcks).toEqual(['queue-message-0'])
    expect(listings(standIn, phone)).toHaveLength(2)
    expect(sends(standIn, phone)).toHaveLength(1)
    expect(await row(id!)).toMatchObject({ status: 'sent', inDoubtSince: null, lastError: null })
  })

  it('shows the provider a neutral text when the SMS API refuses to list, and logs why', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const [id] = await writeOutbox(sender, [{ address: phone }])
    await strandedBeforeSending(id!)
    const { result } = await consume([id!], { SMS_AUTH_TOKEN: 'a-rotated-auth-token' })
    expect(result.retryMessages).toEqual([{ msgId: 'queue-message-0' }])
    expect(sends(standIn, phone)).toEqual([])
    expect(await row(id!)).toMatchObject({ status: 'queued', lastError: OPERATOR_FAULT_TEXT })
    const logged = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)
    expect(logged).toContainEqual(
      expect.objectContaining({
        deliveryId: id,
        reason: expect.stringMatching(/refused to list Portero's messages \(HTTP 401/),
      }),
    )
  })

  it('does not take another delivery’s message for its own', async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    // Two deliveries of the same text to the same number: the first one sent and recorded.
    const [first, second] = await writeOutbox(sender, [{ address: phone }, { address: phone }])
    await consume([first!])
    await leaveQueue(standIn, phone)
    const firstSid = (await row(first!)).providerMessageId
    await strandedBeforeSending(second!)
    await consume([second!])
    const sent = await row(second!)
    expect(sent.status).toBe('sent')
    expect(sent.providerMessageId).not.toBe(firstSid)
    // Asked, and the first delivery's message, the same text, was not taken for this one.
    expect(listings(standIn, phone)).toHaveLength(1)
    expect(sends(standIn, phone)).toHaveLength(2)
  })

  it('is not sent when its lease ran out while the SMS API was asked', async () => {
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const [id] = await writeOutbox(sender, [{ address: phone }])
    await strandedBeforeSending(id!)
    // While the list is read, another consumer takes the delivery over (the lease ran out).
    const forward = vi.mocked(globalThis.fetch).getMockImplementation()!
    vi.mocked(globalThis.fetch).mockImplementation(async (input, init) => {
      const request = new Request(input, init)
      if (request.method === 'GET') {
        await age(id!, LEASE_SECONDS + 1)
        await claimDelivery(lifecycle(id!), id!, new Date(), LEASE_SECONDS)
      }
      return forward(request)
    })
    const { result } = await consume([id!])
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    expect(sends(standIn, phone)).toEqual([])
    expect(await row(id!)).toMatchObject({ status: 'sending', attempts: 3 })
    const logged = warnings.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)
    expect(logged).toContainEqual(expect.objectContaining({ deliveryId: id }))
  })

  it('is a push sent again, tagged to replace the first on the device', async () => {
    const standIn = useStandIn()
    const token = `device-${crypto.randomUUID()}`
    const sender = await createSender({ fcmTokens: [token] })
    const [id] = await writeOutbox(sender, [{ channel: 'fcm', address: token }])
    await strandedBeforeSending(id!)
    await consume([id!])
    expect(await row(id!)).toMatchObject({ status: 'sent', inDoubtSince: null })
    const pushes = standIn.state.fcm.filter(
      (r) => (r.body as { message: { token: string } }).message.token === token,
    )
    expect(pushes).toHaveLength(1)
    expect(pushes[0]!.body).toMatchObject({
      message: { android: { notification: { tag: id } } },
    })
    expect(standIn.state.sms.filter((r) => JSON.stringify(r.body).includes(token))).toEqual([])
  })
})

describe('a retryable SMS failure', () => {
  it('leaves the attempt in doubt, so the next one asks the SMS API first', async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const [id] = await writeOutbox(sender, [{ address: phone }])
    standIn.state.failures.push({ target: 'sms', status: 503, remaining: 1 })
    await consume([id!])
    const failed = await row(id!)
    expect(failed).toMatchObject({ status: 'queued', inDoubtSince: failed.attemptAt })
    await consume([id!], {}, 2)
    expect(listings(standIn, phone)).toHaveLength(1)
    expect(sends(standIn, phone).map((r) => r.status)).toEqual([503, 201])
    expect(await row(id!)).toMatchObject({ status: 'sent', inDoubtSince: null })
  })
})
