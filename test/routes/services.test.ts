// POST /Services and GET /Services/messages/{id} through the Worker's fetch handler: accepted
// requests end to end, refusals that store and send nothing, idempotency and the status. What the
// body alone decides is checked on the parser (test/domain/dispatch-request.test.ts), and the
// rules of every route (token, scope, media type) by test/routes/contract.test.ts.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { insertProvider } from '../../src/storage/providers.ts'
import {
  createSender,
  dispatch,
  example001,
  freshPhone,
  freshSender,
  pushesTo,
  readMessage,
  settle,
  smsRequest,
  smsTo,
  type MessageView,
  type Sender,
} from '../helpers/dispatch.ts'
import { basicAuth, call, expectProblem, postForm, postJson } from '../helpers/http.ts'
import { shardDb } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'

type Body = {
  provider_id: number | string
  service_token: string
  service_id: number
  parameters: Record<string, unknown>
}

type FieldError = { path: string; message: string }

/** For tests that wait on the real queue and consumer. */
const QUEUE = { timeout: 20_000 }

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const INT64_MAX = '9223372036854775807'
const TURNO = 'Oftalmologo Lunes 29-10 a las 9:15Hs.'
/** Twilio's longest SMS body; by SMS the link is part of the text (`title\nmessage\nlink`). */
const MAX_SMS_TEXT = 1600

/** A link that makes `Turno\nOftalmologo\n<link>` exactly `length` characters long. */
function linkForSmsOf(length: number): string {
  const origin = 'https://clinica.example/'
  return origin + 'a'.repeat(length - 'Turno\nOftalmologo\n'.length - origin.length)
}

async function recipientOf(sender: Sender): Promise<{ phone: string | null; fcmTokens: string[] }> {
  const row = await env.DB.prepare(
    `SELECT phone, fcm_tokens FROM recipients
     WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2`,
  )
    .bind(sender.providerId, sender.userId)
    .first<{ phone: string | null; fcm_tokens: string }>()
  return { phone: row!.phone, fcmTokens: JSON.parse(row!.fcm_tokens) as string[] }
}

/** `body` with its notification's fields changed (an undefined field is left out of the JSON). */
function withNotification(body: Body, fields: Record<string, unknown>): Body {
  const notification = body.parameters.notification as Record<string, unknown>
  return withParameters(body, { notification: { ...notification, ...fields } })
}

function withParameters(body: Body, fields: Record<string, unknown>): Body {
  return { ...body, parameters: { ...body.parameters, ...fields } }
}

const keyed = (key: string) => ({ 'idempotency-key': key })

async function accepted(response: Response, status = 201): Promise<MessageView> {
  expect(response.status).toBe(status)
  return (await response.json()) as MessageView
}

/** Waits until the message is sent, and returns its status. */
async function untilSent(sender: Sender, id: string): Promise<MessageView> {
  const done = await settle(sender, id)
  expect(done.status).toBe('sent')
  return done
}

/** Expects `response` to accept a message, and waits until it is sent. */
async function sent(sender: Sender, response: Response): Promise<MessageView> {
  return untilSent(sender, (await accepted(response)).id)
}

/** What the provider's send shard holds, and every provider's messages D1's index lists. */
async function countRows(providerId: string) {
  const inShard = await shardDb(providerId)
    .prepare(
      `SELECT (SELECT COUNT(*) FROM messages) AS messages,
         (SELECT COUNT(*) FROM deliveries) AS deliveries`,
    )
    .first<{ messages: number; deliveries: number }>()
  const indexed = await env.DB.prepare('SELECT COUNT(*) AS n FROM message_index').first<{
    n: number
  }>()
  return { ...inShard!, all_indexed: indexed!.n }
}

describe('POST /Services: accepted requests', () => {
  it('accepts document 001’s example: 201, Location and the queued message', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone, fcmTokens } = await recipientOf(sender)
    const response = await dispatch(sender, example001(sender))
    const message = await accepted(response)
    expect(response.headers.get('location')).toBe(`/Services/messages/${message.id}`)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(response.headers.get('idempotent-replayed')).toBeNull()
    expect(message).toEqual({
      // It names the provider's send shard (src/domain/message-ids.ts).
      id: expect.stringMatching(new RegExp(`^p${sender.providerId}_[0-9a-f]{32}$`)),
      status: 'queued',
      provider_id: sender.providerId,
      service_id: sender.serviceId,
      destination: sender.userId,
      created_at: expect.stringMatching(ISO_TIME),
      scheduled_for: null,
      sandbox: false,
      deliveries: expect.any(Array),
    })
    expect(typeof message.provider_id).toBe('string')
    expect(message.deliveries.map((d) => [d.part, d.channel]).sort()).toEqual([
      ['advertisement', 'fcm'],
      ['notification', 'sms'],
    ])
    for (const delivery of message.deliveries) {
      expect(delivery).toMatchObject({
        id: expect.stringMatching(UUID),
        status: 'queued',
        attempts: 0,
        last_error: null,
        provider_message_id: null,
        sent_at: null,
      })
    }
    const text = JSON.stringify(message)
    expect(text).not.toContain(phone!)
    expect(text).not.toContain(fcmTokens[0]!)

    await untilSent(sender, message.id)
    expect(smsTo(standIn, phone!)).toEqual([
      'Clínica Dr. Nano. Turno\nOftalmologo Lunes 29-10 a las 9:15Hs.',
    ])
    expect(pushesTo(standIn, fcmTokens[0]!)).toHaveLength(1)
    expect(JSON.stringify(pushesTo(standIn, fcmTokens[0]!))).toContain('Autos usados CHECHO')
  })

  // Document 001's other spellings are read by the parser (test/domain/dispatch-request.test.ts).
  it('accepts the canonical English names and sends the link in the SMS', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone } = await recipientOf(sender)
    const link = 'https://clinica.example/turnos/29-10'
    const body = withNotification(smsRequest(sender), { message: TURNO, link })
    const message = await sent(sender, await dispatch(sender, body))
    expect(message.deliveries.map((d) => [d.part, d.channel])).toEqual([['notification', 'sms']])
    expect(smsTo(standIn, phone!)).toEqual([`Turno\n${TURNO}\n${link}`])
  })

  // Every name and code of a channel is read by the parser; here one of each reaches its channel.
  const channels: { channel: string | number; expected: 'sms' | 'fcm' }[] = [
    { channel: 1, expected: 'sms' },
    { channel: 'fCm', expected: 'fcm' },
  ]

  for (const { channel, expected } of channels) {
    it(`delivers channel ${JSON.stringify(channel)} by ${expected} only`, QUEUE, async () => {
      const standIn = useStandIn()
      const sender = await freshSender()
      const { phone, fcmTokens } = await recipientOf(sender)
      const marker = crypto.randomUUID()
      const body = withNotification(smsRequest(sender, marker), { channel })
      const message = await sent(sender, await dispatch(sender, body))
      expect(message.deliveries.map((d) => d.channel)).toEqual([expected])
      const texts = smsTo(standIn, phone!)
      const pushes = pushesTo(standIn, fcmTokens[0]!)
      expect([texts.length, pushes.length]).toEqual(expected === 'sms' ? [1, 0] : [0, 1])
      expect(JSON.stringify([texts, pushes])).toContain(marker)
    })
  }

  it('counts limits in characters: 32 for the title, 166 for the message', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone } = await recipientOf(sender)
    const title = 'Señal ñandú ÁÉÍÓÚ çà ü'.padEnd(32, 'é')
    const message = `${'Oftalmólogo ñ '.repeat(10)}${'😀'.repeat(26)}`
    expect([...title]).toHaveLength(32)
    expect([...message]).toHaveLength(166)
    expect(new TextEncoder().encode(message).length).toBeGreaterThan(166)
    const body = withNotification(smsRequest(sender), { title, message })
    await sent(sender, await dispatch(sender, body))
    expect(smsTo(standIn, phone!)).toEqual([`${title}\n${message}`])
  })

  it('accepts a link that makes the SMS exactly 1600 characters long', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone } = await recipientOf(sender)
    const link = linkForSmsOf(MAX_SMS_TEXT)
    const body = withNotification(smsRequest(sender), { message: 'Oftalmologo', link })
    await sent(sender, await dispatch(sender, body))
    expect(smsTo(standIn, phone!)).toEqual([`Turno\nOftalmologo\n${link}`])
    expect(smsTo(standIn, phone!)[0]).toHaveLength(MAX_SMS_TEXT)
  })

  it('accepts an E.164 number outside the directory as an SMS destination', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender({ directNumbers: true })
    const phone = freshPhone()
    const body = withParameters(smsRequest(sender), { destination: phone })
    const response = await dispatch(sender, body)
    const message = await accepted(response)
    expect(message.destination).not.toBe(phone)
    expect(message.destination.endsWith(phone.slice(-4))).toBe(true)
    expect(JSON.stringify(message)).not.toContain(phone)
    await untilSent(sender, message.id)
    expect(smsTo(standIn, phone)).toHaveLength(1)
  })

  it('takes provider_id as a JSON integer or a decimal string', QUEUE, async () => {
    useStandIn()
    const sender = await freshSender()
    const asNumber = await sent(sender, await dispatch(sender, example001(sender, true)))
    const asString = await sent(sender, await dispatch(sender, example001(sender, false)))
    expect(asNumber.provider_id).toBe(sender.providerId)
    expect(asString.provider_id).toBe(sender.providerId)
    expect(asString.id).not.toBe(asNumber.id)
  })

  it('takes the largest int64 provider id as a string and echoes it exactly', QUEUE, async () => {
    const standIn = useStandIn()
    await insertProvider(env.DB, { id: INT64_MAX, name: 'provider at 2^63 − 1' })
    const sender = await freshSender({ providerId: INT64_MAX })
    expect(sender.providerId).toBe(INT64_MAX)
    const { phone } = await recipientOf(sender)
    const body = { ...smsRequest(sender), provider_id: INT64_MAX }
    const response = await dispatch(sender, body)
    expect(await response.clone().text()).toContain(`"provider_id":"${INT64_MAX}"`)
    const message = await sent(sender, response)
    expect(message.provider_id).toBe(INT64_MAX)
    expect(smsTo(standIn, phone!)).toHaveLength(1)
    const stored = await shardDb(INT64_MAX)
      .prepare('SELECT CAST(provider_id AS TEXT) AS provider_id FROM messages WHERE id = ?1')
      .bind(message.id)
      .first<{ provider_id: string }>()
    expect(stored?.provider_id).toBe(INT64_MAX)
  })
})

type Refusal = {
  name: string
  status: number
  code: string
  /** A field error the problem must carry. */
  error?: { path: string; message?: RegExp }
  sender?: Parameters<typeof createSender>[0]
  /** Sends the refused request; `body` is a valid SMS request of `sender`. */
  send: (sender: Sender, body: Body) => Promise<Response>
}

const post = (sender: Sender, body: unknown, headers?: Record<string, string>) =>
  dispatch(sender, body, headers)

/** `body` as JSON text with `provider_id` written verbatim (JSON.stringify would round it). */
function rawProviderId(body: Body, literal: string): string {
  const text = JSON.stringify({ ...body, provider_id: 0 })
  return text.replace('"provider_id":0', `"provider_id":${literal}`)
}

const refusals: Refusal[] = [
  {
    name: 'a 33-character title',
    status: 400,
    code: 'invalid_request',
    error: { path: 'parameters.notification.title', message: /32/ },
    send: (s, b) => post(s, withNotification(b, { title: 'á'.repeat(33) })),
  },
  {
    name: 'another provider’s service_token',
    status: 403,
    code: 'forbidden',
    send: async (s, b) => {
      const other = await freshSender()
      return post(s, { ...b, service_id: other.serviceId, service_token: other.serviceToken })
    },
  },
  {
    name: 'a revoked subscription',
    status: 403,
    code: 'forbidden',
    send: async (s, b) => {
      await env.DB.prepare(`UPDATE subscriptions SET status = 'revoked' WHERE service_token = ?1`)
        .bind(s.serviceToken)
        .run()
      return post(s, b)
    },
  },
  {
    name: 'an unknown service_id',
    status: 400,
    code: 'unknown_service',
    error: { path: 'service_id' },
    send: (s, b) => post(s, { ...b, service_id: 2_000_000_000 }),
  },
  {
    name: 'a disabled service',
    status: 403,
    code: 'forbidden',
    send: async (s, b) => {
      await env.DB.prepare('UPDATE services SET enabled = 0 WHERE id = ?1').bind(s.serviceId).run()
      return post(s, b)
    },
  },
  {
    name: 'a parameter the service requires (advertisement) left out',
    status: 400,
    code: 'invalid_request',
    sender: { requiredParameters: ['destination', 'advertisement'] },
    error: { path: 'parameters.advertisement' },
    send: (s, b) => post(s, b),
  },
  {
    name: 'neither a notification nor an advertisement',
    status: 400,
    code: 'invalid_request',
    error: { path: 'parameters.notification' },
    send: (s, b) => post(s, withParameters(b, { notification: undefined })),
  },
  {
    name: 'channel SAT',
    status: 400,
    code: 'unsupported_channel',
    error: { path: 'parameters.notification.channel' },
    send: (s, b) => post(s, withNotification(b, { channel: 'SAT' })),
  },
  {
    name: 'another provider’s provider_id',
    status: 403,
    code: 'forbidden',
    send: async (s, b) => {
      const other = await freshSender()
      return post(s, { ...b, provider_id: Number(other.providerId) })
    },
  },
  {
    // Every id of the request names the other provider: only the token's provider_id tells.
    name: 'another provider’s provider_id, service_id and service_token together',
    status: 403,
    code: 'forbidden',
    send: async (s, b) => {
      const other = await freshSender()
      return post(s, {
        ...b,
        provider_id: Number(other.providerId),
        service_id: other.serviceId,
        service_token: other.serviceToken,
        parameters: { ...b.parameters, destination: other.userId },
      })
    },
  },
  {
    name: 'a provider_id number past 2^53 − 1 (9007199254740993)',
    status: 400,
    code: 'invalid_request',
    error: { path: 'provider_id' },
    send: (s, b) => post(s, rawProviderId(b, '9007199254740993')),
  },
  {
    name: 'a microPayment',
    status: 400,
    code: 'not_supported',
    error: { path: 'parameters.microPayment' },
    send: (s, b) => post(s, withParameters(b, { microPayment: { amount: 100 } })),
  },
  {
    name: 'a destination outside the directory',
    status: 400,
    code: 'unknown_destination',
    error: { path: 'parameters.destination' },
    send: (s, b) => post(s, withParameters(b, { destination: `nobody-${crypto.randomUUID()}` })),
  },
  {
    name: 'an E.164 number outside the directory for FCM',
    status: 400,
    code: 'unknown_destination',
    error: { path: 'parameters.destination' },
    send: (s, b) => {
      const push = withNotification(b, { channel: 'FCM' })
      return post(s, withParameters(push, { destination: freshPhone() }))
    },
  },
  {
    name: 'a recipient who opted out of SMS',
    status: 400,
    code: 'destination_unreachable',
    error: { path: 'parameters.notification.channel' },
    send: async (s, b) => {
      const patched = await call(`/recipients/${encodeURIComponent(s.userId)}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sms_opt_out: true }),
      })
      expect(patched.status).toBe(204)
      return post(s, b)
    },
  },
  {
    name: 'FCM to a recipient without registration tokens',
    status: 400,
    code: 'destination_unreachable',
    sender: { fcmTokens: [] },
    error: { path: 'parameters.notification.channel' },
    send: (s, b) => post(s, withNotification(b, { channel: 'FCM' })),
  },
  {
    name: 'a revoked token',
    status: 401,
    code: 'invalid_token',
    send: async (s, b) => {
      const revoked = await postForm(
        '/oauth/revoke',
        { token: s.token },
        { authorization: basicAuth(s.clientId, s.clientSecret) },
      )
      expect(revoked.status).toBe(200)
      return post(s, b)
    },
  },
  {
    name: 'a body over 1.5 MiB (the /Services limit: pictures)',
    status: 413,
    code: 'payload_too_large',
    send: (s, b) => post(s, JSON.stringify({ ...b, padding: 'x'.repeat(1536 * 1024) })),
  },
  {
    name: 'an Idempotency-Key of 256 characters',
    status: 400,
    code: 'invalid_request',
    error: { path: 'Idempotency-Key' },
    send: (s, b) => post(s, b, { 'idempotency-key': 'k'.repeat(256) }),
  },
]

describe('POST /Services: refused requests store and send nothing', () => {
  for (const refusal of refusals) {
    it(`answers ${refusal.status} ${refusal.code} to ${refusal.name}`, async () => {
      const standIn = useStandIn()
      const sender = await freshSender(refusal.sender)
      const { phone, fcmTokens } = await recipientOf(sender)
      const marker = crypto.randomUUID()
      const before = await countRows(sender.providerId)
      const received = { sms: standIn.state.sms.length, fcm: standIn.state.fcm.length }

      const response = await refusal.send(sender, smsRequest(sender, marker))
      const problem = await expectProblem(response, refusal.status, refusal.code)
      if (refusal.error) {
        const errors = problem.errors as FieldError[]
        expect(errors).toContainEqual({
          path: refusal.error.path,
          message: expect.stringMatching(refusal.error.message ?? /./),
        })
      }
      expect(response.headers.get('location')).toBeNull()

      expect(await countRows(sender.providerId)).toEqual(before)
      expect(before).toMatchObject({ messages: 0, deliveries: 0 })
      expect({ sms: standIn.state.sms.length, fcm: standIn.state.fcm.length }).toEqual(received)
      const everything = JSON.stringify([standIn.state.sms, standIn.state.fcm])
      expect(everything).not.toContain(marker)
      if (phone) expect(smsTo(standIn, phone)).toEqual([])
      for (const token of fcmTokens) expect(pushesTo(standIn, token)).toEqual([])
    })
  }

  it('answers 413 before checking anything else, even without a token', async () => {
    const response = await postJson('/Services', { padding: 'x'.repeat(1536 * 1024 + 1) })
    await expectProblem(response, 413, 'payload_too_large')
  })
})

describe('POST /Services with Idempotency-Key (decisions.md D9)', () => {
  it('replays the same key and body: 200, same id, one delivery, one SMS', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone } = await recipientOf(sender)
    const marker = crypto.randomUUID()
    const body = smsRequest(sender, marker)
    const key = `order-${crypto.randomUUID()}`

    const first = await dispatch(sender, body, keyed(key))
    const original = await accepted(first, 201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()

    const again = await dispatch(sender, body, keyed(key))
    const replayed = await accepted(again, 200)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('location')).toBe(`/Services/messages/${original.id}`)
    expect(replayed.id).toBe(original.id)
    expect(replayed.deliveries.map((d) => d.id)).toEqual(original.deliveries.map((d) => d.id))
    expect(await countRows(sender.providerId)).toMatchObject({ messages: 1, deliveries: 1 })

    const done = await settle(sender, original.id)
    expect(done.status).toBe('sent')
    // Replayed once more after the send: still the one message, and nothing is sent again.
    const late = await dispatch(sender, body, keyed(key))
    expect((await accepted(late, 200)).status).toBe('sent')
    expect(await countRows(sender.providerId)).toMatchObject({ messages: 1, deliveries: 1 })
    const texts = smsTo(standIn, phone!)
    expect(texts).toHaveLength(1)
    expect(texts[0]).toContain(marker)
  })

  it('answers 409 conflict to the same key with another body, storing nothing', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone } = await recipientOf(sender)
    const key = `order-${crypto.randomUUID()}`
    const first = await dispatch(sender, smsRequest(sender, 'first'), keyed(key))
    const original = await accepted(first, 201)

    const other = smsRequest(sender, `second ${crypto.randomUUID()}`)
    const conflict = await dispatch(sender, other, keyed(key))
    await expectProblem(conflict, 409, 'conflict')
    expect(await countRows(sender.providerId)).toMatchObject({ messages: 1, deliveries: 1 })

    expect((await settle(sender, original.id)).status).toBe('sent')
    const texts = smsTo(standIn, phone!)
    expect(texts).toHaveLength(1)
    expect(texts[0]).toContain('first')
  })

  it('keeps keys per provider: one key from two providers, two messages', QUEUE, async () => {
    const standIn = useStandIn()
    const [a, b] = await Promise.all([freshSender(), freshSender()])
    const key = `order-${crypto.randomUUID()}`
    const fromA = await accepted(await dispatch(a, smsRequest(a), keyed(key)))
    const fromB = await accepted(await dispatch(b, smsRequest(b), keyed(key)))
    expect(fromB.id).not.toBe(fromA.id)
    expect(fromA.provider_id).toBe(a.providerId)
    expect(fromB.provider_id).toBe(b.providerId)
    expect((await settle(a, fromA.id)).status).toBe('sent')
    expect((await settle(b, fromB.id)).status).toBe('sent')
    expect(smsTo(standIn, (await recipientOf(a)).phone!)).toHaveLength(1)
    expect(smsTo(standIn, (await recipientOf(b)).phone!)).toHaveLength(1)
  })

  it('makes a new message for every request without the header', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone } = await recipientOf(sender)
    const body = smsRequest(sender)
    const first = await accepted(await dispatch(sender, body), 201)
    const second = await accepted(await dispatch(sender, body), 201)
    expect(second.id).not.toBe(first.id)
    expect(await countRows(sender.providerId)).toMatchObject({ messages: 2, deliveries: 2 })
    expect((await settle(sender, first.id)).status).toBe('sent')
    expect((await settle(sender, second.id)).status).toBe('sent')
    expect(smsTo(standIn, phone!)).toHaveLength(2)
  })

  it('accepts only one of two concurrent requests with the same key', QUEUE, async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    const { phone } = await recipientOf(sender)
    const body = smsRequest(sender)
    const key = `order-${crypto.randomUUID()}`
    const responses = await Promise.all([
      dispatch(sender, body, keyed(key)),
      dispatch(sender, body, keyed(key)),
    ])
    expect(responses.map((r) => r.status).sort()).toEqual([200, 201])
    const views = await Promise.all(responses.map((r) => r.json() as Promise<MessageView>))
    expect(views[1]!.id).toBe(views[0]!.id)
    const replay = responses.find((r) => r.status === 200)!
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await countRows(sender.providerId)).toMatchObject({ messages: 1, deliveries: 1 })
    expect((await settle(sender, views[0]!.id)).status).toBe('sent')
    expect(smsTo(standIn, phone!)).toHaveLength(1)
  })
})

describe('GET /Services/messages/{id}', () => {
  it('shows the owner its message, uncached, addresses masked, until sent', QUEUE, async () => {
    useStandIn()
    const sender = await freshSender()
    const { phone, fcmTokens } = await recipientOf(sender)
    const created = await accepted(await dispatch(sender, example001(sender)), 201)

    const response = await readMessage(sender, created.id)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    const text = await response.text()
    expect(text).not.toContain(phone!)
    expect(text).not.toContain(fcmTokens[0]!)
    const view = JSON.parse(text) as MessageView
    expect(view).toMatchObject({
      id: created.id,
      provider_id: sender.providerId,
      service_id: sender.serviceId,
      destination: sender.userId,
      created_at: created.created_at,
    })
    const ids = (m: MessageView) => m.deliveries.map((d) => d.id).sort()
    expect(ids(view)).toEqual(ids(created))
    const sms = view.deliveries.find((d) => d.channel === 'sms')!
    expect(sms.to.endsWith(phone!.slice(-4))).toBe(true)

    const done = await settle(sender, created.id)
    expect(done.status).toBe('sent')
    expect(done.deliveries).toHaveLength(2)
    for (const delivery of done.deliveries) {
      expect(delivery.status).toBe('sent')
      expect(delivery.attempts).toBeGreaterThanOrEqual(1)
      expect(delivery.sent_at).toMatch(ISO_TIME)
      expect(delivery.provider_message_id).toEqual(expect.any(String))
      expect(delivery.provider_message_id).not.toBe('')
      expect(delivery.last_error).toBeNull()
    }
    const final = JSON.stringify(done)
    expect(final).not.toContain(phone!)
    expect(final).not.toContain(fcmTokens[0]!)
  })

  it('masks a phone number given directly as the destination', QUEUE, async () => {
    useStandIn()
    const sender = await freshSender({ directNumbers: true })
    const phone = freshPhone()
    const body = withParameters(smsRequest(sender), { destination: phone })
    const created = await accepted(await dispatch(sender, body), 201)
    await settle(sender, created.id)
    const text = await (await readMessage(sender, created.id)).text()
    expect(text).not.toContain(phone)
    expect((JSON.parse(text) as MessageView).destination.endsWith(phone.slice(-4))).toBe(true)
  })

  it('answers 404 to another provider, as if the message did not exist', QUEUE, async () => {
    useStandIn()
    const [owner, stranger] = await Promise.all([freshSender(), freshSender()])
    const created = await accepted(await dispatch(owner, smsRequest(owner)), 201)
    const response = await readMessage(stranger, created.id)
    const problem = await expectProblem(response, 404, 'not_found')
    expect(JSON.stringify(problem)).not.toContain(owner.providerId)
    const unknown = await readMessage(stranger, crypto.randomUUID())
    const unknownProblem = await expectProblem(unknown, 404, 'not_found')
    expect(unknownProblem.title).toBe(problem.title)
    expect((await settle(owner, created.id)).status).toBe('sent')
  })

  it('answers 404 for an unknown id', async () => {
    const sender = await freshSender()
    await expectProblem(await readMessage(sender, crypto.randomUUID()), 404, 'not_found')
  })
})
