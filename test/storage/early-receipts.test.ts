// Receipts that waited for their MessageSid: applied by the send shard's alarm once a delivery has
// the sid (the consumer stopped between recording it and applying the receipt), purged at expiry.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { readSmsStatus } from '../../src/channels/sms-status.ts'
import { recordSmsReceipt } from '../../src/domain/delivery-receipts.ts'
import { changeDeliveryStatus } from '../../src/storage/delivery-lifecycle.ts'
import { EARLY_RECEIPT_SECONDS } from '../../src/storage/early-receipts.ts'
import { claimDelivery, findDeliveryById } from '../../src/storage/messages.ts'
import { findSuppressions } from '../../src/storage/suppressions.ts'
import { createSender, writeOutbox, type Sender } from '../helpers/dispatch.ts'
import { runShardAlarm, shardDb } from '../helpers/shards.ts'

const freshSid = () => `SM${crypto.randomUUID().replaceAll('-', '')}`
const freshPhone = () => `+54911${Math.floor(Math.random() * 1e8)}`

/** A sender whose send shard the test's receipts go to. */
async function fresh(phone = freshPhone()) {
  const sender = await createSender({ phone })
  return { sender, phone, lifecycle: { shard: shardDb(sender.providerId) } }
}

/** A delivery claimed and then recorded sent with `sid` the way a consumer that stops would. */
async function sentWithoutReceipt(
  { sender, phone, lifecycle }: Awaited<ReturnType<typeof fresh>>,
  sid: string,
) {
  const [id] = await writeOutbox(sender, [{ address: phone }])
  await claimDelivery(lifecycle, id!, new Date(), 30)
  // Only the lifecycle's `sent`, as a consumer that stopped before reading the waiting receipt.
  await changeDeliveryStatus(lifecycle, {
    kind: 'sent',
    deliveryId: id!,
    at: new Date(),
    providerMessageId: sid,
  })
  return id!
}

async function keep(sender: Sender, sid: string, fields: Record<string, string>, now = new Date()) {
  const form = { MessageSid: sid, AccountSid: env.SMS_ACCOUNT_SID, ...fields }
  const deps = { shard: shardDb(sender.providerId), db: env.DB, now }
  const result = await recordSmsReceipt(deps, readSmsStatus(form as never))
  expect(result).toEqual({ outcome: 'pending', status: null })
}

const waiting = (sender: Sender, sid: string) =>
  shardDb(sender.providerId)
    .prepare('SELECT message_sid FROM early_receipts WHERE message_sid = ?1')
    .bind(sid)
    .first()

describe('receipts waiting for their message sid', () => {
  it("are applied by the shard's alarm once a delivery has the sid", async () => {
    const sid = freshSid()
    const at = await fresh()
    await keep(at.sender, sid, { MessageStatus: 'delivered' })
    const id = await sentWithoutReceipt(at, sid)
    expect((await findDeliveryById(at.lifecycle.shard, id))!.status).toBe('sent')
    await runShardAlarm(at.sender.providerId)
    expect((await findDeliveryById(at.lifecycle.shard, id))!.status).toBe('delivered')
    expect(await waiting(at.sender, sid)).toBeNull()
  })

  it('apply an undelivered status with its error, and a STOP with its suppression', async () => {
    const sid = freshSid()
    const at = await fresh()
    await keep(at.sender, sid, { MessageStatus: 'failed', ErrorCode: '21610' })
    const id = await sentWithoutReceipt(at, sid)
    await runShardAlarm(at.sender.providerId)
    expect(await findDeliveryById(at.lifecycle.shard, id)).toMatchObject({
      status: 'failed',
      errorCode: '21610',
      lastError: expect.stringMatching(/replied STOP/),
    })
    expect(await findSuppressions(env.DB, at.sender.providerId, at.phone)).toContainEqual(
      expect.objectContaining({ providerId: null, source: 'sms_api_error' }),
    )
  })

  it('are dropped, changing nothing, when the delivery already reached a final status', async () => {
    const sid = freshSid()
    const at = await fresh()
    await keep(at.sender, sid, { MessageStatus: 'undelivered', ErrorCode: '30003' })
    const id = await sentWithoutReceipt(at, sid)
    await changeDeliveryStatus(at.lifecycle, { kind: 'delivered', deliveryId: id, at: new Date() })
    await runShardAlarm(at.sender.providerId)
    expect((await findDeliveryById(at.lifecycle.shard, id))!.status).toBe('delivered')
    expect(await waiting(at.sender, sid)).toBeNull()
  })

  it('are purged once expired if no delivery ever had the sid, and kept until then', async () => {
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000)
    const expired = freshSid()
    const current = freshSid()
    const at = await fresh()
    await keep(at.sender, expired, { MessageStatus: 'delivered' }, ago(EARLY_RECEIPT_SECONDS + 60))
    await keep(at.sender, current, { MessageStatus: 'delivered' }, ago(EARLY_RECEIPT_SECONDS - 60))
    await runShardAlarm(at.sender.providerId)
    expect(await waiting(at.sender, expired)).toBeNull()
    expect(await waiting(at.sender, current)).not.toBeNull()
  })
})
