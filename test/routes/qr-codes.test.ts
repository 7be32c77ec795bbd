// QR codes through POST /Services (decisions.md D19): a ticket or coupon drawn in the Worker,
// published like a picture, delivered by SMS and FCM, and read back as exactly what was sent; bad
// ones refused with nothing stored or queued.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { StandIn } from '../../stand-in/app.ts'
import {
  createSender,
  dispatch,
  freshPhone,
  freshSender,
  outboxRows,
  settle,
  type Sender,
  servicesRequest,
} from '../helpers/dispatch.ts'
import { call, expectProblem } from '../helpers/http.ts'
import { pictureKeys, randomPng, readQrCode, toBase64 } from '../helpers/pictures.ts'
import { useStandIn } from '../helpers/stand-in.ts'

const QUEUE = { timeout: 20_000 }
const PICTURE_URL = /^https:\/\/portero\.test\/pictures\/[0-9a-f]{64}\.png$/

/** A ticket by SMS: a notification with `qr` as its qr_code, plus optional other parameters. */
function ticket(sender: Sender, qr: unknown, extra: Record<string, unknown> = {}) {
  return servicesRequest(sender, {
    notification: { Titulo: 'Clínica Dr. Nano', Mensaje: 'Su turno: lunes 9:15', Canal: 'SMS' },
    qr_code: qr,
    ...extra,
  })
}

async function sendAndSettle(sender: Sender, body: unknown) {
  const response = await dispatch(sender, body)
  expect(response.status).toBe(201)
  const { id } = (await response.json()) as { id: string }
  const view = await settle(sender, id)
  expect(view.status).toBe('sent')
  return { id, deliveries: view.deliveries }
}

/** The served image at `url`, checked as an image, and what a QR reader reads in it. */
async function readServed(url: string): Promise<string | null> {
  const served = await call(new URL(url).pathname)
  expect(served.status).toBe(200)
  expect(served.headers.get('content-type')).toBe('image/png')
  expect(served.headers.get('x-content-type-options')).toBe('nosniff')
  return readQrCode(new Uint8Array(await served.arrayBuffer()))
}

describe('POST /Services with a qr_code', () => {
  it(
    'sends the code by SMS and FCM; the served image reads back as its content',
    QUEUE,
    async () => {
      const standIn = useStandIn()
      const sender = await freshSender()
      const content = `Entrada Nº ${crypto.randomUUID()} — ¡válida!`
      const body = ticket(
        sender,
        { content, label: 'Entrada general, fila 3' },
        { advertisement: { title: 'Promo', message: 'Traiga este código', channel: 'FCM' } },
      )
      const { deliveries } = await sendAndSettle(sender, body)
      // The notification carries the code; the advertisement, which has no picture, none.
      const sms = deliveries.find((d) => d.part === 'notification')!
      expect(sms.picture_url).toMatch(PICTURE_URL)
      expect(deliveries.find((d) => d.part === 'advertisement')!.picture_url).toBeNull()
      expect(await readServed(sms.picture_url!)).toBe(content)

      const sent = standIn.state.sms.filter(
        (r) => (r.body as { MediaUrl?: string }).MediaUrl === sms.picture_url,
      )
      expect(sent).toHaveLength(1)
      expect((sent[0]!.body as { Body: string }).Body).toBe(
        'Clínica Dr. Nano\nSu turno: lunes 9:15\nEntrada general, fila 3',
      )
    },
  )

  it(
    'sends the code as the FCM notification image when the notification goes by FCM',
    QUEUE,
    async () => {
      const standIn = useStandIn()
      const sender = await freshSender()
      const content = `CUPON-${crypto.randomUUID()}`
      const body = ticket(sender, { Content: content })
      body.parameters.notification.Canal = 'FCM'
      const { deliveries } = await sendAndSettle(sender, body)
      const url = deliveries[0]!.picture_url!
      expect(url).toMatch(PICTURE_URL)
      const pushes = standIn.state.fcm.filter((r) => JSON.stringify(r.body).includes(url))
      expect(pushes).toHaveLength(1)
      expect(pushes[0]!.body).toMatchObject({
        message: {
          notification: { image: url },
          android: { notification: { image: url } },
          webpush: { notification: { image: url } },
        },
      })
      expect(await readServed(url)).toBe(content)
    },
  )

  it('stores the same code once: two messages, one URL, one KV entry', QUEUE, async () => {
    useStandIn()
    const sender = await freshSender()
    const content = `TICKET-${crypto.randomUUID()}`
    const before = await pictureKeys()
    const first = await sendAndSettle(sender, ticket(sender, { content }))
    const second = await sendAndSettle(sender, ticket(sender, { content, label: 'Otra vez' }))
    expect(second.deliveries[0]!.picture_url).toBe(first.deliveries[0]!.picture_url)
    expect((await pictureKeys()).filter((k) => !before.includes(k))).toHaveLength(1)
  })

  it('keeps the image until expires_at, and no longer', QUEUE, async () => {
    useStandIn()
    const sender = await freshSender()
    const expiresAt = Math.floor(Date.now() / 1000) + 2 * 3600
    const { deliveries } = await sendAndSettle(
      sender,
      ticket(sender, {
        content: `VIP-${crypto.randomUUID()}`,
        expires_at: new Date(expiresAt * 1000).toISOString(),
      }),
    )
    const id = new URL(deliveries[0]!.picture_url!).pathname.match(/([0-9a-f]{64})\.png$/)![1]!
    const { metadata } = await env.CACHE.getWithMetadata<{ expiresAt: number }>(`picture:${id}`)
    expect(metadata!.expiresAt).toBe(expiresAt)
  })

  it(
    'answers 409 to the same Idempotency-Key with another code, 200 with the same one',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await freshSender()
      const key = crypto.randomUUID()
      const body = ticket(sender, { content: 'A-1' })
      const first = await dispatch(sender, body, { 'idempotency-key': key })
      expect(first.status).toBe(201)
      const { id } = (await first.json()) as { id: string }
      expect((await dispatch(sender, body, { 'idempotency-key': key })).status).toBe(200)
      await expectProblem(
        await dispatch(sender, ticket(sender, { content: 'A-2' }), { 'idempotency-key': key }),
        409,
        'conflict',
      )
      await settle(sender, id)
    },
  )

  // Each way a qr_code is refused is checked on the parser (test/domain/dispatch-request.test.ts);
  // here two show that a refused code stores, draws and sends nothing.
  const refusals: { name: string; path: string; body: (s: Sender) => unknown }[] = [
    {
      name: 'an expiry in the past',
      path: 'parameters.qr_code.expires_at',
      body: (s) => ticket(s, { content: 'T', expires_at: '2020-01-01T00:00:00Z' }),
    },
    {
      name: 'a code for a notification that already has a picture',
      path: 'parameters.qr_code',
      body: (s) => {
        const body = ticket(s, { content: 'T' })
        Object.assign(body.parameters.notification, { Picture: toBase64(randomPng()) })
        return body
      },
    },
  ]
  for (const refusal of refusals) {
    it(`answers 400 to ${refusal.name}, storing and queueing nothing`, async () => {
      const standIn: StandIn = useStandIn()
      const sender = await freshSender()
      const keys = await pictureKeys()
      const sent = standIn.state.sms.length
      const problem = await expectProblem(
        await dispatch(sender, refusal.body(sender)),
        400,
        'invalid_request',
      )
      expect(problem.errors).toContainEqual({ path: refusal.path, message: expect.any(String) })
      expect(await outboxRows(sender.providerId)).toBe(0)
      expect(await pictureKeys()).toEqual(keys)
      expect(standIn.state.sms.length).toBe(sent)
    })
  }
})

describe('a service that requires qr_code', () => {
  it('refuses a request without one, naming it', async () => {
    useStandIn()
    const sender = await createSender({
      phone: freshPhone(),
      requiredParameters: ['destination', 'notification', 'qr_code'],
    })
    const body = ticket(sender, undefined) as { parameters: Record<string, unknown> }
    delete body.parameters.qr_code
    const problem = await expectProblem(await dispatch(sender, body), 400, 'invalid_request')
    expect(problem.detail).toContain('qr_code')
    expect(await outboxRows(sender.providerId)).toBe(0)
  })
})
