// What POST /Services refuses before it stores anything (docs/sending.md "Send quotas", "Direct numbers",
// "Suppression list"): a provider over a quota (429 with Retry-After), a raw number for a service
// that does not allow it, and a suppressed number however it is addressed; and what feeds the
// suppression list: the directory, operators, and STOP / START sent to the sender number.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { smsSignature } from '../../src/channels/sms-signature.ts'
import { adminCall, adminToken, json, type Page } from '../helpers/admin.ts'
import {
  dispatch,
  freshPhone,
  freshSender,
  outboxRows,
  smsRequest,
  smsTo,
  type Sender,
} from '../helpers/dispatch.ts'
import { call, expectProblem, ORIGIN } from '../helpers/http.ts'
import { setShardCounter, shardCounters, shardDestinations, shardOf } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'

const admin = await adminToken()

type Body = ReturnType<typeof smsRequest>
const to = (body: Body, destination: string): Body => ({
  ...body,
  parameters: { ...body.parameters, destination },
})

async function phoneOf(sender: Sender): Promise<string> {
  const row = await env.DB.prepare(
    'SELECT phone FROM recipients WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2',
  )
    .bind(sender.providerId, sender.userId)
    .first<{ phone: string }>()
  return row!.phone
}

const counters = shardCounters

/**
 * Waits, when the window of `spanSeconds` the clock is in has less than `needSeconds` left, for
 * the next one: a test that fills a window must not see it end half way.
 */
async function roomInWindow(spanSeconds: number, needSeconds = 10): Promise<void> {
  const intoWindow = (Date.now() / 1000) % spanSeconds
  const left = spanSeconds - intoWindow
  if (left < needSeconds) await new Promise((r) => setTimeout(r, left * 1000 + 100))
}

const setQuotas = (providerId: string, quotas: Record<string, number | null>) =>
  adminCall(admin, 'PATCH', `/admin/providers/${providerId}`, { quotas })

/** Expects a refusal that stored, counted and sent nothing. */
async function expectRefusedCleanly(
  sender: Sender,
  send: () => Promise<Response>,
  status: number,
  code: string,
) {
  const [rows, counted] = [await outboxRows(sender.providerId), await counters(sender.providerId)]
  const problem = await expectProblem(await send(), status, code)
  expect(await outboxRows(sender.providerId)).toBe(rows)
  expect(await counters(sender.providerId)).toEqual(counted)
  return problem
}

// A test may first wait for the next window (roomInWindow): up to 10 s, 30 s for the day.
describe('POST /Services: send quotas', { timeout: 45_000 }, () => {
  it('answers 429 quota_exceeded past the minute quota, with Retry-After, storing nothing', async () => {
    const standIn = useStandIn()
    const sender = await freshSender()
    expect((await setQuotas(sender.providerId, { per_minute: 2 })).status).toBe(204)
    await roomInWindow(60)
    for (let i = 0; i < 2; i++)
      expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    const marker = crypto.randomUUID()
    let response!: Response
    const problem = await expectRefusedCleanly(
      sender,
      async () => (response = await dispatch(sender, smsRequest(sender, marker))),
      429,
      'quota_exceeded',
    )
    expect(problem.detail).toMatch(/2 messages a minute/)
    const retryAfter = Number(response.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(await counters(sender.providerId)).toMatchObject({ minute: 2, day: 2 })
    const phone = await phoneOf(sender)
    expect(smsTo(standIn, phone).filter((t) => t.includes(marker))).toEqual([])
  })

  it('accepts exactly the quota of 200 parallel requests and refuses the rest cleanly', async () => {
    const standIn = useStandIn()
    const sender = await freshSender({ directNumbers: true })
    expect((await setQuotas(sender.providerId, { per_minute: 5 })).status).toBe(204)
    await roomInWindow(60, 20)
    const marker = crypto.randomUUID()
    // Each to a number of its own, so only the minute quota can hold them back.
    const phones = Array.from({ length: 200 }, () => freshPhone())
    const responses = await Promise.all(
      phones.map((phone) => dispatch(sender, to(smsRequest(sender, marker), phone))),
    )
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 201)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(195)
    for (const refused of responses.filter((r) => r.status === 429)) {
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(((await refused.json()) as { code: string }).code).toBe('quota_exceeded')
    }
    // Five messages of one delivery each.
    expect(await outboxRows(sender.providerId)).toBe(10)
    expect(await counters(sender.providerId)).toMatchObject({ minute: 5, day: 5 })
    // The five accepted are sent; nothing of the refused ones is.
    await vi.waitFor(() => expect(phones.flatMap((p) => smsTo(standIn, p)).length).toBe(5), {
      timeout: 20_000,
      interval: 100,
    })
  })

  it('counts parallel requests with one Idempotency-Key once, and stores one message', async () => {
    useStandIn()
    const sender = await freshSender()
    expect((await setQuotas(sender.providerId, { per_minute: 3 })).status).toBe(204)
    await roomInWindow(60, 20)
    const key = { 'idempotency-key': `k-${crypto.randomUUID()}` }
    const body = smsRequest(sender)
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => dispatch(sender, body, key)),
    )
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 201)).toHaveLength(1)
    expect(statuses.filter((s) => s === 200)).toHaveLength(19)
    const ids = await Promise.all(
      responses.map(async (r) => ((await r.json()) as { id: string }).id),
    )
    expect(new Set(ids).size).toBe(1)
    expect(await outboxRows(sender.providerId)).toBe(2)
    expect(await counters(sender.providerId)).toMatchObject({ minute: 1, day: 1 })
    // Two of the three left.
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    await expectProblem(await dispatch(sender, smsRequest(sender)), 429, 'quota_exceeded')
  })

  it('still answers a replay of an accepted request when over quota', async () => {
    useStandIn()
    const sender = await freshSender()
    expect((await setQuotas(sender.providerId, { per_minute: 1 })).status).toBe(204)
    await roomInWindow(60)
    const key = { 'idempotency-key': `k-${crypto.randomUUID()}` }
    const body = smsRequest(sender)
    expect((await dispatch(sender, body, key)).status).toBe(201)
    expect((await dispatch(sender, body, key)).status).toBe(200)
    await expectProblem(await dispatch(sender, smsRequest(sender)), 429, 'quota_exceeded')
  })

  it('answers 429 past the default daily quota, Retry-After counting to midnight UTC', async () => {
    const sender = await freshSender()
    await roomInWindow(86_400, 30)
    const now = Math.floor(Date.now() / 1000)
    const day = now - (now % 86_400)
    await setShardCounter(
      sender.providerId,
      { span: 'day', startsAt: day },
      Number(env.SEND_QUOTA_PER_DAY),
    )
    let response!: Response
    const problem = await expectRefusedCleanly(
      sender,
      async () => (response = await dispatch(sender, smsRequest(sender))),
      429,
      'quota_exceeded',
    )
    expect(problem.detail).toMatch(/a day/)
    const retryAfter = Number(response.headers.get('retry-after'))
    expect(Math.abs(retryAfter - (day + 86_400 - now))).toBeLessThanOrEqual(5)
  })

  it('counts one destination however it is addressed, per hour', async () => {
    useStandIn()
    const sender = await freshSender({ directNumbers: true })
    expect((await setQuotas(sender.providerId, { per_destination_hour: 1 })).status).toBe(204)
    await roomInWindow(3600)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    // The same phone, as a raw number: the same destination.
    const phone = await phoneOf(sender)
    const problem = await expectRefusedCleanly(
      sender,
      () => dispatch(sender, to(smsRequest(sender), phone)),
      429,
      'quota_exceeded',
    )
    expect(problem.detail).toMatch(/an hour to one destination/)
    // And in the other spellings of it: without the mobile 9, with the trunk 0 and the local 15.
    const local = phone.slice('+54911'.length)
    for (const spelling of [`+5411${local}`, `+5401115${local}`]) {
      await expectProblem(
        await dispatch(sender, to(smsRequest(sender), spelling)),
        429,
        'quota_exceeded',
      )
    }
    // Another destination is not held back.
    expect((await dispatch(sender, to(smsRequest(sender), freshPhone()))).status).toBe(201)
  })

  it('counts a number written with its trunk prefix as the number, and sends it there', async () => {
    const standIn = useStandIn()
    const sender = await freshSender({ directNumbers: true })
    expect((await setQuotas(sender.providerId, { per_destination_hour: 1 })).status).toBe(204)
    await roomInWindow(3600)
    const marker = crypto.randomUUID()
    const sent = await dispatch(sender, to(smsRequest(sender, marker), '+4407700900123'))
    expect(sent.status).toBe(201)
    expect(await shardDestinations(sender.providerId)).toEqual(['+447700900123'])
    await expectRefusedCleanly(
      sender,
      () => dispatch(sender, to(smsRequest(sender), '+447700900123')),
      429,
      'quota_exceeded',
    )
    await vi.waitFor(
      () =>
        expect(smsTo(standIn, '+447700900123').filter((t) => t.includes(marker))).toHaveLength(1),
      { timeout: 10_000, interval: 100 },
    )
  })

  it("holds each provider to its own quota: another provider's override is not its", async () => {
    useStandIn()
    const [limited, other] = await Promise.all([freshSender(), freshSender()])
    expect((await setQuotas(limited.providerId, { per_minute: 1 })).status).toBe(204)
    await roomInWindow(60)
    expect((await dispatch(limited, smsRequest(limited))).status).toBe(201)
    await expectProblem(await dispatch(limited, smsRequest(limited)), 429, 'quota_exceeded')
    expect((await dispatch(other, smsRequest(other))).status).toBe(201)
    expect((await dispatch(other, smsRequest(other))).status).toBe(201)
  })
})

// docs/sending.md "A provider that sends a lot": several shards, each admitting its share of destinations
// with blocks of the minute and day quotas granted by the provider's first shard.
describe('POST /Services: a provider with several send shards', { timeout: 45_000 }, () => {
  const setShards = (providerId: string, sendShards: number) =>
    adminCall(admin, 'PATCH', `/admin/providers/${providerId}`, { send_shards: sendShards })

  /** What each of the provider's shards admitted in the current windows, and what was granted. */
  async function shardTotals(providerId: string, shards: number) {
    const each = await Promise.all(
      Array.from({ length: shards }, (_, i) => shardCounters(providerId, i)),
    )
    return {
      destinations: each.reduce((sum, c) => sum + (c.destination_hour ?? 0), 0),
      granted: await shardCounters(providerId),
      used: await Promise.all(
        Array.from({ length: shards }, (_, i) =>
          runInDurableObject(shardOf(providerId, i), (_, state) =>
            state.storage.sql
              .exec<{ span: string; used: number }>('SELECT span, used FROM allowances')
              .toArray(),
          ),
        ),
      ),
    }
  }

  it('still accepts exactly the quota of 200 parallel requests', async () => {
    useStandIn()
    const sender = await freshSender({ directNumbers: true })
    expect((await setQuotas(sender.providerId, { per_minute: 5 })).status).toBe(204)
    expect((await setShards(sender.providerId, 4)).status).toBe(204)
    await roomInWindow(60, 20)
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => dispatch(sender, to(smsRequest(sender), freshPhone()))),
    )
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 201)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(195)
    const totals = await shardTotals(sender.providerId, 4)
    // The first shard granted the minute's five, one at a time as so few were left; the others
    // admitted them.
    expect(totals.granted).toMatchObject({ minute: 5 })
    expect(totals.destinations).toBe(5)
    const usedMinute = totals.used.flat().filter((a) => a.span === 'minute')
    expect(usedMinute.reduce((sum, a) => sum + a.used, 0)).toBe(5)
    // Nothing of the first shard's own: it only grants.
    expect((await shardCounters(sender.providerId)).destination_hour).toBeUndefined()
  })

  it('never goes over a larger quota, granted in blocks', async () => {
    useStandIn()
    const sender = await freshSender({ directNumbers: true })
    expect((await setQuotas(sender.providerId, { per_minute: 60 })).status).toBe(204)
    expect((await setShards(sender.providerId, 4)).status).toBe(204)
    await roomInWindow(60, 20)
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => dispatch(sender, to(smsRequest(sender), freshPhone()))),
    )
    const accepted = responses.filter((r) => r.status === 201).length
    expect(accepted).toBeLessThanOrEqual(60)
    // What the shards hold granted but unused when the window is full: a few messages at most.
    expect(accepted).toBeGreaterThanOrEqual(60 - 4)
    expect(responses.filter((r) => r.status === 429)).toHaveLength(200 - accepted)
    const totals = await shardTotals(sender.providerId, 4)
    expect(totals.granted.minute).toBeLessThanOrEqual(60)
    expect(totals.destinations).toBe(accepted)
  })

  it('counts one destination in one shard, exactly', async () => {
    useStandIn()
    const sender = await freshSender()
    expect((await setQuotas(sender.providerId, { per_destination_hour: 2 })).status).toBe(204)
    expect((await setShards(sender.providerId, 4)).status).toBe(204)
    await roomInWindow(3600, 20)
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => dispatch(sender, smsRequest(sender))),
    )
    expect(responses.filter((r) => r.status === 201)).toHaveLength(2)
    expect(responses.filter((r) => r.status === 429)).toHaveLength(18)
  })

  it('counts parallel requests with one Idempotency-Key once', async () => {
    useStandIn()
    const sender = await freshSender()
    expect((await setShards(sender.providerId, 4)).status).toBe(204)
    await roomInWindow(60, 20)
    const key = { 'idempotency-key': `k-${crypto.randomUUID()}` }
    const body = smsRequest(sender)
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => dispatch(sender, body, key)),
    )
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1)
    expect(responses.filter((r) => r.status === 200)).toHaveLength(19)
    expect(await outboxRows(sender.providerId, 4)).toBe(2)
    expect((await shardTotals(sender.providerId, 4)).destinations).toBe(1)
  })
})

describe('/admin/providers/{id}: quotas', () => {
  type ProviderView = {
    quotas: Record<string, number>
    quota_overrides: Record<string, number | null>
  }

  it('shows the quotas in force and the overrides, and null goes back to the default', async () => {
    const sender = await freshSender()
    const path = `/admin/providers/${sender.providerId}`
    const defaults = {
      per_minute: Number(env.SEND_QUOTA_PER_MINUTE),
      per_day: Number(env.SEND_QUOTA_PER_DAY),
      per_destination_hour: Number(env.SEND_QUOTA_PER_DESTINATION_HOUR),
    }
    const before = await json<ProviderView>(await adminCall(admin, 'GET', path))
    expect(before.quotas).toEqual(defaults)
    expect(before.quota_overrides).toEqual({
      per_minute: null,
      per_day: null,
      per_destination_hour: null,
    })
    expect((await setQuotas(sender.providerId, { per_minute: 5, per_day: 100 })).status).toBe(204)
    expect((await setQuotas(sender.providerId, { per_minute: null })).status).toBe(204)
    const after = await json<ProviderView>(await adminCall(admin, 'GET', path))
    expect(after.quotas).toEqual({ ...defaults, per_day: 100 })
    expect(after.quota_overrides).toEqual({
      per_minute: null,
      per_day: 100,
      per_destination_hour: null,
    })
  })

  for (const quotas of [
    { per_minute: 0 },
    { per_day: 1.5 },
    { per_hour: 3 },
    {},
    { per_day: '9' },
  ]) {
    it(`refuses quotas ${JSON.stringify(quotas)} with 400 invalid_request`, async () => {
      const sender = await freshSender()
      const response = await adminCall(admin, 'PATCH', `/admin/providers/${sender.providerId}`, {
        quotas,
      })
      await expectProblem(response, 400, 'invalid_request')
    })
  }
})

describe('/admin/providers/{id}: send_shards', () => {
  it('shows 1 by default and the count an operator sets', async () => {
    const sender = await freshSender()
    const path = `/admin/providers/${sender.providerId}`
    type View = { send_shards: number }
    expect((await json<View>(await adminCall(admin, 'GET', path))).send_shards).toBe(1)
    expect((await adminCall(admin, 'PATCH', path, { send_shards: 8 })).status).toBe(204)
    expect((await json<View>(await adminCall(admin, 'GET', path))).send_shards).toBe(8)
  })

  for (const sendShards of [0, 65, 2.5, '4', null]) {
    it(`refuses send_shards ${JSON.stringify(sendShards)} with 400 invalid_request`, async () => {
      const sender = await freshSender()
      const path = `/admin/providers/${sender.providerId}`
      const problem = await expectProblem(
        await adminCall(admin, 'PATCH', path, { send_shards: sendShards }),
        400,
        'invalid_request',
      )
      expect(problem.errors).toEqual([expect.objectContaining({ path: 'send_shards' })])
      type View = { send_shards: number }
      expect((await json<View>(await adminCall(admin, 'GET', path))).send_shards).toBe(1)
    })
  }
})

describe('POST /Services: direct numbers are opt-in per service', () => {
  it('refuses a number outside the directory by default: 400 direct_number_not_allowed', async () => {
    const sender = await freshSender()
    const problem = await expectRefusedCleanly(
      sender,
      () => dispatch(sender, to(smsRequest(sender), freshPhone())),
      400,
      'direct_number_not_allowed',
    )
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'parameters.destination' })])
  })

  it('accepts one once an operator enables them, within the country codes listed', async () => {
    useStandIn()
    const sender = await freshSender()
    const path = `/admin/services/${sender.serviceId}`
    const enable = { direct_numbers: true, direct_number_country_codes: ['1', '598'] }
    expect((await adminCall(admin, 'PATCH', path, enable)).status).toBe(204)
    expect(await json(await adminCall(admin, 'GET', path))).toMatchObject(enable)

    // freshPhone() is Argentine (+54): not in the list.
    const problem = await expectRefusedCleanly(
      sender,
      () => dispatch(sender, to(smsRequest(sender), freshPhone())),
      400,
      'direct_number_not_allowed',
    )
    expect(JSON.stringify(problem.errors)).toContain('+1, +598')
    expect((await dispatch(sender, to(smsRequest(sender), '+59899123456'))).status).toBe(201)

    const anyCode = { direct_number_country_codes: null }
    expect((await adminCall(admin, 'PATCH', path, anyCode)).status).toBe(204)
    expect((await dispatch(sender, to(smsRequest(sender), freshPhone()))).status).toBe(201)
  })

  for (const codes of [['054'], ['1234'], [], ['+54']]) {
    it(`refuses country codes ${JSON.stringify(codes)} with 400 invalid_request`, async () => {
      const sender = await freshSender()
      const response = await adminCall(admin, 'PATCH', `/admin/services/${sender.serviceId}`, {
        direct_number_country_codes: codes,
      })
      await expectProblem(response, 400, 'invalid_request')
    })
  }
})

type SuppressionView = { phone: string; source: string; all_providers: boolean }

/**
 * The provider's suppression list, as far as `phone` goes: files share one database, and numbers
 * other tests suppressed for every provider (a STOP, error 21610) are on every list.
 */
const suppressionsOf = async (providerId: string, phone: string) =>
  (
    await json<Page<SuppressionView>>(
      await adminCall(admin, 'GET', `/admin/providers/${providerId}/suppressions`),
    )
  ).items.filter((item) => item.phone === phone)

/** The SMS API's inbound webhook, signed as the API signs it unless `signature` is given. */
async function inbound(fields: Record<string, string>, signature?: string | null) {
  const url = `${ORIGIN}/callbacks/sms/inbound`
  const params = new URLSearchParams({
    AccountSid: env.SMS_ACCOUNT_SID,
    To: env.SMS_FROM,
    MessageSid: `SM${crypto.randomUUID().replaceAll('-', '')}`,
    ...fields,
  })
  const signed = await smsSignature(env.SMS_AUTH_TOKEN, url, params)
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
  if (signature !== null) headers['x-twilio-signature'] = signature ?? signed
  return call('/callbacks/sms/inbound', { method: 'POST', headers, body: params.toString() })
}

describe('POST /Services: suppressed numbers are refused however they are addressed', () => {
  it("refuses an operator's suppression by user id and by number, until it is lifted", async () => {
    useStandIn()
    const [sender, other] = await Promise.all([
      freshSender({ directNumbers: true }),
      freshSender({ directNumbers: true }),
    ])
    const phone = await phoneOf(sender)
    const path = `/admin/providers/${sender.providerId}/suppressions`
    const created = await adminCall(admin, 'POST', path, { phone })
    expect(await json(created, 201)).toMatchObject({ phone, source: 'admin', all_providers: false })
    await expectProblem(await adminCall(admin, 'POST', path, { phone }), 409, 'conflict')

    for (const destination of [sender.userId, phone]) {
      const problem = await expectRefusedCleanly(
        sender,
        () => dispatch(sender, to(smsRequest(sender), destination)),
        400,
        'recipient_suppressed',
      )
      expect(problem.errors).toEqual([
        { path: 'parameters.destination', message: 'suppressed: suppressed by an operator' },
      ])
    }
    // Another provider's sends to that number are not held back.
    expect((await dispatch(other, to(smsRequest(other), phone))).status).toBe(201)
    // Nor is a push to the recipient.
    const push = smsRequest(sender)
    push.parameters.notification.channel = 'FCM'
    expect((await dispatch(sender, push)).status).toBe(201)

    expect(await suppressionsOf(sender.providerId, phone)).toEqual([
      expect.objectContaining({ phone, source: 'admin' }),
    ])
    const lift = `${path}/${encodeURIComponent(phone)}`
    expect((await adminCall(admin, 'DELETE', lift)).status).toBe(204)
    await expectProblem(await adminCall(admin, 'DELETE', lift), 404, 'not_found')
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
  })

  it('refuses a number whose recipient opted out in the directory, by number too', async () => {
    const sender = await freshSender({ directNumbers: true })
    const phone = await phoneOf(sender)
    const patched = await call(`/recipients/${encodeURIComponent(sender.userId)}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sms_opt_out: true }),
    })
    expect(patched.status).toBe(204)
    await expectRefusedCleanly(
      sender,
      () => dispatch(sender, to(smsRequest(sender), phone)),
      400,
      'recipient_suppressed',
    )
    expect(await suppressionsOf(sender.providerId, phone)).toEqual([
      expect.objectContaining({ phone, source: 'directory', all_providers: false }),
    ])
    const lift = `/admin/providers/${sender.providerId}/suppressions/${encodeURIComponent(phone)}`
    const refused = await expectProblem(await adminCall(admin, 'DELETE', lift), 409, 'conflict')
    expect(refused.detail).toMatch(/recipients/)
  })

  it('refuses a number that replied STOP, for every provider, until it replies START', async () => {
    useStandIn()
    const [first, second] = await Promise.all([
      freshSender({ directNumbers: true }),
      freshSender({ directNumbers: true }),
    ])
    const phone = await phoneOf(first)
    const stop = await inbound({ From: phone, Body: ' stop ' })
    expect(stop.status).toBe(200)
    expect(stop.headers.get('content-type')).toMatch(/^text\/xml/)
    expect(await stop.text()).toBe('<Response/>')

    await expectRefusedCleanly(
      first,
      () => dispatch(first, smsRequest(first)),
      400,
      'recipient_suppressed',
    )
    await expectRefusedCleanly(
      second,
      () => dispatch(second, to(smsRequest(second), phone)),
      400,
      'recipient_suppressed',
    )
    expect(await suppressionsOf(second.providerId, phone)).toContainEqual(
      expect.objectContaining({ phone, source: 'stop_reply', all_providers: true }),
    )
    const lift = `/admin/providers/${first.providerId}/suppressions/${encodeURIComponent(phone)}`
    await expectProblem(await adminCall(admin, 'DELETE', lift), 409, 'conflict')

    // Anything else changes nothing; START lifts the STOP.
    expect((await inbound({ From: phone, Body: 'stop please' })).status).toBe(200)
    expect((await inbound({ From: phone, Body: 'Start' })).status).toBe(200)
    expect((await dispatch(first, smsRequest(first))).status).toBe(201)
    expect((await dispatch(second, to(smsRequest(second), phone))).status).toBe(201)
  })
})

describe('Suppressions: one phone, one number however it is written', () => {
  it('refuses +4407700900123 once +447700900123 is suppressed, and the other way round', async () => {
    useStandIn()
    const sender = await freshSender({ directNumbers: true })
    const path = `/admin/providers/${sender.providerId}/suppressions`
    const created = await adminCall(admin, 'POST', path, { phone: '+447700900123' })
    expect(await json(created, 201)).toMatchObject({ phone: '+447700900123' })
    for (const destination of ['+447700900123', '+4407700900123']) {
      await expectRefusedCleanly(
        sender,
        () => dispatch(sender, to(smsRequest(sender), destination)),
        400,
        'recipient_suppressed',
      )
    }
    // The other spelling is the same suppression: a conflict, lifted under either spelling.
    await expectProblem(
      await adminCall(admin, 'POST', path, { phone: '+4407700900123' }),
      409,
      'conflict',
    )
    const lift = `${path}/${encodeURIComponent('+4407700900123')}`
    expect((await adminCall(admin, 'DELETE', lift)).status).toBe(204)
    expect((await dispatch(sender, to(smsRequest(sender), '+447700900123'))).status).toBe(201)

    const written = await adminCall(admin, 'POST', path, { phone: '+4407700900123' })
    expect(await json(written, 201)).toMatchObject({ phone: '+447700900123' })
    expect(written.headers.get('location')).toBe(`${path}/${encodeURIComponent('+447700900123')}`)
    expect(await suppressionsOf(sender.providerId, '+447700900123')).toHaveLength(1)
    expect(await suppressionsOf(sender.providerId, '+4407700900123')).toEqual([])
    await expectRefusedCleanly(
      sender,
      () => dispatch(sender, to(smsRequest(sender), '+447700900123')),
      400,
      'recipient_suppressed',
    )
  })

  it("applies a STOP and a START from another spelling of a recipient's phone", async () => {
    useStandIn()
    const sender = await freshSender({ directNumbers: true })
    const phone = await phoneOf(sender) // +54 9 11 and eight digits
    const local = phone.slice('+54911'.length)
    expect((await inbound({ From: `+541115${local}`, Body: 'STOP' })).status).toBe(200)
    for (const destination of [sender.userId, phone, `+5411${local}`]) {
      await expectRefusedCleanly(
        sender,
        () => dispatch(sender, to(smsRequest(sender), destination)),
        400,
        'recipient_suppressed',
      )
    }
    expect(await suppressionsOf(sender.providerId, phone)).toEqual([
      expect.objectContaining({ phone, source: 'stop_reply' }),
    ])
    expect((await inbound({ From: `+54011${local}`, Body: 'START' })).status).toBe(200)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
  })
})

describe('POST /callbacks/sms/inbound', () => {
  const forged: [string, (phone: string) => Promise<Response>][] = [
    ['unsigned', (phone) => inbound({ From: phone, Body: 'STOP' }, null)],
    [
      'signed with another token',
      async (phone) => {
        const params = new URLSearchParams({
          AccountSid: env.SMS_ACCOUNT_SID,
          From: phone,
          Body: 'STOP',
        })
        const url = `${ORIGIN}/callbacks/sms/inbound`
        return inbound({ From: phone, Body: 'STOP' }, await smsSignature('guess', url, params))
      },
    ],
    [
      'signed for another URL',
      async (phone) => {
        const params = new URLSearchParams({
          AccountSid: env.SMS_ACCOUNT_SID,
          From: phone,
          Body: 'STOP',
        })
        const signature = await smsSignature(env.SMS_AUTH_TOKEN, `${ORIGIN}/elsewhere`, params)
        return inbound({ From: phone, Body: 'STOP' }, signature)
      },
    ],
    [
      'a signature of other parameters',
      async (phone) => {
        const url = `${ORIGIN}/callbacks/sms/inbound`
        const params = new URLSearchParams({ AccountSid: env.SMS_ACCOUNT_SID, From: phone })
        return inbound(
          { From: phone, Body: 'STOP' },
          await smsSignature(env.SMS_AUTH_TOKEN, url, params),
        )
      },
    ],
  ]

  for (const [name, send] of forged) {
    it(`answers 403 invalid_signature to a request ${name}, suppressing nothing`, async () => {
      const sender = await freshSender()
      const phone = await phoneOf(sender)
      await expectProblem(await send(phone), 403, 'invalid_signature')
      expect(await suppressionsOf(sender.providerId, phone)).toEqual([])
    })
  }

  it('applies each MessageSid once: a replayed START does not lift a later STOP', async () => {
    useStandIn()
    const sender = await freshSender()
    const phone = await phoneOf(sender)
    const sid = () => `SM${crypto.randomUUID().replaceAll('-', '')}`
    const [firstStop, start, laterStop, laterStart] = [sid(), sid(), sid(), sid()]
    const send = (MessageSid: string, Body: string) => inbound({ From: phone, Body, MessageSid })
    const refused = async () =>
      (await dispatch(sender, smsRequest(sender))).status === 400 &&
      (await suppressionsOf(sender.providerId, phone)).length === 1

    expect((await send(firstStop, 'STOP')).status).toBe(200)
    expect((await send(start, 'START')).status).toBe(200)
    expect(await refused()).toBe(false)
    expect((await send(laterStop, 'STOP')).status).toBe(200)
    // The START captured earlier, sent again exactly as signed: answered, and nothing lifted.
    const replay = await send(start, 'START')
    expect(replay.status).toBe(200)
    expect(await replay.text()).toBe('<Response/>')
    expect(await refused()).toBe(true)

    // And a replayed STOP does not undo a later START.
    expect((await send(laterStart, 'START')).status).toBe(200)
    expect((await send(laterStop, 'STOP')).status).toBe(200)
    expect((await send(firstStop, 'STOP')).status).toBe(200)
    expect(await refused()).toBe(false)

    const { results } = await env.DB.prepare(
      `SELECT message_sid, keyword FROM inbound_messages
       WHERE message_sid IN (?1, ?2, ?3, ?4) ORDER BY keyword, message_sid`,
    )
      .bind(firstStop, start, laterStop, laterStart)
      .all<{ message_sid: string; keyword: string }>()
    expect(results).toHaveLength(4)
  })

  it('applies five copies of a START sent at once once, recording its sid', async () => {
    const sender = await freshSender()
    const phone = await phoneOf(sender)
    const MessageSid = `SM${crypto.randomUUID().replaceAll('-', '')}`
    expect((await inbound({ From: phone, Body: 'STOP' })).status).toBe(200)
    const copies = await Promise.all(
      Array.from({ length: 5 }, () => inbound({ From: phone, Body: 'START', MessageSid })),
    )
    expect(copies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(await suppressionsOf(sender.providerId, phone)).toEqual([])
    const row = await env.DB.prepare('SELECT keyword FROM inbound_messages WHERE message_sid = ?1')
      .bind(MessageSid)
      .first<{ keyword: string }>()
    expect(row).toEqual({ keyword: 'start' })
  })

  it('answers 400 invalid_request to a signed request without MessageSid, changing nothing', async () => {
    const sender = await freshSender()
    const phone = await phoneOf(sender)
    const url = `${ORIGIN}/callbacks/sms/inbound`
    const params = new URLSearchParams({
      AccountSid: env.SMS_ACCOUNT_SID,
      To: env.SMS_FROM,
      From: phone,
      Body: 'STOP',
    })
    const response = await call('/callbacks/sms/inbound', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': await smsSignature(env.SMS_AUTH_TOKEN, url, params),
      },
      body: params.toString(),
    })
    await expectProblem(response, 400, 'invalid_request')
    expect(await suppressionsOf(sender.providerId, phone)).toEqual([])
  })

  it('answers 403 forbidden to a request signed for another account, suppressing nothing', async () => {
    const sender = await freshSender()
    const phone = await phoneOf(sender)
    const refused = inbound({ From: phone, Body: 'STOP', AccountSid: 'ACsomeoneelse' })
    await expectProblem(await refused, 403, 'forbidden')
    expect(await suppressionsOf(sender.providerId, phone)).toEqual([])
  })
})
