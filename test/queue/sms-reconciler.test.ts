// Receipts that never arrived (decisions.md D27): each send shard's alarm reads its SMS deliveries
// still `sent` long after sending from the SMS API, as the stand-in serves them (Twilio's Fetch
// Message resource, its auth checked), and applies the status it reports through the delivery
// lifecycle.
import { createMessageBatch } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { createSmsNotifier } from '../../src/channels/sms.ts'
import { loadChannelConfig } from '../../src/config.ts'
import worker from '../../src/index.ts'
import {
  reconcileStaleSms,
  RECHECK_SECONDS,
  STALE_SENT_MINUTES,
} from '../../src/queue/sms-reconciler.ts'
import { findDeliveryById } from '../../src/storage/messages.ts'
import { createSender, deliveryDb, dispatchJob, writeOutbox } from '../helpers/dispatch.ts'
import { runShardAlarm } from '../helpers/shards.ts'
import { undeliverableRequest, useStandIn } from '../helpers/stand-in.ts'

const row = async (id: string) => (await findDeliveryById(deliveryDb(id), id))!
const freshPhone = () => `+54911${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`

/** An SMS delivery sent through the stand-in, its receipts held: its id and message sid. */
async function sentSms(to = freshPhone()) {
  const sender = await createSender()
  const [id] = await writeOutbox(sender, [{ address: to }])
  const batch = createMessageBatch(env.DISPATCH_QUEUE_NAME, [
    { id: `m-${id}`, timestamp: new Date(), attempts: 1, body: dispatchJob(id!) },
  ])
  await worker.queue(batch, env)
  const sent = await row(id!)
  expect(sent.status).toBe('sent')
  return { id: id!, sid: sent.providerMessageId!, providerId: sender.providerId }
}

/** Dates the delivery's send `minutes` ago and makes it first in line. */
async function sentMinutesAgo(id: string, minutes: number) {
  const sentAt = new Date(Date.now() - minutes * 60_000).toISOString()
  await deliveryDb(id)
    .prepare('UPDATE deliveries SET sent_at = ?2, next_attempt_at = 0 WHERE id = ?1')
    .bind(id, sentAt)
    .run()
}

/** The reconciliation of the shard holding `id`, at `now`, with the channel settings of `vars`. */
async function reconcile(id: string, now = new Date(), vars: Partial<Env> = {}) {
  const sms = createSmsNotifier(loadChannelConfig({ ...env, ...vars }).sms!)
  return reconcileStaleSms({ shard: deliveryDb(id), db: env.DB, sms, now })
}

describe('SMS deliveries whose receipts were lost', () => {
  it('moves them to the status the SMS API reports, delivered or undelivered', async () => {
    const standIn = useStandIn()
    const unreachable = freshPhone()
    await standIn.fetch(undeliverableRequest(unreachable, 30005))
    const delivered = await sentSms()
    const undelivered = await sentSms(unreachable)
    // Twilio moved both on and posted their receipts while Portero was down: none arrived.
    const mine = (c: { form: Record<string, string> }) =>
      [delivered.sid, undelivered.sid].includes(c.form.MessageSid!)
    await standIn.sendCallbacks(mine, { lost: true })
    for (const { id } of [delivered, undelivered]) {
      expect(await row(id)).toMatchObject({ status: 'sent' })
      await sentMinutesAgo(id, STALE_SENT_MINUTES + 1)
    }

    // Each shard's alarm asks about its own.
    await runShardAlarm(delivered.providerId)
    await runShardAlarm(undelivered.providerId)
    const reads = standIn.state.sms.filter(
      (r) =>
        r.method === 'GET' &&
        [delivered.sid, undelivered.sid].some((s) => r.path.endsWith(`/${s}.json`)),
    )
    expect(reads.map((r) => r.status)).toEqual([200, 200])
    expect(await row(delivered.id)).toMatchObject({ status: 'delivered' })
    expect(await row(undelivered.id)).toMatchObject({ status: 'undelivered', errorCode: '30005' })
    const timeline = await deliveryDb(delivered.id)
      .prepare('SELECT status FROM delivery_events WHERE delivery_id = ?1 ORDER BY occurred_at')
      .bind(delivered.id)
      .all<{ status: string }>()
    // Through the lifecycle: the change left its row in the timeline.
    expect(timeline.results.map((e) => e.status).slice(-2)).toEqual(['sent', 'delivered'])
  })

  it('leaves a recent one alone, and asks about one still on its way an hour later', async () => {
    const standIn = useStandIn()
    const recent = await sentSms()
    const onItsWay = await sentSms()
    await sentMinutesAgo(onItsWay.id, STALE_SENT_MINUTES + 5)
    const now = new Date()

    await reconcile(recent.id, now)
    await reconcile(onItsWay.id, now)
    const readsOf = (sid: string) =>
      standIn.state.sms.filter((r) => r.method === 'GET' && r.path.endsWith(`/${sid}.json`))
    expect(readsOf(recent.sid)).toEqual([])
    // Still queued at the API (its receipts not sent yet): unchanged, asked again later.
    expect(readsOf(onItsWay.sid).map((r) => r.status)).toEqual([200])
    expect(await row(onItsWay.id)).toMatchObject({ status: 'sent' })
    const { next } = (await deliveryDb(onItsWay.id)
      .prepare('SELECT next_attempt_at AS next FROM deliveries WHERE id = ?1')
      .bind(onItsWay.id)
      .first<{ next: number }>())!
    expect(next).toBe(Math.floor(now.getTime() / 1000) + RECHECK_SECONDS)

    await reconcile(onItsWay.id, now)
    expect(readsOf(onItsWay.sid)).toHaveLength(1)
  })

  it('stops and logs for the operator when the SMS API refuses the credentials', async () => {
    const standIn = useStandIn()
    const { id, sid } = await sentSms()
    await standIn.sendCallbacks((c) => c.form.MessageSid === sid, { lost: true })
    await sentMinutesAgo(id, STALE_SENT_MINUTES + 1)
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})

    await reconcile(id, new Date(), { SMS_AUTH_TOKEN: 'a-rotated-auth-token' })
    const read = standIn.state.sms.filter(
      (r) => r.method === 'GET' && r.path.endsWith(`/${sid}.json`),
    )
    expect(read.map((r) => r.status)).toEqual([401])
    expect(await row(id)).toMatchObject({ status: 'sent' })
    const lines = errors.mock.calls.map(
      ([line]) => JSON.parse(String(line)) as Record<string, unknown>,
    )
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: "SMS status check refused: the operator's channel settings",
        deliveryId: id,
      }),
    )
  })
})
