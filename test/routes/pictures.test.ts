// Pictures through POST /Services and GET /pictures/{id}.{ext} (decisions.md D19): accepted by
// content, refused with nothing stored or queued, stored once, served as sent with safe headers.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { app } from '../../src/app.ts'
import { MAX_PICTURE_BYTES } from '../../src/domain/pictures.ts'
import { digestClientSecret, importPepper } from '../../src/domain/secrets.ts'
import { toHex } from '../../src/encoding.ts'
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
import { call, expectProblem, ORIGIN } from '../helpers/http.ts'
import { GIF, jpeg, pictureKeys, randomPng, toBase64, WEBP } from '../helpers/pictures.ts'
import { countRoundTrips } from '../helpers/round-trips.ts'
import { useStandIn } from '../helpers/stand-in.ts'

const QUEUE = { timeout: 20_000 }
const PICTURE_URL = /^https:\/\/portero\.test\/pictures\/[0-9a-f]{64}\.(png|jpg|gif|webp)$/

/** An FCM advertisement carrying `picture`, plus optional other parameters. */
function advertisement(
  sender: Sender,
  picture: unknown,
  channel = 'FCM',
  extra: Record<string, unknown> = {},
) {
  return servicesRequest(sender, {
    advertisement: {
      Tittle: 'Autos usados CHECHO',
      Message: 'Lleve su auto usado',
      Cannel: channel,
      Picture: picture,
    },
    ...extra,
  })
}

/** The picture URL of each of the message's deliveries, as its status view shows them. */
async function pictureUrls(sender: Sender, messageId: string): Promise<(string | null)[]> {
  const response = await readMessage(sender, messageId)
  expect(response.status).toBe(200)
  const { deliveries } = (await response.json()) as MessageView
  return deliveries.map((d) => d.picture_url)
}

/** Sends `body`, expects 201, waits until sent, and returns the message id and its picture URL. */
async function sendAndSettle(sender: Sender, body: unknown): Promise<{ id: string; url: string }> {
  const response = await dispatch(sender, body)
  expect(response.status).toBe(201)
  const { id } = (await response.json()) as { id: string }
  expect((await settle(sender, id)).status).toBe('sent')
  const [url, ...others] = await pictureUrls(sender, id)
  expect(others).toEqual([])
  expect(url).toMatch(PICTURE_URL)
  return { id, url: url! }
}

function pathOf(url: string): string {
  return new URL(url).pathname
}

describe('POST /Services with a picture', () => {
  const formats = [
    { name: 'a PNG', bytes: () => randomPng(), type: 'image/png', ext: 'png' },
    { name: 'a JPEG', bytes: jpeg, type: 'image/jpeg', ext: 'jpg' },
    { name: 'a GIF', bytes: () => GIF, type: 'image/gif', ext: 'gif' },
    { name: 'a WebP', bytes: () => WEBP, type: 'image/webp', ext: 'webp' },
  ]
  for (const { name, bytes, type, ext } of formats) {
    it(`accepts ${name} and serves the same bytes as ${type}`, QUEUE, async () => {
      useStandIn()
      const sender = await freshSender()
      const input = bytes()
      const { url } = await sendAndSettle(
        sender,
        advertisement(sender, `data:${type};base64,${toBase64(input)}`),
      )
      expect(url.endsWith(`.${ext}`)).toBe(true)

      const served = await call(pathOf(url))
      expect(served.status).toBe(200)
      expect(served.headers.get('content-type')).toBe(type)
      // Cacheable publicly for as long as it is stored: 30 days from the send.
      const policy = served.headers.get('cache-control') ?? ''
      expect(policy).toMatch(/^public, max-age=\d+, immutable$/)
      const maxAge = Number(/max-age=(\d+)/.exec(policy)![1])
      expect(maxAge).toBeLessThanOrEqual(30 * 24 * 60 * 60)
      expect(maxAge).toBeGreaterThan(30 * 24 * 60 * 60 - 300)
      expect(served.headers.get('x-content-type-options')).toBe('nosniff')
      expect(served.headers.get('content-disposition')).toMatch(/^inline/)
      expect(new Uint8Array(await served.arrayBuffer())).toEqual(input)
    })
  }

  it('stores the same picture once: two messages, one URL, one KV entry', QUEUE, async () => {
    useStandIn()
    const sender = await freshSender()
    const png = toBase64(randomPng())
    const before = await pictureKeys()
    const first = await sendAndSettle(sender, advertisement(sender, png))
    const second = await sendAndSettle(
      sender,
      advertisement(sender, `data:image/png;base64,${png}`),
    )
    expect(second.id).not.toBe(first.id)
    expect(second.url).toBe(first.url)
    const added = (await pictureKeys()).filter((k) => !before.includes(k))
    expect(added).toHaveLength(1)
    expect(first.url).toContain(added[0]!.slice('picture:'.length))
  })

  it(
    'accepts 20 requests at once carrying the same picture, though KV takes one write a second',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await freshSender()
      const png = toBase64(randomPng())
      // KV's limit, at the binding: a second write to a key within a second is refused with 429.
      const written = new Map<string, number>()
      let refused = 0
      const counter = countRoundTrips(env, {
        before(call) {
          if (call.name !== 'kv.put' || !call.key?.startsWith('picture:')) return
          const last = written.get(call.key)
          if (last !== undefined && Date.now() - last < 1000) {
            refused++
            throw new Error('KV PUT failed: 429 Too Many Requests')
          }
          written.set(call.key, Date.now())
        },
      })
      const ctx = createExecutionContext()
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          app.fetch(
            new Request(`${ORIGIN}/Services`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${sender.token}`,
                'content-type': 'application/json',
              },
              body: JSON.stringify(advertisement(sender, png)),
            }),
            counter.env,
            ctx,
          ),
        ),
      )
      await waitOnExecutionContext(ctx)
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201))
      // The race happened: some requests wrote the picture, and KV refused all but the first.
      expect(refused).toBeGreaterThan(0)
      expect(written.size).toBe(1)
      const served = await call(`/pictures/${[...written.keys()][0]!.slice('picture:'.length)}.png`)
      expect(served.status).toBe(200)
      expect(toBase64(new Uint8Array(await served.arrayBuffer()))).toBe(png)
    },
  )

  it('does not publish a picture under its plain SHA-256', QUEUE, async () => {
    useStandIn()
    const sender = await freshSender()
    const png = randomPng()
    const { url } = await sendAndSettle(sender, advertisement(sender, toBase64(png)))
    const sha256 = toHex(await crypto.subtle.digest('SHA-256', png))
    expect(url).not.toContain(sha256)
    await expectProblem(await call(`/pictures/${sha256}.png`), 404, 'not_found')
  })

  it(
    'publishes under an id that is not what the secret-digest key makes of the same input',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await freshSender()
      const png = randomPng()
      const { url } = await sendAndSettle(sender, advertisement(sender, toBase64(png)))
      const sha256 = toHex(await crypto.subtle.digest('SHA-256', png))
      // A client secret equal to the id's HMAC input would be stored as this digest.
      const pepper = await importPepper(env.SECRET_PEPPER)
      const digest = await digestClientSecret(pepper, `portero picture v1\n${sha256}`)
      expect(url).not.toContain(digest)
    },
  )

  // Each way a picture is refused is checked on decodePicture (test/domain/pictures.test.ts); here
  // one of each status shows that a refused picture stores, queues and sends nothing.
  const refusals: { name: string; status: number; code: string; picture: () => string }[] = [
    {
      name: 'a PNG declared as JPEG',
      status: 400,
      code: 'invalid_request',
      picture: () => `data:image/jpeg;base64,${toBase64(randomPng())}`,
    },
    {
      name: '1 MiB + 1 byte',
      status: 413,
      code: 'payload_too_large',
      picture: () => {
        const png = randomPng(1, 1)
        const big = new Uint8Array(MAX_PICTURE_BYTES + 1)
        big.set(png.subarray(0, 33))
        big.set(png.subarray(png.length - 12), big.length - 12)
        return toBase64(big)
      },
    },
  ]

  for (const refusal of refusals) {
    it(`answers ${refusal.status} ${refusal.code} to ${refusal.name}, storing and queueing nothing`, async () => {
      const standIn: StandIn = useStandIn()
      const sender = await freshSender()
      const keys = await pictureKeys()
      const sent = standIn.state.fcm.length
      const response = await dispatch(sender, advertisement(sender, refusal.picture()))
      const problem = await expectProblem(response, refusal.status, refusal.code)
      expect(problem.errors).toContainEqual({
        path: 'parameters.advertisement.picture',
        message: expect.any(String),
      })
      expect(await outboxRows(sender.providerId)).toBe(0)
      expect(await pictureKeys()).toEqual(keys)
      expect(standIn.state.fcm.length).toBe(sent)
    })
  }
})

describe('delivering a picture', () => {
  it(
    'sends the picture URL to FCM as the notification image and to Twilio as MediaUrl',
    QUEUE,
    async () => {
      const standIn = useStandIn()
      const sender = await freshSender()
      const phone = freshPhone()
      const picture = toBase64(randomPng())
      const body = advertisement(sender, picture, 'FCM', {
        destination: sender.userId,
        notification: {
          title: 'Turno',
          message: 'Oftalmólogo 9:15',
          channel: 'SMS',
          picture,
          link: 'https://clinica.example/t',
        },
      })
      await env.DB.prepare(
        'UPDATE recipients SET phone = ?3 WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2',
      )
        .bind(sender.providerId, sender.userId, phone)
        .run()
      const response = await dispatch(sender, body)
      expect(response.status).toBe(201)
      const { id } = (await response.json()) as { id: string }
      expect((await settle(sender, id)).status).toBe('sent')
      const urls = await pictureUrls(sender, id)
      expect(urls).toHaveLength(2)
      expect(urls[0]).toMatch(PICTURE_URL)
      expect(urls[1]).toBe(urls[0])
      const url = urls[0]!

      const sms = standIn.state.sms.filter((r) => (r.body as { To?: string }).To === phone)
      expect(sms).toHaveLength(1)
      expect(sms[0]!.body).toMatchObject({
        MediaUrl: url,
        Body: 'Turno\nOftalmólogo 9:15\nhttps://clinica.example/t',
      })
      expect(sms[0]!.status).toBe(201)
      expect((sms[0]!.response as { num_media: string }).num_media).toBe('1')

      const pushes = standIn.state.fcm.filter(
        (r) =>
          JSON.stringify(r.body).includes(sender.userId) || JSON.stringify(r.body).includes(url),
      )
      expect(pushes).toHaveLength(1)
      expect(pushes[0]!.status).toBe(200)
      expect(pushes[0]!.body).toMatchObject({
        message: {
          notification: { image: url },
          android: { notification: { image: url } },
          apns: { payload: { aps: { 'mutable-content': 1 } }, fcm_options: { image: url } },
          webpush: { notification: { image: url } },
        },
      })
    },
  )
})

describe('GET /pictures/{id}.{ext}', () => {
  it(
    'answers 404 for an unknown id, a known id with another extension, and a malformed name',
    QUEUE,
    async () => {
      useStandIn()
      const sender = await freshSender()
      const { url } = await sendAndSettle(sender, advertisement(sender, toBase64(randomPng())))
      await expectProblem(await call(pathOf(url).replace(/\.png$/, '.gif')), 404, 'not_found')
      await expectProblem(await call(`/pictures/${'0'.repeat(64)}.png`), 404, 'not_found')
      await expectProblem(await call('/pictures/..%2F..%2Fetc'), 404, 'not_found')
    },
  )
})
