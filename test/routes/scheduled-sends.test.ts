// Scheduled sends and quiet hours (docs/sending.md "Scheduled sends and quiet hours", decisions.md
// D44): POST /Services with send_at or quiet_hours stores a scheduled message that the shard's
// alarm enqueues once due; DELETE /Services/messages/{id} cancels it until then.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { adminCall, adminToken } from '../helpers/admin.ts'
import {
  dispatch,
  freshPhone,
  freshSender,
  outboxRows,
  readMessage,
  settle,
  smsRequest,
  smsTo,
  type MessageView,
  type Sender,
} from '../helpers/dispatch.ts'
import { call, expectProblem } from '../helpers/http.ts'
import {
  handOverOutboxes,
  runShardAlarm,
  shardCounters,
  shardDb,
  shardOf,
} from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'
import { registerEndpoint } from '../helpers/webhooks.ts'

type Delivery = MessageView['deliveries'][number] & {
  error_code: string | null
  scheduled_for: string | null
}
type Viewed = Omit<MessageView, 'deliveries'> & {
  scheduled_for: string | null
  deliveries: Delivery[]
}

const SLOW = { timeout: 30_000 }

function cancel(caller: { token: string }, id: string): Promise<Response> {
  return call(`/Services/messages/${id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${caller.token}` },
  })
}

async function read(sender: Sender, id: string): Promise<Viewed> {
  return (await (await readMessage(sender, id)).json()) as Viewed
}

/** Makes a message's scheduled deliveries due now, as if their time had come. */
async function makeDue(sender: Sender, id: string): Promise<void> {
  await shardDb(sender.providerId)
    .prepare(
      `UPDATE deliveries SET next_attempt_at = unixepoch() - 1
       WHERE message_id = ?1 AND scheduled_for IS NOT NULL`,
    )
    .bind(id)
    .run()
}

/** HH:MM on the UTC clock, `minutes` from now. */
function utcClock(minutes: number): string {
  return new Date(Date.now() + minutes * 60_000).toISOString().slice(11, 16)
}

async function sandboxSender(phone = freshPhone()): Promise<Sender> {
  const sender = await freshSender({ phone })
  const response = await adminCall(
    await adminToken(),
    'PATCH',
    `/admin/providers/${sender.providerId}`,
    { sandbox: true },
  )
  expect(response.status).toBe(204)
  return sender
}

describe('POST /Services with send_at', () => {
  it('reads scheduled with send_at 5 s ahead, then ends delivered', SLOW, async () => {
    const sender = await sandboxSender()
    const sendAt = new Date(Date.now() + 5_000)
    const response = await dispatch(sender, {
      ...smsRequest(sender),
      send_at: sendAt.toISOString(),
    })
    expect(response.status).toBe(201)
    const accepted = (await response.json()) as Viewed
    // Whole seconds, never before the time asked.
    const due = new Date(Math.ceil(sendAt.getTime() / 1000) * 1000).toISOString()
    expect(accepted).toMatchObject({ status: 'scheduled', scheduled_for: due })
    expect(accepted.deliveries[0]).toMatchObject({ status: 'queued', scheduled_for: due })
    // Quotas count a message when it is accepted.
    expect(await shardCounters(sender.providerId)).toMatchObject({ minute: 1, day: 1 })

    // The alarm does not hand it over early, however late it runs.
    expect(await runShardAlarm(sender.providerId)).toBe(true)
    expect((await read(sender, accepted.id)).status).toBe('scheduled')

    // Once due, the alarm enqueues it; the sandbox's receipt ends it delivered.
    const done = await eventually(
      async () => {
        await runShardAlarm(sender.providerId)
        return read(sender, accepted.id)
      },
      (m) => m.status === 'delivered',
      { timeoutMs: 25_000 },
    )
    expect(done.scheduled_for).toBeNull()
    const { events } = done.deliveries[0] as Delivery & { events: { status: string }[] }
    expect(events.map((e) => e.status)).toEqual(['queued', 'sending', 'sent', 'delivered'])
  })

  it("sets the shard's alarm for the first scheduled delivery's due time", SLOW, async () => {
    const sender = await freshSender()
    const send_at = new Date(Date.now() + 20 * 60_000).toISOString()
    const accepted = (await (
      await dispatch(sender, { ...smsRequest(sender), send_at })
    ).json()) as Viewed
    await runShardAlarm(sender.providerId)
    const alarm = await runInDurableObject(shardOf(sender.providerId), (_, state) =>
      state.storage.getAlarm(),
    )
    expect(alarm).toBe(Date.parse(accepted.scheduled_for!))
    await cancel(sender, accepted.id)
  })

  it('sends at once with a send_at already past', SLOW, async () => {
    useStandIn()
    const sender = await freshSender()
    const send_at = new Date(Date.now() - 60_000).toISOString()
    const response = await dispatch(sender, { ...smsRequest(sender), send_at })
    expect(response.status).toBe(201)
    const accepted = (await response.json()) as Viewed
    expect(accepted).toMatchObject({ status: 'queued', scheduled_for: null })
    await settle(sender, accepted.id)
  })
})

describe('POST /Services with quiet_hours', () => {
  it('waits for the end of quiet hours, then sends', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await freshSender({ phone })
    const quiet_hours = { start: utcClock(-60), end: utcClock(60), time_zone: 'UTC' }
    const response = await dispatch(sender, { ...smsRequest(sender), quiet_hours })
    expect(response.status).toBe(201)
    const accepted = (await response.json()) as Viewed
    expect(accepted.status).toBe('scheduled')
    expect(accepted.scheduled_for!.slice(11, 16)).toBe(quiet_hours.end)
    const wait = Date.parse(accepted.scheduled_for!) - Date.now()
    expect(wait).toBeGreaterThan(58 * 60_000)
    expect(wait).toBeLessThanOrEqual(60 * 60_000)

    await runShardAlarm(sender.providerId)
    expect((await read(sender, accepted.id)).status).toBe('scheduled')
    expect(smsTo(standIn, phone)).toEqual([])

    await makeDue(sender, accepted.id)
    await runShardAlarm(sender.providerId)
    expect((await settle(sender, accepted.id)).status).toBe('sent')
    expect(smsTo(standIn, phone)).toHaveLength(1)
  })

  it('sends at once outside quiet hours', SLOW, async () => {
    useStandIn()
    const sender = await freshSender()
    const quiet_hours = { start: utcClock(60), end: utcClock(120), time_zone: 'UTC' }
    const response = await dispatch(sender, { ...smsRequest(sender), quiet_hours })
    expect(response.status).toBe(201)
    const accepted = (await response.json()) as Viewed
    expect(accepted.status).toBe('queued')
    await settle(sender, accepted.id)
  })
})

/** HH:MM on the wall clock of Kolkata (UTC+05:30 all year), `minutes` from now. */
function kolkataClock(minutes: number): string {
  return utcClock(minutes + 330)
}

describe('quiet hours of the recipient and the service', () => {
  it("reads the recipient's own quiet hours in their time zone", SLOW, async () => {
    const sender = await freshSender()
    const quiet_hours = { start: kolkataClock(-30), end: kolkataClock(90) }
    const patch = await call(`/recipients/${sender.userId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ time_zone: 'Asia/Kolkata', quiet_hours }),
    })
    expect(patch.status).toBe(204)
    const recipient = await call(`/recipients/${sender.userId}`, {
      headers: { authorization: `Bearer ${sender.token}` },
    })
    expect(await recipient.json()).toMatchObject({ time_zone: 'Asia/Kolkata', quiet_hours })

    const accepted = (await (await dispatch(sender, smsRequest(sender))).json()) as Viewed
    expect(accepted.status).toBe('scheduled')
    // 90 minutes from now, whole minutes on the Kolkata clock.
    const wait = Date.parse(accepted.scheduled_for!) - Date.now()
    expect(wait).toBeGreaterThan(88 * 60_000)
    expect(wait).toBeLessThanOrEqual(90 * 60_000)
    await cancel(sender, accepted.id)
  })

  it('reads a stored time zone the runtime does not know as UTC, not failing', SLOW, async () => {
    const sender = await freshSender()
    const quiet_hours = { start: utcClock(-30), end: utcClock(90) }
    const patch = await call(`/recipients/${sender.userId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ quiet_hours }),
    })
    expect(patch.status).toBe(204)
    // Written around the API, which refuses such a zone; the shard's copy brought up to date.
    await env.DB.prepare(
      "UPDATE recipients SET time_zone = 'Mars/Olympus_Mons' WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2",
    )
      .bind(sender.providerId, sender.userId)
      .run()
    await shardOf(sender.providerId).syncFacts()

    const response = await dispatch(sender, smsRequest(sender))
    expect(response.status).toBe(201)
    const accepted = (await response.json()) as Viewed
    expect(accepted.status).toBe('scheduled')
    expect(accepted.scheduled_for!.slice(11, 16)).toBe(quiet_hours.end)
    await cancel(sender, accepted.id)
  })

  it("keeps a service's default quiet hours, unless the request has its own", SLOW, async () => {
    useStandIn()
    const sender = await freshSender()
    const quiet_hours = { start: utcClock(-30), end: utcClock(30), time_zone: 'UTC' }
    const admin = await adminToken()
    const patched = await adminCall(admin, 'PATCH', `/admin/services/${sender.serviceId}`, {
      quiet_hours,
    })
    expect(patched.status).toBe(204)
    const service = await adminCall(admin, 'GET', `/admin/services/${sender.serviceId}`)
    expect(await service.json()).toMatchObject({ quiet_hours })

    const waiting = (await (await dispatch(sender, smsRequest(sender))).json()) as Viewed
    expect(waiting.status).toBe('scheduled')
    expect(waiting.scheduled_for!.slice(11, 16)).toBe(quiet_hours.end)
    await cancel(sender, waiting.id)

    // The request's own rule, none at this time, wins.
    const own = { start: utcClock(60), end: utcClock(120) }
    const response = await dispatch(sender, { ...smsRequest(sender), quiet_hours: own })
    const sent = (await response.json()) as Viewed
    expect(sent.status).toBe('queued')
    await settle(sender, sent.id)
  })

  it.each([
    ['an unknown time_zone', { time_zone: 'Mars/Olympus' }, 'time_zone'],
    ['a hostile time_zone', { time_zone: "'; DROP TABLE recipients; --" }, 'time_zone'],
    ['an oversized time_zone', { time_zone: 'A'.repeat(10_000) }, 'time_zone'],
    [
      'quiet hours with a zone of their own',
      { quiet_hours: { start: '22:00', end: '08:00', time_zone: 'UTC' } },
      'quiet_hours',
    ],
    [
      'quiet hours past 23:59',
      { quiet_hours: { start: '22:00', end: '24:00' } },
      'quiet_hours.end',
    ],
  ])('refuses a recipient with %s, changing nothing', async (_, body, path) => {
    const sender = await freshSender()
    const response = await call(`/recipients/${sender.userId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect(problem.errors).toContainEqual({ path, message: expect.any(String) })
    const recipient = await call(`/recipients/${sender.userId}`, {
      headers: { authorization: `Bearer ${sender.token}` },
    })
    expect(await recipient.json()).toMatchObject({ time_zone: null, quiet_hours: null })
  })

  it.each([
    ['quiet hours that are no object', { quiet_hours: 22 }, 'quiet_hours'],
    [
      'an unknown zone',
      { quiet_hours: { start: '22:00', end: '08:00', time_zone: 'X/Y' } },
      'quiet_hours.time_zone',
    ],
    ['a start missing', { quiet_hours: { end: '08:00' } }, 'quiet_hours.start'],
  ])('refuses a service with %s, changing nothing', async (_, body, path) => {
    const sender = await freshSender()
    const admin = await adminToken()
    const response = await adminCall(admin, 'PATCH', `/admin/services/${sender.serviceId}`, body)
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect(problem.errors).toContainEqual({ path, message: expect.any(String) })
    const service = await adminCall(admin, 'GET', `/admin/services/${sender.serviceId}`)
    expect(await service.json()).toMatchObject({ quiet_hours: null })
  })
})

describe('DELETE /Services/messages/{id}', () => {
  it('tells the provider when a message is stored scheduled: message.scheduled', SLOW, async () => {
    useStandIn()
    const sender = await freshSender()
    await registerEndpoint(sender, ['message.scheduled'])
    const send_at = new Date(Date.now() + 3_600_000).toISOString()
    const accepted = (await (
      await dispatch(sender, { ...smsRequest(sender), send_at })
    ).json()) as Viewed
    await runShardAlarm(sender.providerId)
    const { results } = await env.DB.prepare(
      "SELECT payload FROM webhook_events WHERE provider_id = ?1 AND type = 'message.scheduled'",
    )
      .bind(sender.providerId)
      .all<{ payload: string }>()
    const [delivery] = accepted.deliveries
    expect(results.map((r) => (JSON.parse(r.payload) as { data: unknown }).data)).toEqual([
      expect.objectContaining({
        message_id: accepted.id,
        delivery_id: delivery!.id,
        status: 'scheduled',
        channel: 'sms',
        scheduled_for: delivery!.scheduled_for,
      }),
    ])
  })

  it('cancels a scheduled message: never sent, message.cancelled raised', SLOW, async () => {
    const standIn = useStandIn()
    const phone = freshPhone()
    const sender = await freshSender({ phone })
    await registerEndpoint(sender, ['message.cancelled'])
    const send_at = new Date(Date.now() + 3_600_000).toISOString()
    const accepted = (await (
      await dispatch(sender, { ...smsRequest(sender), send_at })
    ).json()) as Viewed

    const response = await cancel(sender, accepted.id)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const cancelled = (await response.json()) as Viewed
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.deliveries[0]).toMatchObject({
      status: 'failed',
      error_code: 'cancelled',
      scheduled_for: null,
    })
    expect((await handOverOutboxes(sender.providerId)).events).toBe(1)

    // Its time comes and goes: nothing is enqueued, nothing sent.
    await shardDb(sender.providerId)
      .prepare('UPDATE deliveries SET next_attempt_at = unixepoch() - 60 WHERE message_id = ?1')
      .bind(accepted.id)
      .run()
    await runShardAlarm(sender.providerId)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const after = await read(sender, accepted.id)
    expect(after.status).toBe('cancelled')
    expect(after.deliveries[0]!.attempts).toBe(0)
    expect(smsTo(standIn, phone)).toEqual([])

    // Cancelling it again answers it as it is.
    const again = await cancel(sender, accepted.id)
    expect(again.status).toBe(200)
    expect(((await again.json()) as Viewed).status).toBe('cancelled')
  })

  it('answers 409 conflict for a message already handed to the queue', SLOW, async () => {
    useStandIn()
    const sender = await freshSender()
    const accepted = (await (await dispatch(sender, smsRequest(sender))).json()) as Viewed
    const sent = await settle(sender, accepted.id)
    await expectProblem(await cancel(sender, accepted.id), 409, 'conflict')
    expect((await read(sender, accepted.id)).status).toBe(sent.status)
  })

  it('answers 409 once the alarm handed it over', SLOW, async () => {
    useStandIn()
    const sender = await freshSender()
    const send_at = new Date(Date.now() + 3_600_000).toISOString()
    const accepted = (await (
      await dispatch(sender, { ...smsRequest(sender), send_at })
    ).json()) as Viewed
    await makeDue(sender, accepted.id)
    await runShardAlarm(sender.providerId)
    await expectProblem(await cancel(sender, accepted.id), 409, 'conflict')
    expect((await settle(sender, accepted.id)).status).toBe('sent')
  })

  it("answers 404 for another provider's message, which stays scheduled", SLOW, async () => {
    const owner = await freshSender()
    const other = await freshSender()
    const send_at = new Date(Date.now() + 3_600_000).toISOString()
    const accepted = (await (
      await dispatch(owner, { ...smsRequest(owner), send_at })
    ).json()) as Viewed
    await expectProblem(await cancel(other, accepted.id), 404, 'not_found')
    await expectProblem(await cancel(owner, `${accepted.id.slice(0, -4)}0000`), 404, 'not_found')
    expect((await read(owner, accepted.id)).status).toBe('scheduled')
    await cancel(owner, accepted.id)
  })

  it('answers 404 to a malformed, hostile or oversized id', async () => {
    const sender = await freshSender()
    await expectProblem(await cancel(sender, 'x'.repeat(5000)), 404, 'not_found')
    await expectProblem(await cancel(sender, '%27%20OR%201%3D1--'), 404, 'not_found')
    await expectProblem(await cancel(sender, `p${sender.providerId}_..%2F..`), 404, 'not_found')
  })
})

describe('POST /Services: refused schedules store nothing', () => {
  const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString()
  const night = { start: '22:00', end: '08:00', time_zone: 'Europe/Madrid' }
  it.each([
    ['a send_at that is no instant', { send_at: 'tomorrow' }, 'send_at'],
    ['a send_at without an offset', { send_at: '2026-12-24T18:00:00' }, 'send_at'],
    ['a send_at as a number', { send_at: 1_800_000_000 }, 'send_at'],
    ['a send_at more than 30 days ahead', { send_at: inDays(31) }, 'send_at'],
    ['an oversized send_at', { send_at: `2026-12-24T18:00:00${'0'.repeat(5000)}Z` }, 'send_at'],
    ['quiet hours that are no object', { quiet_hours: '22-08' }, 'quiet_hours'],
    ['a start past 23:59', { quiet_hours: { ...night, start: '24:00' } }, 'quiet_hours.start'],
    ['an end with seconds', { quiet_hours: { ...night, end: '08:00:00' } }, 'quiet_hours.end'],
    [
      'an unknown zone',
      { quiet_hours: { ...night, time_zone: 'Mars/Olympus' } },
      'quiet_hours.time_zone',
    ],
    [
      'a hostile zone',
      { quiet_hours: { ...night, time_zone: '../../etc/passwd' } },
      'quiet_hours.time_zone',
    ],
    [
      'an oversized zone',
      { quiet_hours: { ...night, time_zone: 'A'.repeat(10_000) } },
      'quiet_hours.time_zone',
    ],
    ['an unknown field', { quiet_hours: { ...night, days: 'weekdays' } }, 'quiet_hours'],
  ])('answers 400 invalid_request to %s', async (_, fields, path) => {
    const sender = await freshSender()
    const response = await dispatch(sender, { ...smsRequest(sender), ...fields })
    const problem = await expectProblem(response, 400, 'invalid_request')
    expect(problem.errors).toContainEqual({ path, message: expect.any(String) })
    expect(await outboxRows(sender.providerId)).toBe(0)
  })
})
