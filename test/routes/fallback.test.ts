// Fallback between channels and push acknowledgements (docs/sending.md "Fallback between
// channels", decisions.md D46): a push that fails for good, has no token, or is not acknowledged
// in time is sent by SMS instead, once; the app acknowledges a push at the URL it carries.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { ACK_TTL_SECONDS, ackUrl, deriveAckKey } from '../../src/domain/push-acks.ts'
import { fallBackUnacknowledged } from '../../src/storage/fallbacks.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import {
  dispatch,
  freshPhone,
  freshSender,
  pushesTo,
  readMessage,
  settle,
  smsTo,
  type MessageView,
  type Sender,
  servicesRequest,
} from '../helpers/dispatch.ts'
import { call, expectProblem, ORIGIN } from '../helpers/http.ts'
import { runShardAlarm, shardDb } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'
import { registerEndpoint } from '../helpers/webhooks.ts'
import type { StandIn } from '../../stand-in/app.ts'

type Delivery = MessageView['deliveries'][number] & {
  error_code: string | null
  fallback_delivery_id: string | null
  fallback_of: string | null
  events: { status: string; error_code: string | null; detail: string | null }[]
}
type Viewed = Omit<MessageView, 'deliveries'> & { deliveries: Delivery[] }

const SLOW = { timeout: 30_000 }

/** A push notification of `sender`, with `fallback` among its parameters when given. */
function pushRequest(sender: Sender, fallback?: unknown) {
  return servicesRequest(sender, {
    notification: {
      title: 'Turno',
      message: `Oftalmólogo 9:15 ${crypto.randomUUID()}`,
      channel: 'FCM',
    },
    ...(fallback === undefined ? {} : { fallback }),
  })
}

async function read(sender: Sender, id: string): Promise<Viewed> {
  return (await (await readMessage(sender, id)).json()) as Viewed
}

async function accept(sender: Sender, body: unknown): Promise<Viewed> {
  const response = await dispatch(sender, body)
  expect(response.status).toBe(201)
  return (await response.json()) as Viewed
}

/** The SMS API's receipts of the SMS to `phone` reach the Worker; the message then settles. */
async function deliverSms(standIn: StandIn, sender: Sender, id: string, phone: string) {
  await standIn.sendCallbacks((c) => c.form.To === phone)
  return eventually(
    () => read(sender, id),
    (m) => m.status === 'delivered',
  )
}

/** The acknowledgement URL the push to `device` carried, as a path of this Worker. */
function ackPathOf(standIn: StandIn, device: string): string {
  type Push = { message: { data: { portero_ack?: string } } }
  const [push] = pushesTo(standIn, device) as Push[]
  const url = push!.message.data.portero_ack!
  expect(url.startsWith(`${ORIGIN}/acks/`)).toBe(true)
  return url.slice(ORIGIN.length)
}

const ack = (path: string) => call(path, { method: 'POST' })

describe('a push that fails for good falls back to SMS', () => {
  it('sends an unregistered token’s part by SMS, once, and ends delivered', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await freshSender({ phone, fcmTokens: [`unregistered-${crypto.randomUUID()}`] })
    await registerEndpoint(sender, ['message.fell_back'])
    const accepted = await accept(sender, pushRequest(sender, { channel: 'SMS' }))
    expect(accepted.deliveries.map((d) => [d.channel, d.fallback_delivery_id])).toEqual([
      ['fcm', null],
    ])

    await settle(sender, accepted.id)
    const done = await deliverSms(standIn, sender, accepted.id, phone)
    expect(done.status).toBe('delivered')
    const push = done.deliveries.find((d) => d.channel === 'fcm')!
    const sms = done.deliveries.find((d) => d.channel === 'sms')!
    // The push stays as it ended; the SMS names it, and it names the SMS.
    expect(push).toMatchObject({
      status: 'failed',
      fallback_delivery_id: sms.id,
      fallback_of: null,
    })
    expect(sms).toMatchObject({ status: 'delivered', fallback_of: push.id, part: 'notification' })
    expect(push.events.map((e) => [e.status, e.error_code])).toEqual([
      ['queued', null],
      ['sending', null],
      ['failed', null],
      ['failed', 'fell_back'],
    ])
    expect(push.events.at(-1)!.detail).toContain(sms.id)
    expect(sms.events.map((e) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered'])
    expect(smsTo(standIn, phone)).toHaveLength(1)

    // The provider is told, naming the SMS.
    const events = await eventually(
      async () => {
        await runShardAlarm(sender.providerId)
        const { results } = await env.DB.prepare(
          "SELECT payload FROM webhook_events WHERE provider_id = ?1 AND type = 'message.fell_back'",
        )
          .bind(sender.providerId)
          .all<{ payload: string }>()
        return results.map((r) => JSON.parse(r.payload) as { data: Record<string, unknown> })
      },
      (rows) => rows.length > 0,
    )
    expect(events.map((e) => e.data)).toEqual([
      expect.objectContaining({
        delivery_id: push.id,
        status: 'fell_back',
        channel: 'fcm',
        fallback_delivery_id: sms.id,
      }),
    ])
  })

  it('falls back once a part, when every device’s push failed, and only then', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const gone = () => `unregistered-${crypto.randomUUID()}`
    const sender = await freshSender({ phone, fcmTokens: [gone(), gone()] })
    const accepted = await accept(sender, pushRequest(sender, { channel: 'sms' }))
    expect(accepted.deliveries).toHaveLength(2)
    await settle(sender, accepted.id)
    const done = await deliverSms(standIn, sender, accepted.id, phone)
    const sms = done.deliveries.filter((d) => d.channel === 'sms')
    expect(sms).toHaveLength(1)
    // Both pushes name the one SMS, and the message is summed up by it.
    expect(
      done.deliveries.filter((d) => d.channel === 'fcm').map((d) => d.fallback_delivery_id),
    ).toEqual([sms[0]!.id, sms[0]!.id])
    expect(done.status).toBe('delivered')
    expect(smsTo(standIn, phone)).toHaveLength(1)

    // One device still registered: the part reached it, so no SMS.
    const other = freshPhone()
    const reached = await freshSender({
      phone: other,
      fcmTokens: [gone(), `device-${crypto.randomUUID()}`],
    })
    const second = await accept(reached, pushRequest(reached, { channel: 'sms' }))
    const settled = await settle(reached, second.id)
    expect(settled.deliveries.map((d) => d.channel)).toEqual(['fcm', 'fcm'])
    expect(smsTo(standIn, other)).toEqual([])
  })

  it('sends the part by SMS from the start when the recipient has no token', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await freshSender({ phone, fcmTokens: [] })
    // Without a fallback the request is refused, as before.
    const refused = await dispatch(sender, pushRequest(sender))
    await expectProblem(refused, 400, 'destination_unreachable')

    const accepted = await accept(sender, pushRequest(sender, { channel: 'sms' }))
    expect(accepted.deliveries.map((d) => d.channel)).toEqual(['sms'])
    await settle(sender, accepted.id)
    const done = await deliverSms(standIn, sender, accepted.id, phone)
    expect(done.deliveries[0]).toMatchObject({ channel: 'sms', status: 'delivered' })
    expect(smsTo(standIn, phone)).toHaveLength(1)
  })

  it('sends no SMS to a suppressed number, and records why', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await freshSender({ phone, fcmTokens: [`unregistered-${crypto.randomUUID()}`] })
    const admin = await adminToken()
    const path = `/admin/providers/${sender.providerId}/suppressions`
    expect((await adminCall(admin, 'POST', path, { phone })).status).toBe(201)

    // A push may still go to a suppressed number's owner: accepted.
    const accepted = await accept(sender, pushRequest(sender, { channel: 'sms' }))
    const done = await eventually(
      () => read(sender, accepted.id),
      (m) => m.status === 'failed',
      { timeoutMs: 15_000 },
    )
    const sms = done.deliveries.find((d) => d.channel === 'sms')!
    expect(sms.status).toBe('failed')
    expect(sms.attempts).toBe(0)
    expect(sms.last_error).toMatch(/suppress/)
    expect(smsTo(standIn, phone)).toEqual([])
  })

  it('follows the service’s default when the request has none', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await freshSender({ phone, fcmTokens: [`unregistered-${crypto.randomUUID()}`] })
    const admin = await adminToken()
    const patched = await adminCall(admin, 'PATCH', `/admin/services/${sender.serviceId}`, {
      fallback: { Canal: 'SMS' },
    })
    expect(patched.status).toBe(204)
    const service = await adminCall(admin, 'GET', `/admin/services/${sender.serviceId}`)
    expect(((await service.json()) as { fallback: unknown }).fallback).toEqual({ channel: 'sms' })

    const accepted = await accept(sender, pushRequest(sender))
    await settle(sender, accepted.id)
    const done = await deliverSms(standIn, sender, accepted.id, phone)
    expect(done.deliveries.map((d) => [d.channel, d.status])).toEqual([
      ['fcm', 'failed'],
      ['sms', 'delivered'],
    ])
  })
})

describe('POST /acks/{token}', () => {
  it('marks an acknowledged push delivered, once', SLOW, async () => {
    const standIn = useStandIn()
    const device = `device-${crypto.randomUUID()}`
    const sender = await freshSender({ fcmTokens: [device] })
    const accepted = await accept(sender, pushRequest(sender))
    expect((await settle(sender, accepted.id)).status).toBe('sent')

    const path = ackPathOf(standIn, device)
    const first = await ack(path)
    expect(first.status).toBe(204)
    const done = await read(sender, accepted.id)
    expect(done.status).toBe('delivered')
    expect(done.deliveries[0]!.events.map((e) => e.status)).toEqual([
      'queued',
      'sending',
      'sent',
      'delivered',
    ])
    // Again: the same answer, and nothing more in the timeline.
    expect((await ack(path)).status).toBe(204)
    expect((await read(sender, accepted.id)).deliveries[0]!.events).toHaveLength(4)
  })

  it('refuses a forged, malformed or expired token with 403, changing nothing', SLOW, async () => {
    const standIn = useStandIn()
    const device = `device-${crypto.randomUUID()}`
    const sender = await freshSender({ fcmTokens: [device] })
    const accepted = await accept(sender, pushRequest(sender))
    await settle(sender, accepted.id)
    const path = ackPathOf(standIn, device)
    const token = path.slice('/acks/'.length)
    const signature = token.slice(token.lastIndexOf('.') + 1)
    const flipped = `${token.slice(0, -signature.length)}${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`
    const deliveryId = accepted.deliveries[0]!.id
    const push = { shard: `provider:${sender.providerId}`, deliveryId }
    const key = await deriveAckKey(env.SECRET_PEPPER)
    const tokenOf = (url: string) => url.slice(`${ORIGIN}/acks/`.length)
    const longAgo = new Date(Date.now() - (ACK_TTL_SECONDS + 1) * 1000)
    const expired = tokenOf(await ackUrl({ key, issuer: ORIGIN }, push, longAgo))
    const otherKey = await deriveAckKey(
      btoa('another pepper, 32 bytes or more!').replaceAll('=', ''),
    )
    const foreign = tokenOf(await ackUrl({ key: otherKey, issuer: ORIGIN }, push, new Date()))
    // Another delivery under this push's signature.
    const moved = token.replace(deliveryId, crypto.randomUUID())

    for (const forged of [flipped, 'not-a-token', `${token}.x`, foreign, moved]) {
      const body = await expectProblem(await ack(`/acks/${forged}`), 403, 'invalid_signature')
      expect(body.detail).toMatch(/not made by Portero/)
    }
    const late = await expectProblem(await ack(`/acks/${expired}`), 403, 'invalid_signature')
    expect(late.detail).toMatch(/expired/)
    const after = await read(sender, accepted.id)
    expect(after.deliveries[0]).toMatchObject({ status: 'sent' })
    expect(after.deliveries[0]!.events).toHaveLength(3)
  })
})

describe('a push not acknowledged in time falls back to SMS', () => {
  it('once, however often the alarm runs; a late ack does not cancel the SMS', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const device = `device-${crypto.randomUUID()}`
    const sender = await freshSender({ phone, fcmTokens: [device] })
    const accepted = await accept(
      sender,
      pushRequest(sender, { channel: 'sms', after_seconds: 600 }),
    )
    expect((await settle(sender, accepted.id)).status).toBe('sent')
    const pushId = accepted.deliveries[0]!.id
    const db = shardDb(sender.providerId)
    const due = await db
      .prepare('SELECT fallback_due - unixepoch(sent_at) AS wait FROM deliveries WHERE id = ?1')
      .bind(pushId)
      .first<{ wait: number }>()
    expect(due!.wait).toBe(600)

    // Not yet due: the alarm leaves it.
    await runShardAlarm(sender.providerId)
    expect((await read(sender, accepted.id)).deliveries).toHaveLength(1)

    // Its time passes (the clock moved on): the alarm falls back, once, however often it runs.
    await db
      .prepare('UPDATE deliveries SET fallback_due = unixepoch() - 1 WHERE id = ?1')
      .bind(pushId)
      .run()
    await Promise.all([runShardAlarm(sender.providerId), runShardAlarm(sender.providerId)])
    await runShardAlarm(sender.providerId)
    expect(await fallBackUnacknowledged(db, new Date(), 100)).toEqual([])
    await eventually(
      () => read(sender, accepted.id),
      (m) => m.status === 'sent' && m.deliveries.length === 2,
      { timeoutMs: 15_000 },
    )
    const done = await deliverSms(standIn, sender, accepted.id, phone)
    const [push, sms] = [
      done.deliveries.find((d) => d.channel === 'fcm')!,
      done.deliveries.find((d) => d.channel === 'sms')!,
    ]
    expect(done.deliveries).toHaveLength(2)
    expect(push).toMatchObject({ status: 'sent', fallback_delivery_id: sms.id })
    expect(push.events.at(-1)).toMatchObject({ status: 'sent', error_code: 'fell_back' })
    expect(sms).toMatchObject({ status: 'delivered', fallback_of: push.id })
    expect(smsTo(standIn, phone)).toHaveLength(1)

    // The app acknowledges it late: the push reads delivered, the SMS stays as it is.
    expect((await ack(ackPathOf(standIn, device))).status).toBe(204)
    const late = await read(sender, accepted.id)
    expect(late.status).toBe('delivered')
    expect(late.deliveries.map((d) => [d.channel, d.status])).toEqual([
      ['fcm', 'delivered'],
      ['sms', 'delivered'],
    ])
  })

  it('does not fall back once the push is acknowledged', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const device = `device-${crypto.randomUUID()}`
    const sender = await freshSender({ phone, fcmTokens: [device] })
    const accepted = await accept(
      sender,
      pushRequest(sender, { channel: 'sms', after_seconds: 10 }),
    )
    await settle(sender, accepted.id)
    expect((await ack(ackPathOf(standIn, device))).status).toBe(204)
    await shardDb(sender.providerId)
      .prepare('UPDATE deliveries SET fallback_due = unixepoch() - 1 WHERE message_id = ?1')
      .bind(accepted.id)
      .run()
    await runShardAlarm(sender.providerId)
    const done = await read(sender, accepted.id)
    expect(done.status).toBe('delivered')
    expect(done.deliveries).toHaveLength(1)
    expect(smsTo(standIn, phone)).toEqual([])
  })
})

describe('POST /Services with fallback', () => {
  it('takes its field names in any case, as the other parameters', async () => {
    const sender = await freshSender()
    const body = pushRequest(sender)
    const response = await dispatch(sender, {
      ...body,
      parameters: { ...body.parameters, FallBack: { CANAL: 'Sms', After_Seconds: 60 } },
    })
    expect(response.status).toBe(201)
  })

  it('refuses what it cannot do, storing nothing', async () => {
    const sender = await freshSender()
    const cases: [unknown, string][] = [
      [{ channel: 'FCM' }, 'parameters.fallback.channel'],
      [{ channel: 'sms', after_seconds: 5 }, 'parameters.fallback.after_seconds'],
      [{ channel: 'sms', after_seconds: 86_401 }, 'parameters.fallback.after_seconds'],
      [{ channel: 'sms', later: true }, 'parameters.fallback'],
      ['sms', 'parameters.fallback'],
    ]
    for (const [fallback, path] of cases) {
      const response = await dispatch(sender, pushRequest(sender, fallback))
      const body = await expectProblem(response, 400, 'invalid_request')
      expect((body.errors as { path: string }[]).map((e) => e.path)).toContain(path)
    }
    // A service that sends no SMS lets no push fall back to it.
    const admin = await adminToken()
    const path = `/admin/services/${sender.serviceId}`
    expect((await adminCall(admin, 'PATCH', path, { allowed_channels: ['fcm'] })).status).toBe(204)
    const refused = await dispatch(sender, pushRequest(sender, { channel: 'SMS' }))
    const problem = await expectProblem(refused, 400, 'unsupported_channel')
    expect(problem.errors).toEqual([
      { path: 'parameters.fallback.channel', message: 'allowed: fcm' },
    ])
    expect(
      (await adminCall(admin, 'PATCH', path, { allowed_channels: ['sms', 'fcm'] })).status,
    ).toBe(204)

    // An SMS part has nothing to fall back from.
    const sms = pushRequest(sender, { channel: 'sms' })
    sms.parameters.notification.channel = 'SMS'
    const body = await expectProblem(await dispatch(sender, sms), 400, 'invalid_request')
    expect(body.errors).toEqual([
      { path: 'parameters.fallback', message: 'a fallback needs a part sent by FCM' },
    ])
  })
})
