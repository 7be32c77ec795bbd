// POST /callbacks/sms/status: the SMS API's delivery receipts, end to end (POST /Services, the
// queue, the stand-in, its signed callbacks into the Worker), and every way a callback is refused
// or ignored without changing anything.
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { twilioSignature, type StandIn } from '../../stand-in/app.ts'
import { readSmsStatus } from '../../src/channels/sms-status.ts'
import { recordSmsReceipt } from '../../src/domain/delivery-receipts.ts'
import { EARLY_RECEIPT_SECONDS, MAX_EARLY_RECEIPTS } from '../../src/storage/early-receipts.ts'
import { shardDatabaseIn } from '../../src/storage/shard-database.ts'
import { findSuppressions } from '../../src/storage/suppressions.ts'
import {
  dispatch,
  freshPhone,
  freshSender,
  readMessage,
  settle,
  smsRequest,
  type MessageView,
  type Sender,
} from '../helpers/dispatch.ts'
import { call, expectProblem, ORIGIN } from '../helpers/http.ts'
import { undeliverableRequest, useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'
import { receiverAt, registerEndpoint, verifiesWith } from '../helpers/webhooks.ts'

const CALLBACK_URL = `${ORIGIN}/callbacks/sms/status`

/** The send shard each test's SMS lives in, by MessageSid (sentSms); others use EARLY_SHARD. */
const shardOfSid = new Map<string, string>()
/** Where receipts for a MessageSid no test sent are posted: any provider's shard. */
const EARLY_SHARD = 'provider:1'
const shardOf = (sid: string) => shardOfSid.get(sid) ?? EARLY_SHARD
const callbackUrl = (shard: string) => `${CALLBACK_URL}?shard=${encodeURIComponent(shard)}`
const shardDbOfSid = (sid: string) => shardDatabaseIn(env.SEND_SHARDS, shardOf(sid))

type Timeline = { status: string; at: string; attempt: number; error_code: string | null }
type DeliveryWithTimeline = MessageView['deliveries'][number] & {
  error_code: string | null
  reached: Record<string, string | null>
  events: Timeline[]
}

/** An SMS sent through the queue to a fresh number, its status callbacks held by the stand-in. */
async function sentSms(standIn: StandIn, sender?: Sender) {
  const phone = freshPhone()
  sender ??= await freshSender({ phone })
  const response = await dispatch(sender, smsRequest(sender))
  expect(response.status).toBe(201)
  const { id } = (await response.json()) as MessageView
  const settled = await settle(sender, id)
  expect(settled.status).toBe('sent')
  const to = (await recipientPhone(sender))!
  const held = standIn.state.callbacks.filter((c) => c.form.To === to)
  expect(held.map((c) => c.form.MessageStatus)).toEqual(['sent', expect.any(String)])
  // The status-callback URL names the shard that holds the delivery.
  const shard = `provider:${sender.providerId}`
  expect(held.every((c) => c.url === callbackUrl(shard))).toBe(true)
  const sid = held[0]!.form.MessageSid!
  shardOfSid.set(sid, shard)
  return { sender, id, to, sid, held }
}

/** Tells the stand-in to report every SMS to `phone` undelivered with `errorCode`. */
async function markUndeliverable(standIn: StandIn, phone: string, errorCode: number) {
  const control = await standIn.fetch(undeliverableRequest(phone, errorCode))
  expect(control.status).toBe(201)
}

async function recipientPhone(sender: Sender) {
  const row = await env.DB.prepare(
    'SELECT phone FROM recipients WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2',
  )
    .bind(sender.providerId, sender.userId)
    .first<{ phone: string }>()
  return row?.phone
}

async function view(sender: Sender, id: string) {
  const message = (await (await readMessage(sender, id)).json()) as MessageView
  return { message, delivery: message.deliveries[0] as DeliveryWithTimeline }
}

/** What the send shard holds for the delivery with this MessageSid: its row and its timeline. */
async function stored(sid: string) {
  const db = shardDbOfSid(sid)
  const delivery = await db
    .prepare(
      `SELECT id, status, last_error, error_code, delivered_at, undelivered_at
       FROM deliveries WHERE provider_message_id = ?1`,
    )
    .bind(sid)
    .first<Record<string, string | null>>()
  const { results } = await db
    .prepare(
      'SELECT status FROM delivery_events WHERE delivery_id = ?1 ORDER BY occurred_at, rowid',
    )
    .bind(delivery!.id)
    .all<{ status: string }>()
  return { delivery, timeline: results.map((r) => r.status) }
}

function receipt(sid: string, to: string, status: string, extra: Record<string, string> = {}) {
  return {
    AccountSid: env.SMS_ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    From: env.SMS_FROM,
    MessageSid: sid,
    MessageStatus: status,
    SmsSid: sid,
    SmsStatus: status,
    To: to,
    ...extra,
  }
}

/** A status callback to the shard of its MessageSid's SMS, as the SMS API posts it. */
async function postCallback(
  form: Record<string, string>,
  signature: string | null | 'sign' = 'sign',
  authToken = env.SMS_AUTH_TOKEN,
  shard: string | null = shardOf(form.MessageSid ?? ''),
) {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
  }
  const url = shard === null ? CALLBACK_URL : callbackUrl(shard)
  if (signature === 'sign')
    headers['x-twilio-signature'] = await twilioSignature(authToken, url, form)
  else if (signature !== null) headers['x-twilio-signature'] = signature
  return call(url.slice(ORIGIN.length), {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
  })
}

describe('delivery receipts end to end', () => {
  it(
    'moves an SMS to delivered, with its timestamps and timeline',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const { sender, id, to, sid } = await sentSms(standIn)

      const sent = await standIn.sendCallbacks((c) => c.form.To === to)
      expect(sent.map((c) => [c.form.MessageStatus, c.answer])).toEqual([
        ['sent', 200],
        ['delivered', 200],
      ])

      const { message, delivery } = await view(sender, id)
      expect(message.status).toBe('delivered')
      expect(delivery.status).toBe('delivered')
      expect(delivery.events.map((e) => e.status)).toEqual([
        'queued',
        'sending',
        'sent',
        'delivered',
      ])
      expect(delivery.events.map((e) => e.attempt)).toEqual([0, 1, 1, 1])
      const { queued, sending, sent: sentAt, delivered } = delivery.reached
      expect([queued, sending, sentAt, delivered].every((t) => typeof t === 'string')).toBe(true)
      expect([queued!, sending!, sentAt!, delivered!]).toEqual(
        [queued!, sending!, sentAt!, delivered!].sort(),
      )
      expect(delivery.reached).toMatchObject({ undelivered: null, failed: null, dead: null })
      expect((await stored(sid)).delivery).toMatchObject({ status: 'delivered', error_code: null })
    },
  )

  it(
    'moves an SMS to undelivered with the error code of a number the stand-in was told to fail',
    {
      timeout: 30_000,
    },
    async () => {
      const standIn = useStandIn()
      const phone = freshPhone()
      await markUndeliverable(standIn, phone, 30005)
      const { sender, id, to, sid } = await sentSms(standIn, await freshSender({ phone }))

      const sent = await standIn.sendCallbacks((c) => c.form.To === to)
      expect(sent.map((c) => [c.form.MessageStatus, c.form.ErrorCode, c.answer])).toEqual([
        ['sent', undefined, 200],
        ['undelivered', '30005', 200],
      ])
      const { message, delivery } = await view(sender, id)
      expect(message.status).toBe('undelivered')
      expect(delivery).toMatchObject({ status: 'undelivered', error_code: '30005' })
      expect(delivery.last_error).toMatch(/undelivered, error 30005/)
      expect(delivery.events.at(-1)).toMatchObject({ status: 'undelivered', error_code: '30005' })
      expect((await stored(sid)).timeline).toEqual(['queued', 'sending', 'sent', 'undelivered'])
    },
  )

  it('sends the reserved undeliverable number a 30003 receipt', { timeout: 30_000 }, async () => {
    const standIn = useStandIn()
    const sender = await freshSender({ phone: '+15005550010' })
    const { id } = (await (await dispatch(sender, smsRequest(sender))).json()) as MessageView
    await settle(sender, id)
    const { delivery } = await view(sender, id)
    await standIn.sendCallbacks((c) => c.form.MessageSid === delivery.provider_message_id)
    const after = await view(sender, id)
    expect(after.delivery).toMatchObject({ status: 'undelivered', error_code: '30003' })
  })
})

describe('POST /callbacks/sms/status refuses or ignores, changing nothing', () => {
  it(
    'refuses an unsigned, a forged and a wrong-account callback',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const { sid, to } = await sentSms(standIn)
      const before = await stored(sid)
      const delivered = receipt(sid, to, 'delivered')

      await expectProblem(await postCallback(delivered, null), 403, 'invalid_signature')
      await expectProblem(
        await postCallback(delivered, 'bm90IGEgc2lnbmF0dXJl'),
        403,
        'invalid_signature',
      )
      // Signed with another key, or over other fields than those sent.
      await expectProblem(
        await postCallback(delivered, 'sign', 'another-token'),
        403,
        'invalid_signature',
      )
      const signedForSent = await twilioSignature(
        env.SMS_AUTH_TOKEN,
        callbackUrl(shardOf(sid)),
        receipt(sid, to, 'sent'),
      )
      await expectProblem(await postCallback(delivered, signedForSent), 403, 'invalid_signature')
      // Signed for another shard's URL: the shard named is part of what is signed.
      const signedForOther = await twilioSignature(
        env.SMS_AUTH_TOKEN,
        callbackUrl('provider:1'),
        delivered,
      )
      await expectProblem(await postCallback(delivered, signedForOther), 403, 'invalid_signature')
      // Signed with this token, but for another account.
      const otherAccount = { ...delivered, AccountSid: 'ACother000000000000000000000000000' }
      await expectProblem(await postCallback(otherAccount), 403, 'forbidden')

      expect(await stored(sid)).toEqual(before)
      expect(before.delivery!.status).toBe('sent')
    },
  )

  it('answers 400 to a signed callback whose URL names no send shard, or a malformed one', async () => {
    const form = receipt(`SM${'2'.repeat(32)}`, freshPhone(), 'delivered')
    const noShard = await postCallback(form, 'sign', env.SMS_AUTH_TOKEN, null)
    const problem = await expectProblem(noShard, 400, 'invalid_request')
    expect(problem.errors).toEqual([{ path: 'shard', message: 'a send shard name' }])
    for (const shard of ['provider:', 'provider:0', 'provider:1:64', 'shard:1', 'provider:1;x']) {
      await expectProblem(
        await postCallback(form, 'sign', env.SMS_AUTH_TOKEN, shard),
        400,
        'invalid_request',
      )
    }
  })

  it('answers 400 to a signed callback without MessageStatus', async () => {
    const form: Record<string, string> = receipt(`SM${'1'.repeat(32)}`, freshPhone(), 'x')
    delete form.MessageStatus
    await expectProblem(await postCallback(form), 400, 'invalid_request')
  })

  it(
    'ignores a replayed callback and one older than the status reached',
    {
      timeout: 30_000,
    },
    async () => {
      const standIn = useStandIn()
      const { sender, id, sid, to } = await sentSms(standIn)
      const delivered = receipt(sid, to, 'delivered')

      const first = await postCallback(delivered)
      expect(first.status).toBe(200)
      expect(await first.json()).toEqual({ outcome: 'applied', status: 'delivered' })
      const after = await stored(sid)

      for (const late of [
        delivered, // the same callback again
        receipt(sid, to, 'undelivered', { ErrorCode: '30003' }),
        receipt(sid, to, 'failed', { ErrorCode: '30008' }),
      ]) {
        const response = await postCallback(late)
        expect(response.status).toBe(200)
        expect(await response.json()).toEqual({ outcome: 'unchanged', status: 'delivered' })
      }
      // A late status on the way is answered without the delivery's shard.
      const sent = await postCallback(receipt(sid, to, 'sent'))
      expect(await sent.json()).toEqual({ outcome: 'unchanged', status: null })
      expect(await stored(sid)).toEqual(after)
      expect(after.timeline).toEqual(['queued', 'sending', 'sent', 'delivered'])
      expect((await view(sender, id)).message.status).toBe('delivered')
    },
  )

  it(
    'takes a sent, queued or sending callback as a step on the way',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const { sid, to } = await sentSms(standIn)
      const before = await stored(sid)
      // Answered without the delivery's shard: the status on the way is not read.
      for (const status of ['queued', 'sending', 'sent', 'accepted']) {
        const response = await postCallback(receipt(sid, to, status))
        expect(response.status).toBe(200)
        expect(await response.json()).toEqual({ outcome: 'unchanged', status: null })
      }
      expect(await stored(sid)).toEqual(before)
    },
  )

  it(
    'marks the recipient opted out and suppresses the number on error 21610',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const { sender, sid, to } = await sentSms(standIn)
      const response = await postCallback(receipt(sid, to, 'failed', { ErrorCode: '21610' }))
      expect(await response.json()).toEqual({ outcome: 'applied', status: 'failed' })
      const row = await env.DB.prepare(
        'SELECT sms_opt_out FROM recipients WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2',
      )
        .bind(sender.providerId, sender.userId)
        .first<{ sms_opt_out: number }>()
      expect(row!.sms_opt_out).toBe(1)
      expect((await stored(sid)).delivery).toMatchObject({ status: 'failed', error_code: '21610' })
      // A STOP to the shared sender number: suppressed for every provider, as at send time.
      const other = await freshSender()
      expect(await findSuppressions(env.DB, other.providerId, to)).toContainEqual(
        expect.objectContaining({ providerId: null, source: 'sms_api_error' }),
      )
    },
  )
})

/** A MessageSid no delivery has: two letters and 32 fresh hex digits. */
const freshSid = () => `SM${crypto.randomUUID().replaceAll('-', '')}`

async function earlyReceipt(sid: string) {
  return shardDbOfSid(sid)
    .prepare(
      `SELECT status, api_status, error_code, reason, opted_out, received_at, expires_at
       FROM early_receipts WHERE message_sid = ?1`,
    )
    .bind(sid)
    .first<Record<string, string | number | null>>()
}

describe('a receipt that overtakes the send', () => {
  it(
    'ends the delivery delivered when the receipt came before the sid was recorded',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const phone = freshPhone()
      const sender = await freshSender({ phone })
      // The SMS API's receipts reach Portero before its answer to the send reaches the consumer.
      const forward = vi.mocked(globalThis.fetch).getMockImplementation()!
      const overtaking: { status: string; answer: unknown; body: unknown }[] = []
      vi.mocked(globalThis.fetch).mockImplementation(async (input, init) => {
        const request = new Request(input, init)
        const response = await forward(request)
        if (request.method === 'POST' && response.status === 201 && request.url.endsWith('.json')) {
          const held = (c: { form: Record<string, string> }) => c.form.To === phone
          await eventually(
            async () => standIn.state.callbacks.filter(held),
            (c) => c.length === 2,
          )
          for (const callback of await standIn.sendCallbacks(held)) {
            shardOfSid.set(callback.form.MessageSid!, `provider:${sender.providerId}`)
            overtaking.push({
              status: callback.form.MessageStatus!,
              answer: callback.answer,
              body: await earlyReceipt(callback.form.MessageSid!),
            })
          }
        }
        return response
      })

      const response = await dispatch(sender, smsRequest(sender))
      expect(response.status).toBe(201)
      const { id } = (await response.json()) as MessageView
      const settled = await eventually(
        async () => (await view(sender, id)).delivery,
        (d) => d.status !== 'queued' && d.status !== 'sending' && d.status !== 'sent',
        { timeoutMs: 15_000 },
      )
      // The final one answered 202 while no delivery had the sid, and waited in the shard; the
      // status on the way changes nothing, and is answered so at once.
      expect(overtaking.map(({ status, answer }) => [status, answer])).toEqual([
        ['sent', 200],
        ['delivered', 202],
      ])
      expect(overtaking[1]!.body).toMatchObject({ status: 'delivered', api_status: 'delivered' })
      expect(settled.status).toBe('delivered')
      expect(settled.events.map((e) => e.status)).toEqual([
        'queued',
        'sending',
        'sent',
        'delivered',
      ])
      expect(
        standIn.state.sms.filter((r) => (r.body as { To?: string }).To === phone),
      ).toHaveLength(1)
      // Applied, so no longer waiting.
      expect(await earlyReceipt(settled.provider_message_id!)).toBeNull()
    },
  )

  it('keeps a final receipt for an unknown MessageSid, answering 202 pending', async () => {
    const sid = freshSid()
    const before = Date.now()
    const response = await postCallback(
      receipt(sid, freshPhone(), 'undelivered', { ErrorCode: '30003' }),
    )
    expect(response.status).toBe(202)
    expect(await response.json()).toEqual({ outcome: 'pending', status: null })
    const kept = await earlyReceipt(sid)
    expect(kept).toMatchObject({
      status: 'undelivered',
      api_status: 'undelivered',
      error_code: '30003',
      reason: expect.stringMatching(/undelivered, error 30003: the handset is unreachable/),
      opted_out: 0,
    })
    const expiresAt = Number(kept!.expires_at)
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) + EARLY_RECEIPT_SECONDS)
    expect(expiresAt).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + EARLY_RECEIPT_SECONDS)

    // A replay, or a later final status for the same sid, keeps the first.
    const again = await postCallback(receipt(sid, freshPhone(), 'delivered'))
    expect(again.status).toBe(202)
    expect(await earlyReceipt(sid)).toEqual(kept)
  })

  it('keeps nothing of a status on the way for an unknown MessageSid', async () => {
    const sid = freshSid()
    const response = await postCallback(receipt(sid, freshPhone(), 'sent'))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ outcome: 'unchanged', status: null })
    expect(await earlyReceipt(sid)).toBeNull()
  })

  it('keeps no receipt of an unsigned or forged callback', async () => {
    const sid = freshSid()
    const form = receipt(sid, freshPhone(), 'delivered')
    await expectProblem(await postCallback(form, null), 403, 'invalid_signature')
    await expectProblem(await postCallback(form, 'sign', 'another-token'), 403, 'invalid_signature')
    expect(await earlyReceipt(sid)).toBeNull()
  })

  it('refuses to keep a receipt once too many wait, and logs it', async () => {
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const sid = freshSid()
    // The bound as the route applies it, set to what waits now (other files' receipts included),
    // so the table is full without filling it for every other test.
    const shard = shardDbOfSid(sid)
    const { n } = (await shard.prepare('SELECT count(*) AS n FROM early_receipts').first<{
      n: number
    }>())!
    const deps = { shard, db: env.DB, now: new Date(), maxWaiting: n }
    const form = { MessageSid: sid, MessageStatus: 'delivered', AccountSid: env.SMS_ACCOUNT_SID }
    await expect(recordSmsReceipt(deps, readSmsStatus(form))).rejects.toMatchObject({
      code: 'not_found',
    })
    expect(await earlyReceipt(sid)).toBeNull()
    const logged = warnings.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)
    expect(logged).toContainEqual(expect.objectContaining({ level: 'warn', messageSid: sid }))
    // One more place, and it is kept.
    expect(await recordSmsReceipt({ ...deps, maxWaiting: n + 1 }, readSmsStatus(form))).toEqual({
      outcome: 'pending',
      status: null,
    })
    expect(await earlyReceipt(sid)).toMatchObject({ status: 'delivered' })
    expect(MAX_EARLY_RECEIPTS).toBe(10_000)
  })
})

describe('the provider told by webhook', () => {
  /** The provider's endpoint for these types, at a receiver of the stand-in that knows its secret. */
  async function endpointOf(standIn: StandIn, sender: Sender) {
    const endpoint = await registerEndpoint(sender, [
      'message.sent',
      'message.delivered',
      'message.undelivered',
    ])
    const receiver = receiverAt(standIn, endpoint.url)
    receiver.secrets = [endpoint.secret]
    return { endpoint, receiver }
  }

  it('hears of the SMS sent and then delivered, signed', { timeout: 30_000 }, async () => {
    const standIn = useStandIn()
    const sender = await freshSender({ phone: freshPhone() })
    const { endpoint, receiver } = await endpointOf(standIn, sender)
    const { id, to } = await sentSms(standIn, sender)
    await standIn.sendCallbacks((c) => c.form.To === to)

    const received = await eventually(
      async () => receiver.received,
      (r) => r.length >= 2,
    )
    const bodies = received.map((r) => r.body as { type: string; data: Record<string, unknown> })
    expect(bodies.map((b) => b.type).sort()).toEqual(['message.delivered', 'message.sent'])
    for (const [i, got] of received.entries()) {
      expect(got).toMatchObject({ verified: true, status: 200 })
      const headers = {
        id: got.id!,
        timestamp: got.timestamp!,
        signature: got.signatures.join(' '),
      }
      expect(await verifiesWith(endpoint.secret, headers, JSON.stringify(got.body))).toBe(true)
      expect(bodies[i]!.data).toMatchObject({
        message_id: id,
        service_id: sender.serviceId,
        part: 'notification',
        channel: 'sms',
        status: bodies[i]!.type.slice('message.'.length),
      })
    }
    expect(JSON.stringify(bodies)).not.toContain(to)
  })

  it('hears of an undelivered SMS with its error code', { timeout: 30_000 }, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    await markUndeliverable(standIn, phone, 30003)
    const sender = await freshSender({ phone })
    const { receiver } = await endpointOf(standIn, sender)
    const { id, to } = await sentSms(standIn, sender)
    await standIn.sendCallbacks((c) => c.form.To === to)
    const received = await eventually(
      async () =>
        receiver.received.filter((r) => (r.body as { type: string }).type !== 'message.sent'),
      (r) => r.length >= 1,
    )
    expect(received[0]!.body).toMatchObject({
      type: 'message.undelivered',
      data: { message_id: id, status: 'undelivered', error_code: '30003' },
    })
  })

  it('hears nothing of a replayed receipt', { timeout: 30_000 }, async () => {
    const standIn = useStandIn()
    const sender = await freshSender({ phone: freshPhone() })
    const { receiver } = await endpointOf(standIn, sender)
    const { to, sid } = await sentSms(standIn, sender)
    await standIn.sendCallbacks((c) => c.form.To === to)
    await eventually(
      async () => receiver.received,
      (r) => r.length >= 2,
    )
    const replay = await postCallback(receipt(sid, to, 'delivered'))
    expect(await replay.json()).toMatchObject({ outcome: 'unchanged' })
    const events = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM webhook_events
       WHERE provider_id = CAST(?1 AS INTEGER) AND type = 'message.delivered'`,
    )
      .bind(sender.providerId)
      .first<{ n: number }>()
    expect(events?.n).toBe(1)
  })
})
