// Receipts that waited for their MessageSid: applied by the scheduled job once a delivery has the
// sid (the consumer stopped between recording it and applying the receipt), purged at expiry.
import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { RECOVERY_CRON } from '../../src/queue/sweeper.ts'
import { readSmsStatus } from '../../src/channels/sms-status.ts'
import { recordSmsReceipt } from '../../src/domain/delivery-receipts.ts'
import { changeDeliveryStatus } from '../../src/storage/delivery-lifecycle.ts'
import { EARLY_RECEIPT_SECONDS } from '../../src/storage/early-receipts.ts'
import { claimDelivery, findDeliveryById } from '../../src/storage/messages.ts'
import { findSuppressions } from '../../src/storage/suppressions.ts'
import { createSender, writeOutbox } from '../helpers/dispatch.ts'

const lifecycle = { db: env.DB, webhooks: env.WEBHOOK_QUEUE }
const freshSid = () => `SM${crypto.randomUUID().replaceAll('-', '')}`
const freshPhone = () => `+54911${Math.floor(Math.random() * 1e8)}`

/** A delivery claimed and then recorded sent with `sid` the way a consumer that stops would. */
async function sentWithoutReceipt(sid: string, phone = freshPhone()) {
  const sender = await createSender({ phone })
  const [id] = await writeOutbox(sender, [{ address: phone }])
  await claimDelivery(lifecycle, id!, new Date(), 30)
  // Only the lifecycle's `sent`, as a consumer that stopped before reading the waiting receipt.
  await changeDeliveryStatus(lifecycle, {
    kind: 'sent',
    deliveryId: id!,
    at: new Date(),
    providerMessageId: sid,
  })
  return { sender, id: id!, phone }
}

async function keep(sid: string, fields: Record<string, string>, now = new Date()) {
  const form = { MessageSid: sid, AccountSid: env.SMS_ACCOUNT_SID, ...fields }
  const result = await recordSmsReceipt({ ...lifecycle, now }, readSmsStatus(form as never))
  expect(result).toEqual({ outcome: 'pending', status: null })
}

const waiting = (sid: string) =>
  env.DB.prepare('SELECT message_sid FROM early_receipts WHERE message_sid = ?1').bind(sid).first()

function runScheduled(at: Date) {
  return worker.scheduled(
    createScheduledController({ scheduledTime: at, cron: RECOVERY_CRON }),
    env,
  )
}

describe('receipts waiting for their message sid', () => {
  it('are applied by the scheduled job once a delivery has the sid', async () => {
    const sid = freshSid()
    await keep(sid, { MessageStatus: 'delivered' })
    const { id } = await sentWithoutReceipt(sid)
    expect((await findDeliveryById(env.DB, id))!.status).toBe('sent')
    await runScheduled(new Date())
    expect((await findDeliveryById(env.DB, id))!.status).toBe('delivered')
    expect(await waiting(sid)).toBeNull()
  })

  it('apply an undelivered status with its error, and a STOP with its suppression', async () => {
    const sid = freshSid()
    await keep(sid, { MessageStatus: 'failed', ErrorCode: '21610' })
    const { id, phone, sender } = await sentWithoutReceipt(sid)
    await runScheduled(new Date())
    expect(await findDeliveryById(env.DB, id)).toMatchObject({
      status: 'failed',
      errorCode: '21610',
      lastError: expect.stringMatching(/replied STOP/),
    })
    expect(await findSuppressions(env.DB, sender.providerId, phone)).toContainEqual(
      expect.objectContaining({ providerId: null, source: 'sms_api_error' }),
    )
  })

  it('are dropped, changing nothing, when the delivery already reached a final status', async () => {
    const sid = freshSid()
    await keep(sid, { MessageStatus: 'undelivered', ErrorCode: '30003' })
    const { id } = await sentWithoutReceipt(sid)
    await changeDeliveryStatus(lifecycle, { kind: 'delivered', deliveryId: id, at: new Date() })
    await runScheduled(new Date())
    expect((await findDeliveryById(env.DB, id))!.status).toBe('delivered')
    expect(await waiting(sid)).toBeNull()
  })

  it('are purged once expired if no delivery ever had the sid, and kept until then', async () => {
    // Kept long ago, so that the purge at the real time removes only what this test made expire
    // (other files' receipts share the table).
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000)
    const expired = freshSid()
    const current = freshSid()
    await keep(expired, { MessageStatus: 'delivered' }, ago(EARLY_RECEIPT_SECONDS + 60))
    await keep(current, { MessageStatus: 'delivered' }, ago(EARLY_RECEIPT_SECONDS - 60))
    await runScheduled(new Date())
    expect(await waiting(expired)).toBeNull()
    expect(await waiting(current)).not.toBeNull()
  })
})
