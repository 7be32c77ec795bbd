// A sandbox provider (docs/sending.md "Sandbox"): its messages go through every acceptance rule,
// are sent to no channel, get their statuses from the magic destinations through the same
// lifecycle, receipts and webhooks as real ones, and are counted apart from real messages.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { MAGIC_FCM, MAGIC_SMS } from '../../src/channels/sandbox.ts'
import { adminCall, adminToken, json } from '../helpers/admin.ts'
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
import { expectProblem } from '../helpers/http.ts'
import { runShardAlarm, shardDb } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'
import { receiverAt, registerEndpoint } from '../helpers/webhooks.ts'

type Delivery = MessageView['deliveries'][number] & { error_code: string | null }
type Viewed = Omit<MessageView, 'deliveries'> & { sandbox: boolean; deliveries: Delivery[] }

async function setSandbox(providerId: string, sandbox: unknown): Promise<Response> {
  return adminCall(await adminToken(), 'PATCH', `/admin/providers/${providerId}`, { sandbox })
}

/** A sender whose provider is in the sandbox, with a recipient at `phone` and `tokens`. */
async function sandboxSender(phone = freshPhone(), tokens = [`device-${crypto.randomUUID()}`]) {
  const sender = await freshSender({ phone, fcmTokens: tokens })
  expect((await setSandbox(sender.providerId, true)).status).toBe(204)
  return sender
}

/** The message once every delivery is final, the shard's alarm applying the sandbox receipts. */
async function final(sender: Sender, id: string): Promise<Viewed> {
  await settle(sender, id)
  return eventually(
    async () => {
      await runShardAlarm(sender.providerId)
      return (await (await readMessage(sender, id)).json()) as Viewed
    },
    (m) => m.deliveries.every((d) => d.status !== 'sent' || d.channel === 'fcm'),
  )
}

/** Both parts of document 001's example, the notification by SMS, the advertisement by FCM. */
function bothParts(sender: Sender) {
  const body = smsRequest(sender)
  return {
    ...body,
    parameters: {
      ...body.parameters,
      advertisement: { channel: 'FCM', title: 'Autos usados', message: 'Financiación' },
    },
  }
}

describe('a sandbox provider', () => {
  it(
    'sends nothing to the SMS API or FCM, ends the demo SMS delivered and its webhooks arrive',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const phone = freshPhone()
      const token = `device-${crypto.randomUUID()}`
      const sender = await sandboxSender(phone, [token])
      const endpoint = await registerEndpoint(sender, ['message.sent', 'message.delivered'])
      const receiver = receiverAt(standIn, endpoint.url)
      receiver.secrets = [endpoint.secret]

      const response = await dispatch(sender, bothParts(sender))
      expect(response.status).toBe(201)
      const accepted = (await response.json()) as Viewed
      expect(accepted.sandbox).toBe(true)
      const message = await final(sender, accepted.id)
      // The SMS delivered, the push sent (FCM's answer is a push's final state).
      expect(message.status).toBe('sent')
      const sms = message.deliveries.find((d) => d.channel === 'sms')!
      const push = message.deliveries.find((d) => d.channel === 'fcm')!
      expect(sms).toMatchObject({ status: 'delivered', error_code: null })
      expect(sms.provider_message_id).toMatch(/^SM[0-9a-f]{32}$/)
      expect(push.status).toBe('sent')
      expect(push.provider_message_id).toMatch(/^projects\/sandbox\/messages\//)
      // Neither stand-in heard of them (other tests' messages may be there).
      expect(standIn.state.sms.filter((r) => JSON.stringify(r.body).includes(phone))).toEqual([])
      expect(standIn.state.fcm.filter((r) => JSON.stringify(r.body).includes(token))).toEqual([])

      const received = await eventually(
        async () => receiver.received,
        (r) => r.length >= 3,
      )
      const types = received.map((r) => (r.body as { type: string }).type).sort()
      expect(types).toEqual(['message.delivered', 'message.sent', 'message.sent'])
      expect(received.every((r) => r.verified)).toBe(true)
    },
  )

  it('gets the status of each magic destination', { timeout: 30_000 }, async () => {
    useStandIn()
    const cases = [
      { phone: MAGIC_SMS.undelivered, status: 'undelivered', code: '30003' },
      { phone: MAGIC_SMS.failed, status: 'failed', code: '21211' },
    ]
    for (const { phone, status, code } of cases) {
      const sender = await sandboxSender(phone)
      const response = await dispatch(sender, smsRequest(sender))
      const { id } = (await response.json()) as Viewed
      const { deliveries } = await final(sender, id)
      expect(deliveries[0]).toMatchObject({ status, error_code: code })
      expect(deliveries[0]!.last_error).toMatch(/sandbox/)
    }
  })

  it('delivers a slow SMS a minute later, not before', { timeout: 30_000 }, async () => {
    useStandIn()
    const sender = await sandboxSender(MAGIC_SMS.slow)
    const { id } = (await (await dispatch(sender, smsRequest(sender))).json()) as Viewed
    await settle(sender, id)
    await runShardAlarm(sender.providerId)
    const read = async () => ((await (await readMessage(sender, id)).json()) as Viewed).status
    expect(await read()).toBe('sent')
    // A minute passes: the receipt is due.
    await shardDb(sender.providerId)
      .prepare('UPDATE sandbox_receipts SET due_at = due_at - 61')
      .run()
    await runShardAlarm(sender.providerId)
    expect(await read()).toBe('delivered')
  })

  it('removes a push token the sandbox calls unregistered, as FCM would', async () => {
    useStandIn()
    const token = `${MAGIC_FCM.unregistered}-${crypto.randomUUID()}`
    const sender = await sandboxSender(freshPhone(), [token])
    const body = smsRequest(sender)
    const push = {
      ...body,
      parameters: {
        ...body.parameters,
        notification: { ...(body.parameters.notification as object), channel: 'FCM' },
      },
    }
    const { id } = (await (await dispatch(sender, push)).json()) as Viewed
    const { deliveries } = await settle(sender, id)
    expect(deliveries[0]).toMatchObject({ status: 'failed' })
    const row = await env.DB.prepare(
      'SELECT fcm_tokens FROM recipients WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2',
    )
      .bind(sender.providerId, sender.userId)
      .first<{ fcm_tokens: string }>()
    expect(JSON.parse(row!.fcm_tokens)).toEqual([])
  })

  it('is counted apart: its messages never take from the real quotas, nor real ones from its', async () => {
    useStandIn()
    const sender = await freshSender()
    const admin = await adminToken()
    const path = `/admin/providers/${sender.providerId}`
    expect((await adminCall(admin, 'PATCH', path, { quotas: { per_minute: 1 } })).status).toBe(204)
    // One real message takes the real minute's quota.
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(429)
    // In the sandbox, the same quota counts anew, apart.
    expect((await setSandbox(sender.providerId, true)).status).toBe(204)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(429)
    // Back out of it: the real count is where it was.
    expect((await setSandbox(sender.providerId, false)).status).toBe(204)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(429)
  })
})

describe('/admin/providers: sandbox', () => {
  it('shows it, sets it at creation and by PATCH, and refuses what is not a boolean', async () => {
    const admin = await adminToken()
    const created = await json<{ id: string; sandbox: boolean }>(
      await adminCall(admin, 'POST', '/admin/providers', {
        name: `sandbox ${crypto.randomUUID()}`,
        sandbox: true,
      }),
      201,
    )
    expect(created.sandbox).toBe(true)
    const path = `/admin/providers/${created.id}`
    expect((await adminCall(admin, 'PATCH', path, { sandbox: false })).status).toBe(204)
    expect((await json<{ sandbox: boolean }>(await adminCall(admin, 'GET', path))).sandbox).toBe(
      false,
    )
    for (const bad of ['true', 1, null]) {
      const problem = await expectProblem(
        await adminCall(admin, 'PATCH', path, { sandbox: bad }),
        400,
        'invalid_request',
      )
      expect(problem.errors).toContainEqual({ path: 'sandbox', message: expect.any(String) })
    }
    expect((await json<{ sandbox: boolean }>(await adminCall(admin, 'GET', path))).sandbox).toBe(
      false,
    )
  })
})
