// WhatsApp end to end (decisions.md D47): POST /Services by WhatsApp, the opt-in and the 24-hour
// session window it needs, templates outside it, the stand-in's checks of Twilio's rules, the
// signed receipts (`read` counts as delivered) and the inbound webhook that opens the window.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import type { StandIn } from '../../stand-in/app.ts'
import {
  dispatch,
  freshPhone,
  freshSender,
  outboxRows,
  readMessage,
  settle,
  type MessageView,
  type Sender,
  servicesRequest,
} from '../helpers/dispatch.ts'
import { call, expectProblem, ORIGIN, signedSmsPost } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'

const TEMPLATE = 'HX0123456789abcdef0123456789abcdef'
/** The stand-in's number outside every session window (stand-in/app.ts). */
const OUTSIDE_WINDOW = '+15005550030'

/** A sender whose service delivers by WhatsApp, and its recipient's phone. */
async function whatsAppSender(phone = freshPhone(), options: { directNumbers?: boolean } = {}) {
  const sender = await freshSender({
    phone,
    allowedChannels: ['sms', 'fcm', 'whatsapp'],
    ...options,
  })
  return { sender, phone }
}

function patchRecipient(sender: Sender, fields: Record<string, unknown>) {
  return call(`/recipients/${encodeURIComponent(sender.userId)}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sender.token}` },
    body: JSON.stringify(fields),
  })
}

async function readRecipient(sender: Sender) {
  const response = await call(`/recipients/${encodeURIComponent(sender.userId)}`, {
    headers: { authorization: `Bearer ${sender.token}` },
  })
  expect(response.status).toBe(200)
  return (await response.json()) as {
    whatsapp_opt_in: boolean
    whatsapp_opt_in_at: string | null
    whatsapp_last_inbound_at: string | null
  }
}

/** The person writes to the WhatsApp sender: Twilio's inbound webhook, signed. */
async function inboundWhatsApp(phone: string, body = 'Hola') {
  const url = `${ORIGIN}/callbacks/sms/inbound`
  const fields = {
    AccountSid: env.SMS_ACCOUNT_SID,
    From: `whatsapp:${phone}`,
    To: `whatsapp:${env.TWILIO_WHATSAPP_FROM}`,
    Body: body,
    MessageSid: `SM${crypto.randomUUID().replaceAll('-', '')}`,
  }
  const response = await call('/callbacks/sms/inbound', await signedSmsPost(url, fields))
  expect(response.status).toBe(200)
}

function whatsAppRequest(sender: Sender, part: Record<string, unknown> = {}) {
  return servicesRequest(sender, {
    notification: { title: 'Turno', message: 'Oftalmólogo 9:15', channel: 'WhatsApp', ...part },
  })
}

/** What the stand-in's Messages API accepted for `phone` by WhatsApp. */
function whatsAppTo(standIn: StandIn, phone: string) {
  return standIn.state.sms
    .filter((r) => (r.body as { To?: string }).To === `whatsapp:${phone}` && r.status === 201)
    .map((r) => r.body as Record<string, string>)
}

async function accepted(response: Response): Promise<MessageView> {
  expect(response.status).toBe(201)
  return (await response.json()) as MessageView
}

async function deliveryOf(sender: Sender, id: string) {
  const view = (await (await readMessage(sender, id)).json()) as MessageView
  return {
    message: view,
    delivery: view.deliveries[0]! as MessageView['deliveries'][number] & {
      error_code: string | null
      content_sid: string | null
    },
  }
}

describe('POST /Services by WhatsApp', () => {
  it(
    'delivers a free-form message to an opted-in recipient who wrote in the last 24 hours',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const { sender, phone } = await whatsAppSender()
      expect((await patchRecipient(sender, { whatsapp_opt_in: true })).status).toBe(204)
      await inboundWhatsApp(phone)

      const { id } = await accepted(await dispatch(sender, whatsAppRequest(sender)))
      expect((await settle(sender, id)).status).toBe('sent')
      const [sent] = whatsAppTo(standIn, phone)
      expect(sent).toMatchObject({
        To: `whatsapp:${phone}`,
        From: `whatsapp:${env.TWILIO_WHATSAPP_FROM}`,
        Body: 'Turno\nOftalmólogo 9:15',
      })
      expect(sent!.ContentSid).toBeUndefined()

      const callbacks = await standIn.sendCallbacks((c) => c.form.To === `whatsapp:${phone}`)
      expect(callbacks.map((c) => [c.form.MessageStatus, c.answer])).toEqual([
        ['sent', 200],
        ['delivered', 200],
      ])
      const { message, delivery } = await deliveryOf(sender, id)
      expect(message.status).toBe('delivered')
      expect(delivery).toMatchObject({ channel: 'whatsapp', status: 'delivered' })
    },
  )

  it('takes the channel as code 3 and in any case', async () => {
    useStandIn()
    const { sender, phone } = await whatsAppSender()
    await patchRecipient(sender, { whatsapp_opt_in: true })
    await inboundWhatsApp(phone)
    for (const channel of [3, '3', 'WHATSAPP', 'whatsapp']) {
      const { id, deliveries } = await accepted(
        await dispatch(sender, whatsAppRequest(sender, { channel, message: `m ${channel}` })),
      )
      expect(deliveries.map((d) => d.channel)).toEqual(['whatsapp'])
      await settle(sender, id)
    }
  })

  it('refuses a recipient without an opt-in with 400 whatsapp_opt_in_required, storing nothing', async () => {
    useStandIn()
    const { sender, phone } = await whatsAppSender()
    await inboundWhatsApp(phone)
    const problem = await expectProblem(
      await dispatch(sender, whatsAppRequest(sender)),
      400,
      'whatsapp_opt_in_required',
    )
    expect(problem.errors).toEqual([
      { path: 'parameters.destination', message: 'no WhatsApp opt-in' },
    ])
    expect(await outboxRows(sender.providerId)).toBe(0)
  })

  it('refuses a number outside the directory, which has no recorded opt-in', async () => {
    useStandIn()
    const { sender } = await whatsAppSender(freshPhone(), { directNumbers: true })
    const body = whatsAppRequest(sender)
    body.parameters.destination = freshPhone()
    await expectProblem(await dispatch(sender, body), 400, 'whatsapp_opt_in_required')
    expect(await outboxRows(sender.providerId)).toBe(0)
  })

  it('refuses a free-form message outside the session window with 400 template_required', async () => {
    useStandIn()
    const { sender } = await whatsAppSender()
    await patchRecipient(sender, { whatsapp_opt_in: true })
    const problem = await expectProblem(
      await dispatch(sender, whatsAppRequest(sender)),
      400,
      'template_required',
    )
    expect(problem.errors).toEqual([
      { path: 'parameters.notification.content_sid', message: 'required outside the window' },
    ])
    expect(await outboxRows(sender.providerId)).toBe(0)
  })

  it('refuses a free-form message due after the window closes', async () => {
    useStandIn()
    const { sender, phone } = await whatsAppSender()
    await patchRecipient(sender, { whatsapp_opt_in: true })
    await inboundWhatsApp(phone)
    const body = {
      ...whatsAppRequest(sender),
      send_at: new Date(Date.now() + 25 * 60 * 60 * 1000).toISOString(),
    }
    await expectProblem(await dispatch(sender, body), 400, 'template_required')
  })

  it(
    'sends a template outside the window, with its ContentSid and ContentVariables',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      const { sender, phone } = await whatsAppSender()
      await patchRecipient(sender, { whatsapp_opt_in: true })
      const variables = { '1': '12/1', '2': '3pm' }
      const request = whatsAppRequest(sender, {
        channel: 3,
        content_sid: TEMPLATE,
        content_variables: variables,
      })
      const { id } = await accepted(await dispatch(sender, request))
      expect((await settle(sender, id)).status).toBe('sent')
      const [sent] = whatsAppTo(standIn, phone)
      expect(sent).toMatchObject({ ContentSid: TEMPLATE })
      expect(JSON.parse(sent!.ContentVariables!)).toEqual(variables)
      expect(sent!.Body).toBeUndefined()
      await standIn.sendCallbacks((c) => c.form.To === `whatsapp:${phone}`)
      const { delivery } = await deliveryOf(sender, id)
      expect(delivery).toMatchObject({ status: 'delivered', content_sid: TEMPLATE })
    },
  )

  it.each([
    [{ content_sid: 'HX123' }, 'parameters.notification.content_sid'],
    [{ content_sid: 'HX0123456789ABCDEF0123456789ABCDEF' }, 'parameters.notification.content_sid'],
    [
      { content_sid: TEMPLATE, content_variables: { '1': 2 } },
      'parameters.notification.content_variables.1',
    ],
    [
      { content_sid: TEMPLATE, content_variables: ['a'] },
      'parameters.notification.content_variables',
    ],
    [{ content_variables: { '1': 'a' } }, 'parameters.notification.content_sid'],
    [{ channel: 'SMS', content_sid: TEMPLATE }, 'parameters.notification.content_sid'],
  ])('refuses the template fields %j with 400 invalid_request at %s', async (fields, path) => {
    useStandIn()
    const { sender } = await whatsAppSender()
    await patchRecipient(sender, { whatsapp_opt_in: true })
    const problem = await expectProblem(
      await dispatch(sender, whatsAppRequest(sender, fields)),
      400,
      'invalid_request',
    )
    expect((problem.errors as { path: string }[]).map((e) => e.path)).toContain(path)
    expect(await outboxRows(sender.providerId)).toBe(0)
  })

  it('answers 501 channel_not_configured without TWILIO_WHATSAPP_FROM', async () => {
    const { sender } = await whatsAppSender()
    await patchRecipient(sender, { whatsapp_opt_in: true })
    const ctx = createExecutionContext()
    const response = await worker.fetch(
      new Request(`${ORIGIN}/Services`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sender.token}` },
        body: JSON.stringify(whatsAppRequest(sender)),
      }),
      { ...env, TWILIO_WHATSAPP_FROM: '' },
      ctx,
    )
    await waitOnExecutionContext(ctx)
    const problem = await expectProblem(response, 501, 'channel_not_configured')
    expect(problem.detail).toBe('WhatsApp delivery is not configured on this deployment.')
    expect(await outboxRows(sender.providerId)).toBe(0)
  })

  it(
    'fails for good with 63016 when WhatsApp finds the person outside the window',
    { timeout: 30_000 },
    async () => {
      const standIn = useStandIn()
      // Portero heard from the person, WhatsApp's own window says otherwise (the stand-in's
      // magic number): the receipt fails the delivery with WhatsApp's code.
      const { sender } = await whatsAppSender(OUTSIDE_WINDOW)
      await patchRecipient(sender, { whatsapp_opt_in: true })
      await inboundWhatsApp(OUTSIDE_WINDOW)
      const { id } = await accepted(await dispatch(sender, whatsAppRequest(sender)))
      await settle(sender, id)
      const sid = whatsAppTo(standIn, OUTSIDE_WINDOW).length
      expect(sid).toBeGreaterThan(0)
      const { delivery: sent } = await deliveryOf(sender, id)
      await standIn.sendCallbacks((c) => c.form.MessageSid === sent.provider_message_id)
      const { delivery } = await deliveryOf(sender, id)
      expect(delivery).toMatchObject({ status: 'failed', error_code: '63016' })
      expect(delivery.last_error).toContain('session window')
    },
  )
})

describe('WhatsApp receipts and the inbound webhook', () => {
  it('takes a `read` receipt as delivered', { timeout: 30_000 }, async () => {
    useStandIn()
    const { sender, phone } = await whatsAppSender()
    await patchRecipient(sender, { whatsapp_opt_in: true })
    await inboundWhatsApp(phone)
    const { id } = await accepted(await dispatch(sender, whatsAppRequest(sender)))
    await settle(sender, id)
    const { delivery: sent } = await deliveryOf(sender, id)
    // WhatsApp may report `read` without `delivered` first.
    const url = `${ORIGIN}/callbacks/sms/status?shard=${encodeURIComponent(`provider:${sender.providerId}`)}`
    const fields = {
      AccountSid: env.SMS_ACCOUNT_SID,
      MessageSid: sent.provider_message_id!,
      MessageStatus: 'read',
      To: `whatsapp:${phone}`,
      From: `whatsapp:${env.TWILIO_WHATSAPP_FROM}`,
    }
    const response = await call(url.slice(ORIGIN.length), await signedSmsPost(url, fields))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ outcome: 'applied', status: 'delivered' })
    expect((await deliveryOf(sender, id)).delivery.status).toBe('delivered')
  })

  it('opens the session window of the recipient who wrote, and STOP withdraws the opt-in', async () => {
    const { sender, phone } = await whatsAppSender()
    expect((await patchRecipient(sender, { whatsapp_opt_in: true })).status).toBe(204)
    const before = await readRecipient(sender)
    expect(before.whatsapp_opt_in).toBe(true)
    expect(before.whatsapp_opt_in_at).toEqual(expect.any(String))
    expect(before.whatsapp_last_inbound_at).toBeNull()

    await inboundWhatsApp(phone)
    const after = await readRecipient(sender)
    expect(after.whatsapp_last_inbound_at).toEqual(expect.any(String))
    expect(after.whatsapp_opt_in_at).toBe(before.whatsapp_opt_in_at)

    await inboundWhatsApp(phone, 'stop')
    expect(await readRecipient(sender)).toMatchObject({
      whatsapp_opt_in: false,
      whatsapp_opt_in_at: null,
    })
  })

  it('records the opt-in time once, and clears it when the opt-in is withdrawn', async () => {
    const { sender } = await whatsAppSender()
    expect((await readRecipient(sender)).whatsapp_opt_in).toBe(false)
    await patchRecipient(sender, { whatsapp_opt_in: true })
    const given = (await readRecipient(sender)).whatsapp_opt_in_at
    expect(given).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    await patchRecipient(sender, { sms_opt_out: true })
    expect((await readRecipient(sender)).whatsapp_opt_in_at).toBe(given)
    await patchRecipient(sender, { whatsapp_opt_in: false })
    expect(await readRecipient(sender)).toMatchObject({
      whatsapp_opt_in: false,
      whatsapp_opt_in_at: null,
    })
    await expectProblem(
      await patchRecipient(sender, { whatsapp_opt_in: 'yes' }),
      400,
      'invalid_request',
    )
  })
})
