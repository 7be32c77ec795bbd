import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import worker from '../../src/index.ts'
import { LEASE_SECONDS, OPERATOR_FAULT_TEXT } from '../../src/queue/consumer.ts'
import { claimDelivery, findDeliveryById } from '../../src/storage/messages.ts'
import { findRecipient } from '../../src/storage/recipients.ts'
import { findSuppressions, insertSuppression } from '../../src/storage/suppressions.ts'
import {
  createSender,
  deliveryDb,
  dispatchJob,
  writeOutbox,
  type Sender,
} from '../helpers/dispatch.ts'
import { call } from '../helpers/http.ts'
import { TWILIO_API_KEY, TWILIO_MESSAGING_SERVICE_SID, useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'
import { receiverAt, registerEndpoint } from '../helpers/webhooks.ts'

// Deliveries are written to their send shard as POST /Services writes them, but not enqueued
// (writeOutbox): each test hands them to the consumer itself, as the queue would, and reads the
// outcome.

const outbox = writeOutbox

async function consume(
  deliveryIds: string[],
  {
    queue = env.DISPATCH_QUEUE_NAME,
    attempts = 1,
    bodies,
    vars = {},
  }: { queue?: string; attempts?: number; bodies?: unknown[]; vars?: Partial<Env> } = {},
) {
  const batch = createMessageBatch(
    queue,
    (bodies ?? deliveryIds.map(dispatchJob)).map((body, i) => ({
      id: `queue-message-${i}`,
      timestamp: new Date(),
      attempts,
      body,
    })),
  )
  const retries = batch.messages.map((m) => vi.spyOn(m, 'retry'))
  const ctx = createExecutionContext()
  await worker.queue(batch, { ...env, ...vars })
  const result = await getQueueResult(batch, ctx)
  return { result, delays: retries.map((spy) => spy.mock.calls[0]?.[0]?.delaySeconds) }
}

const row = async (id: string) => (await findDeliveryById(deliveryDb(id), id))!
const lifecycle = (id: string) => ({ shard: deliveryDb(id) })
const smsTo = (standIn: ReturnType<typeof useStandIn>, to: string) =>
  standIn.state.sms.filter((r) => (r.body as { To?: string }).To === to && r.status === 201)

describe('dispatch consumer', () => {
  it('sends, records the provider id, and acks', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to, link: 'https://clinica.example/turnos' }])
    const { result } = await consume([id!])
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    expect(result.retryMessages).toEqual([])
    const delivery = await row(id!)
    expect(delivery).toMatchObject({ status: 'sent', attempts: 1, lastError: null })
    expect(delivery.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/)
    const [sms] = smsTo(standIn, to)
    expect(sms!.body).toMatchObject({ To: to, From: env.SMS_FROM })
    expect((sms!.body as { Body: string }).Body).toBe(
      'Turno\nOftalmologo Lunes 29-10 a las 9:15Hs.\nhttps://clinica.example/turnos',
    )
  })

  it('sends through a Messaging Service, authenticated with an API key', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    const vars = {
      SMS_FROM: '',
      SMS_MESSAGING_SERVICE_SID: TWILIO_MESSAGING_SERVICE_SID,
      SMS_API_KEY_SID: TWILIO_API_KEY.sid,
      SMS_API_KEY_SECRET: TWILIO_API_KEY.secret,
      // Still set (it signs the callbacks), but the stand-in would refuse it for the REST call.
      SMS_AUTH_TOKEN: 'a-token-only-for-signatures',
    }
    const { result } = await consume([id!], { vars })
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    const [sms] = smsTo(standIn, to)
    expect(sms!.body).toMatchObject({ MessagingServiceSid: TWILIO_MESSAGING_SERVICE_SID })
    expect(sms!.body).not.toHaveProperty('From')
    const sent = sms!.response as { sid: string; messaging_service_sid: string }
    expect(sent.messaging_service_sid).toBe(TWILIO_MESSAGING_SERVICE_SID)
    expect(await row(id!)).toMatchObject({ status: 'sent', providerMessageId: sent.sid })
  })

  it('shows the provider a neutral text for a Messaging Service the account lacks', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    const vars = { SMS_FROM: '', SMS_MESSAGING_SERVICE_SID: `MG${'c3'.repeat(16)}` }
    await consume([id!], { vars })
    expect(standIn.state.sms.at(-1)).toMatchObject({ status: 400, response: { code: 21701 } })
    expect(await row(id!)).toMatchObject({ status: 'failed', lastError: OPERATOR_FAULT_TEXT })
  })

  it('does not send twice what is already sent', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    await consume([id!])
    const { result } = await consume([id!])
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    expect(smsTo(standIn, to)).toHaveLength(1)
  })

  it('does not send while another consumer holds the lease, and comes back when it ends', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    expect(await claimDelivery(lifecycle(id!), id!, new Date(), LEASE_SECONDS)).not.toBeNull()
    const { result, delays } = await consume([id!])
    expect(result.explicitAcks).toEqual([])
    expect(result.retryMessages).toEqual([{ msgId: 'queue-message-0' }])
    expect(delays[0]).toBeGreaterThanOrEqual(LEASE_SECONDS - 1)
    expect(delays[0]).toBeLessThanOrEqual(LEASE_SECONDS + 1)
    expect(smsTo(standIn, to)).toHaveLength(0)
    expect(await row(id!)).toMatchObject({ status: 'sending', attempts: 1 })
  })

  it('retries a transient failure with backoff, then sends', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [{}])
    standIn.state.failures.push({ target: 'sms', status: 503, remaining: 1 })
    const first = await consume([id!])
    expect(first.result.retryMessages).toEqual([{ msgId: 'queue-message-0' }])
    expect(first.result.explicitAcks).toEqual([])
    expect(first.delays[0]).toBeGreaterThanOrEqual(5)
    expect(await row(id!)).toMatchObject({ status: 'queued', attempts: 1 })
    expect((await row(id!)).lastError).toMatch(/503/)

    const second = await consume([id!], { attempts: 2 })
    expect(second.result.explicitAcks).toEqual(['queue-message-0'])
    expect(await row(id!)).toMatchObject({ status: 'sent', attempts: 2, lastError: null })
  })

  it('waits at least as long as Retry-After says', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [{}])
    standIn.state.failures.push({ target: 'sms', status: 429, retryAfter: 120, remaining: 1 })
    const { delays } = await consume([id!])
    expect(delays[0]).toBeGreaterThanOrEqual(120)
  })

  it('waits at least a minute when FCM says the project quota is spent, naming no time', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [
      { channel: 'fcm', address: `device-${crypto.randomUUID()}` },
    ])
    // The stand-in answers an injected 429 for FCM as FCM does: RESOURCE_EXHAUSTED, QUOTA_EXCEEDED.
    standIn.state.failures.push({ target: 'fcm', status: 429, remaining: 1 })
    const { result, delays } = await consume([id!])
    expect(result.retryMessages).toEqual([{ msgId: 'queue-message-0' }])
    expect(delays[0]).toBeGreaterThanOrEqual(60)
    expect((await row(id!)).lastError).toMatch(/QUOTA_EXCEEDED/)
  })

  it('records a permanent failure and does not retry it', async () => {
    useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [{ address: '+15005550009' }]) // not a mobile number
    const { result } = await consume([id!])
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    expect(result.retryMessages).toEqual([])
    const delivery = await row(id!)
    expect(delivery.status).toBe('failed')
    expect(delivery.lastError).toMatch(/21614/)
  })

  it('marks the recipient opted out when the SMS provider says so', async () => {
    useStandIn()
    const sender = await createSender({ phone: '+15005550004' })
    const [id] = await outbox(sender, [{ address: '+15005550004' }])
    await consume([id!])
    expect((await row(id!)).status).toBe('failed')
    expect((await findRecipient(env.DB, sender.providerId, sender.userId))!.smsOptOut).toBe(true)
    // Refused from the shared sender number, so suppressed for every provider.
    const other = await createSender()
    expect(await findSuppressions(env.DB, other.providerId, '+15005550004')).toContainEqual(
      expect.objectContaining({ providerId: null, source: 'sms_api_error' }),
    )
  })

  it('removes an unregistered FCM token from the recipient', async () => {
    useStandIn()
    const gone = `unregistered-${crypto.randomUUID()}`
    const kept = `device-${crypto.randomUUID()}`
    const sender = await createSender({ fcmTokens: [gone, kept] })
    const [id] = await outbox(sender, [{ channel: 'fcm', address: gone }])
    await consume([id!])
    expect((await row(id!)).status).toBe('failed')
    const recipient = (await findRecipient(env.DB, sender.providerId, sender.userId))!
    expect(recipient.fcmTokens).toEqual([kept])
    expect(Object.keys(recipient.fcmTokenRegisteredAt)).toEqual([kept])
  })

  it('settles each message of a batch on its own', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const good = `+54911${Math.floor(Math.random() * 1e8)}`
    const ids = await outbox(sender, [
      { address: good },
      { address: '+15005550009' }, // permanent failure
      { channel: 'fcm', address: `device-${crypto.randomUUID()}` },
    ])
    standIn.state.failures.push({ target: 'fcm', status: 503, remaining: 1 })
    const { result } = await consume(ids)
    expect(result.explicitAcks.sort()).toEqual(['queue-message-0', 'queue-message-1'])
    expect(result.retryMessages).toEqual([{ msgId: 'queue-message-2' }])
    expect((await Promise.all(ids.map(row))).map((d) => d.status)).toEqual([
      'sent',
      'failed',
      'queued',
    ])
    expect(smsTo(standIn, good)).toHaveLength(1)
  })

  it('reuses the FCM access token across messages', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const ids = await outbox(sender, [
      { channel: 'fcm', address: `device-${crypto.randomUUID()}` },
      { channel: 'fcm', address: `device-${crypto.randomUUID()}` },
    ])
    await consume(ids.slice(0, 1))
    const issued = standIn.state.accessTokens.size
    await consume(ids.slice(1))
    expect((await Promise.all(ids.map(row))).map((d) => d.status)).toEqual(['sent', 'sent'])
    expect(standIn.state.accessTokens.size).toBe(issued)
    expect(issued).toBeGreaterThanOrEqual(1)
  })

  it('acks a malformed job instead of retrying it forever', async () => {
    const { result } = await consume([], { bodies: [{ nope: true }] })
    expect(result.explicitAcks).toEqual(['queue-message-0'])
  })

  it('retries the whole batch, sending nothing, when its shard cannot say what to withhold', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const ids = await outbox(sender, [{ address: to }, { address: to }])
    // The shard cannot read its send facts (its copy too old, and D1 down, say).
    const down = {
      getByName: (name: string) => ({
        runFresh: () => Promise.reject(new Error('send facts unavailable')),
        run: (statements: never) => env.SEND_SHARDS.getByName(name).run(statements),
      }),
    } as unknown as Env['SEND_SHARDS']
    const { result, delays } = await consume(ids, { vars: { SEND_SHARDS: down } })
    expect(result.explicitAcks).toEqual([])
    expect(result.retryMessages).toHaveLength(2)
    expect(delays.every((d) => d !== undefined && d >= 5)).toBe(true)
    expect(smsTo(standIn, to)).toHaveLength(0)
    for (const id of ids) expect(await row(id)).toMatchObject({ status: 'queued', attempts: 0 })
    expect(errors).toHaveBeenCalledWith(expect.stringContaining('could not read its send policy'))
  })

  it('retries the batch, sending nothing, when the shard cannot claim its deliveries', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const ids = await outbox(sender, [{ address: to }])
    // The batch's read of the send policy goes through; the claim, its next call, fails.
    let calls = 0
    const flaky = {
      getByName: (name: string) => ({
        runFresh: (statements: never) => env.SEND_SHARDS.getByName(name).runFresh(statements),
        run: (statements: never) =>
          ++calls > 0
            ? Promise.reject(new Error('shard unavailable'))
            : env.SEND_SHARDS.getByName(name).run(statements),
      }),
    } as unknown as Env['SEND_SHARDS']
    const { result } = await consume(ids, { vars: { SEND_SHARDS: flaky } })
    expect(result.retryMessages).toHaveLength(1)
    expect(smsTo(standIn, to)).toHaveLength(0)
    expect(await row(ids[0]!)).toMatchObject({ status: 'queued', attempts: 0 })
    expect(errors).toHaveBeenCalledWith(expect.stringContaining('could not claim its deliveries'))
  })
})

describe('failures of the operator’s own channel settings', () => {
  /** The console.error lines the Worker logged during `run`, parsed. */
  async function errorsLoggedBy(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
    const lines: string[] = []
    const spy = vi
      .spyOn(console, 'error')
      .mockImplementation((line: unknown) => void lines.push(String(line)))
    try {
      await run()
    } finally {
      spy.mockRestore()
    }
    return lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  /** `last_error` of the delivery as its provider reads it: GET /Services/messages/{id}. */
  async function lastErrorShown(sender: Sender, deliveryId: string): Promise<unknown> {
    const { messageId } = await row(deliveryId)
    const response = await call(`/Services/messages/${messageId}`, {
      headers: { authorization: `Bearer ${sender.token}` },
    })
    expect(response.status).toBe(200)
    const { deliveries } = (await response.json()) as {
      deliveries: { id: string; last_error: unknown }[]
    }
    return deliveries.find((d) => d.id === deliveryId)!.last_error
  }

  it('shows the provider a neutral text when the SMS API refuses the credentials, and logs why', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    // The stand-in checks Basic credentials as Twilio does: a wrong auth token gets 401 20003.
    let result: Awaited<ReturnType<typeof consume>>['result'] | undefined
    const logged = await errorsLoggedBy(async () => {
      ;({ result } = await consume([id!], { vars: { SMS_AUTH_TOKEN: 'a-rotated-auth-token' } }))
    })
    expect(result!.explicitAcks).toEqual(['queue-message-0'])
    const refused = standIn.state.sms.filter((r) => (r.body as { To?: string }).To === to)
    expect(refused.map((r) => [r.status, r.injected])).toEqual([[401, false]])

    expect(await row(id!)).toMatchObject({ status: 'failed', lastError: OPERATOR_FAULT_TEXT })
    expect(await lastErrorShown(sender, id!)).toBe(
      'delivery channel unavailable; the operator has been notified',
    )
    const line = logged.find((l) => l.deliveryId === id)
    expect(line).toMatchObject({ level: 'error', channel: 'sms', retryable: false })
    expect(line!.reason).toMatch(
      /rejected Portero's credentials \(HTTP 401, Twilio error 20003: Authenticate\)/,
    )
    expect(JSON.stringify(line)).not.toContain('a-rotated-auth-token')
  })

  it('shows the provider a neutral text when Google’s token endpoint refuses the service account', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [
      { channel: 'fcm', address: `device-${crypto.randomUUID()}` },
    ])
    // A service account the token endpoint does not know (and none cached for it): invalid_grant.
    const account = JSON.parse(env.FCM_SERVICE_ACCOUNT) as Record<string, string>
    const stranger = {
      ...account,
      client_email: `stranger-${crypto.randomUUID()}@portero-test.iam.gserviceaccount.com`,
    }
    const refusalsBefore = standIn.state.tokens.filter((r) => r.status === 400).length
    const logged = await errorsLoggedBy(() =>
      consume([id!], { vars: { FCM_SERVICE_ACCOUNT: JSON.stringify(stranger) } }),
    )
    expect(standIn.state.tokens.filter((r) => r.status === 400).length).toBe(refusalsBefore + 1)

    expect(await row(id!)).toMatchObject({ status: 'failed', lastError: OPERATOR_FAULT_TEXT })
    expect(await lastErrorShown(sender, id!)).toBe(OPERATOR_FAULT_TEXT)
    const line = logged.find((l) => l.deliveryId === id)
    expect(line).toMatchObject({ level: 'error', channel: 'fcm' })
    expect(line!.reason).toMatch(
      /^Google token endpoint refused the service account \(HTTP 400 invalid_grant/,
    )
  })

  it.each([
    ['a sender the account may not use', { SMS_FROM: '+15005550007' }, '+54911', 21606],
    ['an invalid sender', { SMS_FROM: '+15005550001' }, '+54911', 21212],
    ['a region the account has not enabled', {}, '+15005550003', 21408],
  ] as const)(
    'shows the provider a neutral text for %s, and logs the SMS API’s code',
    async (_name, vars, prefix, code) => {
      const standIn = useStandIn()
      const sender = await createSender()
      const to = prefix === '+54911' ? `+54911${Math.floor(Math.random() * 1e8)}` : prefix
      const [id] = await outbox(sender, [{ address: to }])
      const before = standIn.state.sms.length
      const logged = await errorsLoggedBy(() => consume([id!], { vars }))
      expect(standIn.state.sms.slice(before).map((r) => r.status)).toEqual([400])

      expect(await row(id!)).toMatchObject({
        status: 'failed',
        lastError: OPERATOR_FAULT_TEXT,
        errorCode: null,
      })
      expect(await lastErrorShown(sender, id!)).toBe(OPERATOR_FAULT_TEXT)
      const line = logged.find((l) => l.deliveryId === id)
      expect(line).toMatchObject({ level: 'error', channel: 'sms', retryable: false })
      expect(line!.reason).toContain(`Twilio error ${code}`)
    },
  )

  it('still shows the provider what was wrong with its own message', async () => {
    useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [{ address: '+15005550009' }]) // not a mobile number
    await consume([id!])
    expect(await lastErrorShown(sender, id!)).toMatch(/21614/)
  })
})

describe('dead-letter consumer', () => {
  it('marks a delivery that ran out of attempts as dead, keeping its last error', async () => {
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const standIn = useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [{}])
    standIn.state.failures.push({ target: 'sms', status: 503, remaining: 1 })
    await consume([id!])
    const { result } = await consume([id!], { queue: env.DEAD_LETTER_QUEUE_NAME, attempts: 9 })
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    const delivery = await row(id!)
    expect(delivery.status).toBe('dead')
    expect(delivery.lastError).toMatch(/gave up after 1 attempts; last error: .*503/)
    const logged = warnings.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)
    expect(logged).toContainEqual(
      expect.objectContaining({ message: 'delivery dead', deliveryId: id, channel: 'sms' }),
    )
  })

  it('tells the provider by webhook that the delivery is dead', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const endpoint = await registerEndpoint(sender, ['message.dead'])
    const receiver = receiverAt(standIn, endpoint.url)
    receiver.secrets = [endpoint.secret]
    const [id] = await outbox(sender, [{}])
    await consume([id!], { queue: env.DEAD_LETTER_QUEUE_NAME, attempts: 9 })
    const [got] = await eventually(
      async () => receiver.received,
      (r) => r.length > 0,
    )
    expect(got).toMatchObject({ verified: true })
    expect(got!.body).toMatchObject({
      type: 'message.dead',
      data: { delivery_id: id, status: 'dead', reason: expect.stringMatching(/gave up after/) },
    })
  })

  it('leaves a delivery that was sent in the meantime alone', async () => {
    useStandIn()
    const sender = await createSender()
    const [id] = await outbox(sender, [{}])
    await consume([id!])
    await consume([id!], { queue: env.DEAD_LETTER_QUEUE_NAME })
    expect((await row(id!)).status).toBe('sent')
  })
})

describe('queue routing', () => {
  it('takes the queue names from the configuration, as a staging deployment names them', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    const staging = {
      DISPATCH_QUEUE_NAME: 'portero-staging-dispatch',
      DEAD_LETTER_QUEUE_NAME: 'portero-staging-dispatch-dlq',
      AUDIT_QUEUE_NAME: 'portero-staging-audit',
    }
    // The local default's name means nothing to a staging Worker: nothing is consumed, or sent.
    await expect(consume([id!], { vars: staging })).rejects.toThrow(
      'no consumer is configured for queue "portero-dispatch"',
    )
    expect((await row(id!)).status).toBe('queued')
    expect(smsTo(standIn, to)).toHaveLength(0)

    const { result } = await consume([id!], { queue: 'portero-staging-dispatch', vars: staging })
    expect(result.explicitAcks).toEqual(['queue-message-0'])
    expect((await row(id!)).status).toBe('sent')
    expect(smsTo(standIn, to)).toHaveLength(1)
  })

  it('throws a batch from a queue no variable names, so the queue keeps it, and logs why', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
    const sender = await createSender()
    const [id] = await outbox(sender, [{}])
    await expect(consume([id!], { queue: 'portero-unknown' })).rejects.toThrow(/portero-unknown/)
    expect((await row(id!)).status).toBe('queued')
    const logged = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as unknown)
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 'error', queue: 'portero-unknown', messages: 1 }),
    )
  })
})

describe('dispatch consumer: what changed since acceptance', () => {
  const timeline = async (deliveryId: string) =>
    (
      await deliveryDb(deliveryId)
        .prepare(
          `SELECT status, detail FROM delivery_events WHERE delivery_id = ?1
           ORDER BY occurred_at, rowid`,
        )
        .bind(deliveryId)
        .all<{ status: string; detail: string | null }>()
    ).results

  const withheld: [string, (sender: Sender, phone: string) => Promise<unknown>, RegExp][] = [
    [
      'its provider was disabled',
      (s) =>
        env.DB.prepare(`UPDATE providers SET status = 'disabled' WHERE id = CAST(?1 AS INTEGER)`)
          .bind(s.providerId)
          .run(),
      /provider was disabled/,
    ],
    [
      'its service was disabled',
      (s) =>
        env.DB.prepare('UPDATE services SET enabled = 0 WHERE id = ?1').bind(s.serviceId).run(),
      /service was disabled/,
    ],
    [
      'its subscription was revoked',
      (s) =>
        env.DB.prepare(
          `UPDATE subscriptions SET status = 'revoked'
           WHERE provider_id = CAST(?1 AS INTEGER) AND service_id = ?2`,
        )
          .bind(s.providerId, s.serviceId)
          .run(),
      /subscription was revoked/,
    ],
    [
      'its number was suppressed',
      (s, phone) => insertSuppression(env.DB, s.providerId, phone, 'admin'),
      /suppression list/,
    ],
  ]

  for (const [name, change, reason] of withheld) {
    it(`marks a queued delivery failed, unsent, when ${name}`, async () => {
      const standIn = useStandIn()
      const sender = await createSender()
      const to = `+54911${Math.floor(Math.random() * 1e8)}`
      const [sms, push] = await outbox(sender, [
        { address: to },
        { channel: 'fcm', address: `device-${crypto.randomUUID()}` },
      ])
      await change(sender, to)
      const { result } = await consume([sms!, push!])
      expect(result.explicitAcks.sort()).toEqual(['queue-message-0', 'queue-message-1'])
      expect(result.retryMessages).toEqual([])
      const delivery = await row(sms!)
      expect(delivery).toMatchObject({ status: 'failed', attempts: 0 })
      expect(delivery.lastError).toMatch(reason)
      // Through the lifecycle: the step's timestamp and a timeline row with the reason.
      expect(delivery.reached.failed).toEqual(expect.any(String))
      expect(await timeline(sms!)).toEqual([
        { status: 'queued', detail: null },
        { status: 'failed', detail: delivery.lastError },
      ])
      expect(smsTo(standIn, to)).toEqual([])
      // A suppressed number holds back SMS only; every other change holds back the push too.
      expect((await row(push!)).status).toBe(name.includes('suppressed') ? 'sent' : 'failed')
    })
  }

  it('tells the provider by webhook that a withheld delivery failed, and why', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const endpoint = await registerEndpoint(sender, ['message.failed'])
    const receiver = receiverAt(standIn, endpoint.url)
    receiver.secrets = [endpoint.secret]
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    await insertSuppression(env.DB, sender.providerId, to, 'admin')
    await consume([id!])
    const [got] = await eventually(
      async () => receiver.received,
      (r) => r.length > 0,
    )
    expect(got).toMatchObject({ verified: true })
    expect(got!.body).toMatchObject({
      type: 'message.failed',
      data: { delivery_id: id, status: 'failed', reason: expect.stringMatching(/suppression/) },
    })
  })

  it('withholds a delivery whose lease ran out, once its provider is disabled', async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const to = `+54911${Math.floor(Math.random() * 1e8)}`
    const [id] = await outbox(sender, [{ address: to }])
    const past = new Date(Date.now() - 2 * LEASE_SECONDS * 1000)
    expect(await claimDelivery(lifecycle(id!), id!, past, LEASE_SECONDS)).toMatchObject({
      status: 'sending',
    })
    await withheld[0]![1](sender, to)
    await consume([id!])
    expect(await row(id!)).toMatchObject({ status: 'failed', attempts: 1 })
    expect(smsTo(standIn, to)).toEqual([])
  })
})
