// GET /admin/messages and GET /admin/messages/{id} through the Worker's fetch handler: every
// provider's messages searched by provider, destination, status and time, newest first and paged;
// one message as its provider's status view shows it, timeline included; the refusals. Messages
// are written to the outbox in the year 2001, so that the time filters see only this file's.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import type { DeliveryStatus } from '../../../src/channel.ts'
import { newMessageId } from '../../../src/domain/message-ids.ts'
import { insertMessage, type NewDelivery } from '../../../src/storage/messages.ts'
import { adminCall, adminToken, json, walkPages, type Page } from '../../helpers/admin.ts'
import { createClient } from '../../helpers/clients.ts'
import {
  createSender,
  freshPhone,
  readMessage,
  type MessageView,
  type Sender,
} from '../../helpers/dispatch.ts'
import { call, expectProblem } from '../../helpers/http.ts'
import { handOverOutboxes, shardDb } from '../../helpers/shards.ts'
import { tokenFor } from '../../helpers/tokens.ts'
import { testMessage } from '../../helpers/messages.ts'

type Reached = Record<DeliveryStatus, string | null>
type AdminDelivery = MessageView['deliveries'][number] & { reached: Reached; events?: unknown[] }
type AdminMessage = Omit<MessageView, 'deliveries'> & { deliveries: AdminDelivery[] }
type FieldError = { path: string; message: string }

/** The first second of the time these messages were sent in, plus `seconds`. */
const at = (seconds: number) => new Date(Date.UTC(2001, 0, 1, 0, 0, seconds)).toISOString()

/**
 * Writes a message of `sender` to `destination` created at `createdAt`, with one delivery in each
 * of `states` (status and attempts set as the lifecycle would leave them). Returns its id.
 */
async function writeMessage(
  sender: Sender,
  createdAt: string,
  states: [DeliveryStatus, number][],
  destination = sender.userId,
): Promise<string> {
  const id = newMessageId(sender.providerId, null)
  const deliveries = states.map((_, i): NewDelivery => ({
    id: crypto.randomUUID(),
    part: i === 0 ? 'notification' : 'advertisement',
    channel: i === 0 ? 'sms' : 'fcm',
    address: i === 0 ? '+5491155550000' : `device-${crypto.randomUUID()}`,
    title: 'Turno',
    body: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
    link: null,
  }))
  const message = testMessage(sender.providerId, {
    id,
    serviceId: sender.serviceId,
    destination,
    createdAt,
  })
  // In its provider's shard, in one transaction: the shard's alarm indexes it as it is.
  const shard = shardDb(sender.providerId)
  const insert = insertMessage(shard, message, deliveries)
  const results = await shard.batch([
    ...insert.statements,
    ...states.map(([status, attempts], i) =>
      shard
        .prepare('UPDATE deliveries SET status = ?2, attempts = ?3 WHERE id = ?1')
        .bind(deliveries[i]!.id, status, attempts),
    ),
  ])
  expect(insert.read(results)).toHaveLength(states.length)
  return id
}

let admin: string
let a: Sender
let b: Sender
let phone: string
/** Provider a's messages, oldest first, by what they are. */
const sent: Record<string, string> = {}

beforeAll(async () => {
  admin = await adminToken()
  ;[a, b] = await Promise.all([createSender(), createSender()])
  phone = freshPhone()
  sent.queued = await writeMessage(a, at(0), [['queued', 0]])
  sent.direct = await writeMessage(a, at(1), [['sent', 1]], phone)
  sent.partially = await writeMessage(a, at(2), [
    ['delivered', 1],
    ['failed', 1],
  ])
  sent.dead = await writeMessage(a, at(3), [['dead', 5]])
  sent.other = await writeMessage(b, at(1), [['sent', 1]])
  // As the shards' alarms do, a moment later: the admin index learns of them.
  await Promise.all([handOverOutboxes(a.providerId), handOverOutboxes(b.providerId)])
})

async function search(query: string): Promise<Page<AdminMessage>> {
  const response = await adminCall(admin, 'GET', `/admin/messages?${query}`)
  expect(response.headers.get('cache-control')).toBe('no-store')
  return json<Page<AdminMessage>>(response)
}

const ids = (page: Page<AdminMessage>) => page.items.map((m) => m.id)

describe('GET /admin/messages', () => {
  it("lists a provider's messages newest first, as its status view shows them", async () => {
    const page = await search(`provider_id=${a.providerId}`)
    expect(ids(page)).toEqual([sent.dead, sent.partially, sent.direct, sent.queued])
    expect(page).toMatchObject({ page_size: 50, next_cursor: null, links: { next: null } })
    const statuses = page.items.map((m) => m.status)
    expect(statuses).toEqual(['dead', 'partially_delivered', 'sent', 'queued'])
    // The view of GET /Services/messages/{id} without its timeline, the number masked.
    for (const item of page.items) {
      const own = await json<AdminMessage>(await readMessage(a, item.id))
      const withoutTimeline = own.deliveries.map(({ events: _, ...d }) => d)
      expect(item).toEqual({ ...own, deliveries: withoutTimeline })
    }
    const direct = page.items[2]!
    expect(direct.destination).not.toBe(phone)
    expect(direct.destination).toMatch(/^\+54•+\d{4}$/)
    expect(direct.deliveries[0]!.reached.queued).toBe(at(1))
  })

  it('lists every provider when no provider is named', async () => {
    const page = await search(`since=${at(0)}&until=${at(3)}&limit=100`)
    expect(ids(page)).toEqual(expect.arrayContaining([...Object.values(sent)]))
    const times = page.items.map((m) => m.created_at)
    expect(times).toEqual([...times].sort().reverse())
  })

  it('finds the messages to a destination as sent: a user id or an E.164 number', async () => {
    expect(ids(await search(`destination=${encodeURIComponent(a.userId)}`))).toEqual([
      sent.dead,
      sent.partially,
      sent.queued,
    ])
    expect(ids(await search(`destination=${encodeURIComponent(phone)}`))).toEqual([sent.direct])
    expect(ids(await search(`destination=${encodeURIComponent(phone.slice(1))}`))).toEqual([])
    const both = `provider_id=${b.providerId}&destination=${encodeURIComponent(a.userId)}`
    expect(ids(await search(both))).toEqual([])
  })

  it("finds the messages in one status, the message's own", async () => {
    const by = async (status: string) =>
      ids(await search(`provider_id=${a.providerId}&status=${status}`))
    expect(await by('queued')).toEqual([sent.queued])
    expect(await by('sent')).toEqual([sent.direct])
    expect(await by('partially_delivered')).toEqual([sent.partially])
    expect(await by('dead')).toEqual([sent.dead])
    expect(await by('delivered')).toEqual([])
    expect(await by('failed')).toEqual([])
    const anyProvider = ids(await search(`status=sent&since=${at(0)}&until=${at(3)}`))
    expect(anyProvider).toEqual(expect.arrayContaining([sent.direct, sent.other]))
    expect(anyProvider).not.toContain(sent.dead)
  })

  it('finds the messages created in a time range, bounds included, any offset', async () => {
    const range = (since: string, until: string) =>
      search(
        `provider_id=${a.providerId}&since=${encodeURIComponent(since)}` +
          `&until=${encodeURIComponent(until)}`,
      ).then(ids)
    expect(await range(at(1), at(2))).toEqual([sent.partially, sent.direct])
    // The same instants, written with an offset.
    expect(await range('2001-01-01T01:00:01+01:00', '2000-12-31T20:00:02-04:00')).toEqual([
      sent.partially,
      sent.direct,
    ])
    expect(ids(await search(`provider_id=${a.providerId}&since=${at(3)}`))).toEqual([sent.dead])
    expect(ids(await search(`provider_id=${a.providerId}&until=${at(0)}`))).toEqual([sent.queued])
  })

  it('pages with opaque cursors, keeping the filters, ties broken by id', async () => {
    const c = await createSender()
    // Two messages in the same millisecond: the id orders them, and neither is lost or repeated.
    const tied = [
      await writeMessage(c, at(5), [['queued', 0]]),
      await writeMessage(c, at(5), [['queued', 0]]),
      await writeMessage(c, at(4), [['sent', 1]]),
    ]
    await handOverOutboxes(c.providerId)
    const { pages } = await walkPages<AdminMessage>(
      admin,
      `/admin/messages?provider_id=${c.providerId}&status=queued&limit=1`,
    )
    expect(pages.map((p) => p.items.length)).toEqual([1, 1])
    expect(pages.flatMap(ids)).toEqual([tied[0], tied[1]].sort().reverse())
    const next = new URL(pages[0]!.links.next!, 'https://portero.test')
    expect(Object.fromEntries(next.searchParams)).toMatchObject({
      provider_id: c.providerId,
      status: 'queued',
      limit: '1',
      cursor: pages[0]!.next_cursor,
    })
    expect(pages[0]!.next_cursor).toMatch(/^[\w-]+$/)
    const all = await walkPages<AdminMessage>(
      admin,
      `/admin/messages?provider_id=${c.providerId}&limit=2`,
    )
    expect(all.pages.flatMap(ids)).toEqual([...[tied[0], tied[1]].sort().reverse(), tied[2]])
  })

  it.each([
    ['status=sending%20', 'status'],
    ['status=unknown', 'status'],
    ['since=yesterday', 'since'],
    ['until=2001-01-01', 'until'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['destination=', 'destination'],
    [`destination=${'x'.repeat(129)}`, 'destination'],
    ['cursor=%25%25', 'cursor'],
    // Base64url of text that is not a key of this list: `123`, and `["a"]`.
    ['cursor=MTIz', 'cursor'],
    ['cursor=WyJhIl0', 'cursor'],
  ])('refuses %s with a field error', async (query, path) => {
    const response = await adminCall(admin, 'GET', `/admin/messages?${query}`)
    const body = await expectProblem(response, 400, 'invalid_request')
    expect((body.errors as FieldError[]).map((e) => e.path)).toEqual([path])
  })

  it('names the allowed statuses when refusing one', async () => {
    const response = await adminCall(admin, 'GET', '/admin/messages?status=done')
    const body = await expectProblem(response, 400, 'invalid_request')
    expect((body.errors as FieldError[])[0]!.message).toContain('partially_delivered')
  })
})

describe('GET /admin/messages/{id}', () => {
  it("is any provider's message as its own status view shows it, timeline included", async () => {
    for (const [sender, id] of [
      [a, sent.partially],
      [b, sent.other],
    ] as const) {
      const response = await adminCall(admin, 'GET', `/admin/messages/${id}`)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const view = await json<AdminMessage>(response)
      expect(view).toEqual(await json<AdminMessage>(await readMessage(sender, id!)))
      expect(view.deliveries[0]!.events).toEqual([
        expect.objectContaining({ status: 'queued', attempt: 0 }),
      ])
    }
  })

  it('is 404 for an unknown or malformed id', async () => {
    // Well-formed but never issued (its shard holds nothing of it), then malformed: one answer.
    const unknown = `p${a.providerId}_${crypto.randomUUID().replaceAll('-', '')}`
    for (const id of [
      unknown,
      crypto.randomUUID(),
      'not-an-id',
      `p${a.providerId}s64_${'0'.repeat(32)}`,
    ]) {
      const response = await adminCall(admin, 'GET', `/admin/messages/${id}`)
      const body = await expectProblem(response, 404, 'not_found')
      expect(body.detail).toMatch(/^(No message .*|There is no such message)\.$/)
    }
  })
})

describe('/admin/messages without the admin scope', () => {
  it('is 401 without a token and 403 with a token not holding admin', async () => {
    const provider = await tokenFor(
      await createClient({ allowedScopes: ['services:send', 'recipients:manage'] }),
    )
    for (const path of ['/admin/messages', `/admin/messages/${sent.queued}`]) {
      await expectProblem(await call(path), 401, 'token_missing')
      const refused = await adminCall(provider, 'GET', path)
      await expectProblem(refused, 403, 'insufficient_scope')
      const own = await adminCall(a.token, 'GET', path)
      await expectProblem(own, 403, 'insufficient_scope')
    }
  })
})
