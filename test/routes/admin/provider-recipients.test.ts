// GET /admin/providers/{id}/recipients through the Worker's fetch handler: a provider's directory,
// read only, page for page what the provider's own GET /recipients answers; the refusals.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { insertRecipient } from '../../../src/storage/recipients.ts'
import { adminCall, adminToken, json, walkPages, type Page } from '../../helpers/admin.ts'
import { createProvider } from '../../helpers/clients.ts'
import { createSender, type Sender } from '../../helpers/dispatch.ts'
import { call, expectProblem } from '../../helpers/http.ts'

type RecipientView = { user_id: string; phone: string | null; fcm_tokens: string[] }
type FieldError = { path: string; message: string }

let admin: string
let sender: Sender

beforeAll(async () => {
  admin = await adminToken()
  sender = await createSender({ phone: '+5491155550123', fcmTokens: ['device-a'] })
  for (const [userId, phone] of [
    ['b/ü user', null],
    ['a-user', '+5491155550124'],
  ] as const) {
    await insertRecipient(env.DB, sender.providerId, userId, {
      phone,
      fcmTokens: [],
      smsOptOut: phone === null,
      fcmOptOut: false,
    })
  }
})

const own = (query: string) =>
  call(`/recipients${query}`, { headers: { authorization: `Bearer ${sender.token}` } })

describe('GET /admin/providers/{id}/recipients', () => {
  it("is the provider's own listing, page for page", async () => {
    const path = `/admin/providers/${sender.providerId}/recipients`
    const response = await adminCall(admin, 'GET', `${path}?limit=2`)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const first = await json<Page<RecipientView>>(response)
    // The same page; only its link names the route it came from.
    const ownFirst = await json<Page<RecipientView>>(await own('?limit=2'))
    expect(first).toEqual({ ...ownFirst, links: { next: path + ownFirst.links.next!.slice(11) } })
    expect(first.items.map((r) => r.user_id)).toEqual(['a-user', 'b/ü user'])
    expect(first.items[0]).toMatchObject({ phone: '+5491155550124', fcm_tokens: [] })

    const { pages } = await walkPages<RecipientView>(admin, `${path}?limit=1`)
    expect(pages.map((p) => p.items.map((r) => r.user_id))).toEqual([
      ['a-user'],
      ['b/ü user'],
      [sender.userId],
    ])
    const cursor = pages[0]!.next_cursor!
    const ownSecond = await json<Page<RecipientView>>(await own(`?limit=1&cursor=${cursor}`))
    expect(pages[1]!.items).toEqual(ownSecond.items)
    expect(pages[1]!.next_cursor).toBe(ownSecond.next_cursor)
  })

  it('is an empty page for a provider without recipients', async () => {
    const empty = await createProvider()
    const response = await adminCall(admin, 'GET', `/admin/providers/${empty}/recipients`)
    expect(await json(response)).toEqual({
      items: [],
      page_size: 50,
      next_cursor: null,
      links: { next: null },
    })
  })

  it('is 404 for an unknown provider, 400 for a bad page size or cursor', async () => {
    const unknown = await adminCall(admin, 'GET', '/admin/providers/999999999999999/recipients')
    await expectProblem(unknown, 404, 'not_found')
    const base = `/admin/providers/${sender.providerId}/recipients`
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['cursor=%25%25', 'cursor'],
    ]) {
      const body = await expectProblem(
        await adminCall(admin, 'GET', `${base}?${query}`),
        400,
        'invalid_request',
      )
      expect((body.errors as FieldError[]).map((e) => e.path)).toEqual([field])
    }
  })

  it('is read only, and refused without the admin scope', async () => {
    const path = `/admin/providers/${sender.providerId}/recipients`
    const post = await adminCall(admin, 'POST', path, { user_id: 'x' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS')
    await expectProblem(await call(path), 401, 'token_missing')
    await expectProblem(await adminCall(sender.token, 'GET', path), 403, 'insufficient_scope')
  })
})
