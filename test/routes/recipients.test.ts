import { env } from 'cloudflare:workers'
import { base64url } from 'jose'
import { describe, expect, it } from 'vitest'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { call, expectProblem } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'

type RecipientView = {
  user_id: string
  phone: string | null
  fcm_tokens: string[]
  sms_opt_out: boolean
  fcm_opt_out: boolean
  created_at: string
  updated_at: string
}

type PageView = {
  items: RecipientView[]
  page_size: number
  next_cursor: string | null
  links: { next: string | null }
}

type Manager = TestClient & { authorization: string }

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/

/** A provider's client holding recipients:manage, with a token for it. */
async function createManager(): Promise<Manager> {
  const client = await createClient({ allowedScopes: ['recipients:manage'] })
  return { ...client, authorization: `Bearer ${await tokenFor(client)}` }
}

function freshUserId(): string {
  return `user-${crypto.randomUUID()}`
}

function path(userId: string): string {
  return `/recipients/${encodeURIComponent(userId)}`
}

function send(method: string, target: string, who: Manager | string | null, body?: unknown) {
  const headers: Record<string, string> = {}
  if (who) headers.authorization = typeof who === 'string' ? who : who.authorization
  if (body !== undefined) headers['content-type'] = 'application/json'
  return call(target, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
}

async function create(who: Manager, body: Record<string, unknown> = {}): Promise<RecipientView> {
  const response = await send('POST', '/recipients', who, { user_id: freshUserId(), ...body })
  expect(response.status).toBe(201)
  return (await response.json()) as RecipientView
}

async function read(who: Manager, userId: string): Promise<RecipientView> {
  const response = await send('GET', path(userId), who)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  return (await response.json()) as RecipientView
}

async function list(who: Manager, query: string): Promise<PageView> {
  const response = await send('GET', `/recipients${query}`, who)
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  return (await response.json()) as PageView
}

/** Walks the list from the first page, following links.next until it is null. */
async function walk(who: Manager, limit: number): Promise<PageView[]> {
  const pages: PageView[] = []
  let next: string | null = `/recipients?limit=${limit}`
  while (next !== null) {
    expect(pages.length).toBeLessThan(50)
    const page = await list(who, next.slice('/recipients'.length))
    pages.push(page)
    next = page.links.next
  }
  return pages
}

/** Writes recipients straight to D1 in one batch: the list tests need many rows, not many calls. */
async function seedRecipients(providerId: string, userIds: string[]): Promise<void> {
  const insert = env.DB.prepare(
    'INSERT INTO recipients (provider_id, user_id) VALUES (CAST(?1 AS INTEGER), ?2)',
  )
  await env.DB.batch(userIds.map((userId) => insert.bind(providerId, userId)))
}

async function expectFieldError(response: Response, field: string): Promise<void> {
  const body = await expectProblem(response, 400, 'invalid_request')
  const errors = body.errors as { path: string; message: string }[]
  expect(errors.map((e) => e.path)).toContain(field)
}

describe('POST /recipients', () => {
  it('creates a recipient: 201, Location and the full body', async () => {
    const manager = await createManager()
    const userId = freshUserId()
    const response = await send('POST', '/recipients', manager, {
      user_id: userId,
      phone: '+5491155550000',
      fcm_tokens: ['device-a', 'device-b'],
      sms_opt_out: true,
      fcm_opt_out: false,
    })
    expect(response.status).toBe(201)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(response.headers.get('location')).toBe(`/recipients/${userId}`)
    const body = (await response.json()) as RecipientView
    expect(body).toEqual({
      user_id: userId,
      phone: '+5491155550000',
      fcm_tokens: ['device-a', 'device-b'],
      fcm_token_registered_at: {
        'device-a': expect.stringMatching(TIMESTAMP),
        'device-b': expect.stringMatching(TIMESTAMP),
      },
      sms_opt_out: true,
      fcm_opt_out: false,
      time_zone: null,
      quiet_hours: null,
      whatsapp_opt_in: false,
      whatsapp_opt_in_at: null,
      whatsapp_last_inbound_at: null,
      created_at: expect.stringMatching(TIMESTAMP),
      updated_at: expect.stringMatching(TIMESTAMP),
    })
    expect(await read(manager, userId)).toEqual(body)
  })

  it('fills absent fields with their defaults', async () => {
    const manager = await createManager()
    const created = await create(manager)
    expect(created).toMatchObject({
      phone: null,
      fcm_tokens: [],
      sms_opt_out: false,
      fcm_opt_out: false,
      time_zone: null,
      quiet_hours: null,
    })
  })

  it('answers 409 conflict for a user_id the provider already has, keeping the first', async () => {
    const manager = await createManager()
    const first = await create(manager, { phone: '+5491155550000' })
    const again = await send('POST', '/recipients', manager, {
      user_id: first.user_id,
      phone: '+14155550100',
    })
    await expectProblem(again, 409, 'conflict')
    expect((await read(manager, first.user_id)).phone).toBe('+5491155550000')
  })

  it('accepts a user_id with unicode and @, and its URL-encoded Location round-trips', async () => {
    const manager = await createManager()
    const userId = `josé.pérez+${crypto.randomUUID()}@clínica.example`
    const response = await send('POST', '/recipients', manager, { user_id: userId })
    expect(response.status).toBe(201)
    const location = response.headers.get('location')!
    expect(location).toBe(`/recipients/${encodeURIComponent(userId)}`)
    expect(location).not.toMatch(/[@é+]/)

    const got = await send('GET', location, manager)
    expect(got.status).toBe(200)
    expect(((await got.json()) as RecipientView).user_id).toBe(userId)
    expect((await send('PATCH', location, manager, { phone: '+5491155550000' })).status).toBe(204)
    expect((await read(manager, userId)).phone).toBe('+5491155550000')
    expect((await send('PUT', location, manager, {})).status).toBe(204)
    expect((await send('DELETE', location, manager)).status).toBe(204)
    expect((await send('GET', location, manager)).status).toBe(404)
  })

  it.each(['a%2Fb', '100%', 'a\\b', 'a+b&c=d;e', "o'brien", 'x😀', '%2e%2e'])(
    'round-trips the user_id %s through its Location',
    async (userId) => {
      const manager = await createManager()
      const response = await send('POST', '/recipients', manager, { user_id: userId })
      expect(response.status).toBe(201)
      const location = response.headers.get('location')!
      const got = await send('GET', location, manager)
      expect(got.status).toBe(200)
      expect(((await got.json()) as RecipientView).user_id).toBe(userId)
      expect((await send('DELETE', location, manager)).status).toBe(204)
    },
  )

  it('accepts a user_id of exactly 128 characters', async () => {
    const manager = await createManager()
    const userId = 'u'.repeat(128)
    const response = await send('POST', '/recipients', manager, { user_id: userId })
    expect(response.status).toBe(201)
    expect((await read(manager, userId)).user_id).toBe(userId)
  })

  it.each([
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['a tab', 'a\tb'],
    ['nothing', ''],
    ['129 characters', 'u'.repeat(129)],
    ['a dot segment', '.'],
    ['two dot segments', '..'],
    ['a number', 42],
    ['null', null],
  ])('answers 400 naming user_id for a user_id with %s', async (_, userId) => {
    const manager = await createManager()
    await expectFieldError(
      await send('POST', '/recipients', manager, { user_id: userId }),
      'user_id',
    )
  })

  it('answers 400 naming user_id when it is missing', async () => {
    const manager = await createManager()
    await expectFieldError(
      await send('POST', '/recipients', manager, { phone: '+5491155550000' }),
      'user_id',
    )
  })

  it('answers 400 for an unknown field, naming it', async () => {
    const manager = await createManager()
    const response = await send('POST', '/recipients', manager, {
      user_id: freshUserId(),
      email: 'a@b.c',
    })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(JSON.stringify(body.errors)).toContain('email')
  })

  it('answers 400 for a body that is not a JSON object', async () => {
    const manager = await createManager()
    await expectProblem(await send('POST', '/recipients', manager, '[]'), 400, 'invalid_request')
    await expectProblem(
      await send('POST', '/recipients', manager, '"user"'),
      400,
      'invalid_request',
    )
  })
})

describe('GET /recipients/{user_id}', () => {
  it('answers 404 not_found for an unknown user', async () => {
    const manager = await createManager()
    await expectProblem(await send('GET', path(freshUserId()), manager), 404, 'not_found')
  })
})

describe('PUT /recipients/{user_id}', () => {
  it('replaces every field: 204, and a field left out takes its default', async () => {
    const manager = await createManager()
    const created = await create(manager, {
      phone: '+5491155550000',
      fcm_tokens: ['device-a'],
      sms_opt_out: true,
      fcm_opt_out: true,
    })
    const response = await send('PUT', path(created.user_id), manager, { fcm_tokens: ['device-b'] })
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    expect(await read(manager, created.user_id)).toMatchObject({
      user_id: created.user_id,
      phone: null,
      fcm_tokens: ['device-b'],
      sms_opt_out: false,
      fcm_opt_out: false,
      created_at: created.created_at,
    })
  })

  it('sets every field sent', async () => {
    const manager = await createManager()
    const created = await create(manager)
    const fields = {
      phone: '+14155550100',
      fcm_tokens: ['x', 'y'],
      sms_opt_out: true,
      fcm_opt_out: true,
    }
    expect((await send('PUT', path(created.user_id), manager, fields)).status).toBe(204)
    expect(await read(manager, created.user_id)).toMatchObject(fields)
  })

  it('answers 404 not_found for an unknown user and creates nothing', async () => {
    const manager = await createManager()
    const userId = freshUserId()
    const response = await send('PUT', path(userId), manager, { phone: '+5491155550000' })
    await expectProblem(response, 404, 'not_found')
    await expectProblem(await send('GET', path(userId), manager), 404, 'not_found')
  })

  it('answers 400 for a user_id in the body, which is not a replaceable field', async () => {
    const manager = await createManager()
    const created = await create(manager)
    const response = await send('PUT', path(created.user_id), manager, { user_id: freshUserId() })
    await expectProblem(response, 400, 'invalid_request')
  })
})

describe('PATCH /recipients/{user_id}', () => {
  it('changes only the fields sent: 204, and the phone stays when not sent', async () => {
    const manager = await createManager()
    const created = await create(manager, { phone: '+5491155550000', fcm_tokens: ['device-a'] })
    const response = await send('PATCH', path(created.user_id), manager, { sms_opt_out: true })
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    expect(await read(manager, created.user_id)).toMatchObject({
      phone: '+5491155550000',
      fcm_tokens: ['device-a'],
      sms_opt_out: true,
      fcm_opt_out: false,
    })
  })

  it('clears the phone when sent as null', async () => {
    const manager = await createManager()
    const created = await create(manager, { phone: '+5491155550000', fcm_tokens: ['device-a'] })
    expect((await send('PATCH', path(created.user_id), manager, { phone: null })).status).toBe(204)
    expect(await read(manager, created.user_id)).toMatchObject({
      phone: null,
      fcm_tokens: ['device-a'],
    })
  })

  it('changes nothing for an empty body', async () => {
    const manager = await createManager()
    const created = await create(manager, { phone: '+5491155550000', fcm_opt_out: true })
    expect((await send('PATCH', path(created.user_id), manager, {})).status).toBe(204)
    const { updated_at: _u, ...before } = created
    expect(await read(manager, created.user_id)).toMatchObject(before)
  })

  it('answers 404 not_found for an unknown user', async () => {
    const manager = await createManager()
    await expectProblem(
      await send('PATCH', path(freshUserId()), manager, { sms_opt_out: true }),
      404,
      'not_found',
    )
  })
})

describe('DELETE /recipients/{user_id}', () => {
  it('deletes: 204, then 404 on GET and on a second DELETE, and the id can be reused', async () => {
    const manager = await createManager()
    const created = await create(manager, { phone: '+5491155550000' })
    const response = await send('DELETE', path(created.user_id), manager)
    expect(response.status).toBe(204)
    expect(await response.text()).toBe('')
    await expectProblem(await send('GET', path(created.user_id), manager), 404, 'not_found')
    await expectProblem(await send('DELETE', path(created.user_id), manager), 404, 'not_found')
    const again = await send('POST', '/recipients', manager, { user_id: created.user_id })
    expect(again.status).toBe(201)
    expect(((await again.json()) as RecipientView).phone).toBeNull()
  })

  it('answers 404 not_found for an unknown user', async () => {
    const manager = await createManager()
    await expectProblem(await send('DELETE', path(freshUserId()), manager), 404, 'not_found')
  })
})

// Every write route validates the same fields the same way.
describe('recipient phones', () => {
  it('stores each spelling of one phone in its canonical form, on POST, PUT and PATCH', async () => {
    const manager = await createManager()
    const created = await create(manager, { phone: '+4407700900123' })
    expect(created.phone).toBe('+447700900123')
    expect((await read(manager, created.user_id)).phone).toBe('+447700900123')

    const replaced = await send('PUT', path(created.user_id), manager, { phone: '+541155550000' })
    expect(replaced.status).toBe(204)
    expect((await read(manager, created.user_id)).phone).toBe('+5491155550000')

    const patched = await send('PATCH', path(created.user_id), manager, {
      phone: '+5215512345678',
    })
    expect(patched.status).toBe(204)
    expect((await read(manager, created.user_id)).phone).toBe('+525512345678')
  })

  it("keeps Italy's 0, which is part of the number", async () => {
    const manager = await createManager()
    expect((await create(manager, { phone: '+390612345678' })).phone).toBe('+390612345678')
  })
})

describe.each(['POST', 'PUT', 'PATCH'])('%s recipient fields', (method) => {
  async function write(body: Record<string, unknown> | string): Promise<Response> {
    const manager = await createManager()
    if (method === 'POST') {
      return send(
        'POST',
        '/recipients',
        manager,
        typeof body === 'string' ? body : { user_id: freshUserId(), ...body },
      )
    }
    const created = await create(manager)
    return send(method, path(created.user_id), manager, body)
  }

  it('accepts an E.164 phone', async () => {
    expect((await write({ phone: '+5491155550000' })).status).toBe(method === 'POST' ? 201 : 204)
  })

  it.each([
    ['without +', '5491155550000'],
    ['with a leading 0', '+0123'],
    ['with spaces', '+1 555 0100'],
    ['of 16 digits', '+1234567890123456'],
    ['too short', '+12345'],
    ['that is a number', 5491155550000],
  ])('answers 400 naming phone for a phone %s', async (_, phone) => {
    await expectFieldError(await write({ phone }), 'phone')
  })

  it.each([
    ['not an array', 'device-a', 'fcm_tokens'],
    ['with a non-string item', ['device-a', 7], 'fcm_tokens.1'],
    ['with an empty string', [''], 'fcm_tokens.0'],
    ['with more than 10 tokens', Array.from({ length: 11 }, (_, i) => `device-${i}`), 'fcm_tokens'],
  ])('answers 400 for fcm_tokens %s', async (_, fcmTokens, field) => {
    await expectFieldError(await write({ fcm_tokens: fcmTokens }), field)
  })

  it.each(['sms_opt_out', 'fcm_opt_out'])(
    'answers 400 naming %s when it is not a boolean',
    async (field) => {
      await expectFieldError(await write({ [field]: 'true' }), field)
      await expectFieldError(await write({ [field]: 1 }), field)
    },
  )

  it('answers 400 for an unknown field', async () => {
    const body = await expectProblem(await write({ opt_out: true }), 400, 'invalid_request')
    expect(JSON.stringify(body.errors)).toContain('opt_out')
  })
})

describe.each(['POST', 'PUT', 'PATCH'])('%s recipient fcm_tokens', (method) => {
  it('collapses duplicate tokens, keeping their first order', async () => {
    const manager = await createManager()
    const tokens = ['device-b', 'device-a', 'device-b', 'device-a', 'device-c']
    let userId: string
    if (method === 'POST') {
      userId = (await create(manager, { fcm_tokens: tokens })).user_id
    } else {
      userId = (await create(manager)).user_id
      expect((await send(method, path(userId), manager, { fcm_tokens: tokens })).status).toBe(204)
    }
    expect((await read(manager, userId)).fcm_tokens).toEqual(['device-b', 'device-a', 'device-c'])
  })

  it('accepts exactly 10 tokens', async () => {
    const manager = await createManager()
    const tokens = Array.from({ length: 10 }, (_, i) => `device-${i}`)
    let userId: string
    if (method === 'POST') {
      userId = (await create(manager, { fcm_tokens: tokens })).user_id
    } else {
      userId = (await create(manager)).user_id
      expect((await send(method, path(userId), manager, { fcm_tokens: tokens })).status).toBe(204)
    }
    expect((await read(manager, userId)).fcm_tokens).toEqual(tokens)
  })
})

// 401 without a token, 403 without recipients:manage, 405, 415 and malformed JSON on every route:
// test/routes/contract.test.ts.
describe('/recipients authorization', () => {
  const ROUTES: [string, string, unknown?][] = [
    ['POST', '/recipients', { user_id: 'someone' }],
    ['GET', '/recipients'],
    ['GET', '/recipients/someone'],
    ['PUT', '/recipients/someone', {}],
    ['PATCH', '/recipients/someone', {}],
    ['DELETE', '/recipients/someone'],
  ]

  it.each(ROUTES)(
    'answers 403 forbidden to %s %s with an operator-level token',
    async (method, target, body) => {
      const operator = await createClient({
        providerId: null,
        allowedScopes: ['recipients:manage'],
      })
      const response = await send(method, target, `Bearer ${await tokenFor(operator)}`, body)
      await expectProblem(response, 403, 'forbidden')
    },
  )
})

describe('/recipients provider isolation', () => {
  it('hides provider A’s recipient from provider B on every route', async () => {
    const a = await createManager()
    const b = await createManager()
    const mine = await create(a, { phone: '+5491155550000', fcm_tokens: ['device-a'] })
    const target = path(mine.user_id)

    await expectProblem(await send('GET', target, b), 404, 'not_found')
    await expectProblem(await send('PUT', target, b, { phone: '+14155550100' }), 404, 'not_found')
    await expectProblem(await send('PATCH', target, b, { sms_opt_out: true }), 404, 'not_found')
    await expectProblem(await send('DELETE', target, b), 404, 'not_found')
    expect((await list(b, '?limit=100')).items).toEqual([])

    expect(await read(a, mine.user_id)).toEqual(mine)
    expect((await list(a, '?limit=100')).items).toEqual([mine])
  })

  it('lets two providers hold the same user_id independently', async () => {
    const a = await createManager()
    const b = await createManager()
    const userId = freshUserId()
    expect(
      (await send('POST', '/recipients', a, { user_id: userId, phone: '+5491155550000' })).status,
    ).toBe(201)
    expect(
      (await send('POST', '/recipients', b, { user_id: userId, phone: '+14155550100' })).status,
    ).toBe(201)

    expect((await send('PATCH', path(userId), b, { fcm_opt_out: true })).status).toBe(204)
    expect(await read(a, userId)).toMatchObject({ phone: '+5491155550000', fcm_opt_out: false })
    expect(await read(b, userId)).toMatchObject({ phone: '+14155550100', fcm_opt_out: true })

    expect((await send('DELETE', path(userId), a)).status).toBe(204)
    await expectProblem(await send('GET', path(userId), a), 404, 'not_found')
    expect((await read(b, userId)).phone).toBe('+14155550100')
  })
})

describe('GET /recipients', () => {
  it('lists in user_id order with the page shape and the default page size', async () => {
    const manager = await createManager()
    const userIds = ['carol', 'alice', 'bob']
    for (const userId of userIds) {
      expect((await send('POST', '/recipients', manager, { user_id: userId })).status).toBe(201)
    }
    const page = await list(manager, '')
    expect(page).toEqual({
      items: [
        await read(manager, 'alice'),
        await read(manager, 'bob'),
        await read(manager, 'carol'),
      ],
      page_size: 50,
      next_cursor: null,
      links: { next: null },
    })
  })

  it('walks 250 recipients in 3 pages of 100: every one once, in order', async () => {
    const manager = await createManager()
    const userIds = Array.from({ length: 250 }, () => freshUserId())
    await seedRecipients(manager.providerId, userIds)

    const pages = await walk(manager, 100)
    expect(pages.map((p) => p.items.length)).toEqual([100, 100, 50])
    expect(pages.map((p) => p.page_size)).toEqual([100, 100, 100])
    expect(pages.map((p) => p.next_cursor === null)).toEqual([false, false, true])
    for (const page of pages.slice(0, -1)) {
      expect(page.links.next).toBe(`/recipients?limit=100&cursor=${page.next_cursor}`)
    }
    const seen = pages.flatMap((p) => p.items.map((r) => r.user_id))
    expect(seen).toHaveLength(250)
    expect(new Set(seen).size).toBe(250)
    expect(seen).toEqual([...userIds].sort())
    expect(pages[0]!.items[0]).toEqual({
      user_id: seen[0],
      phone: null,
      fcm_tokens: [],
      fcm_token_registered_at: {},
      sms_opt_out: false,
      fcm_opt_out: false,
      time_zone: null,
      quiet_hours: null,
      whatsapp_opt_in: false,
      whatsapp_opt_in_at: null,
      whatsapp_last_inbound_at: null,
      created_at: expect.stringMatching(TIMESTAMP),
      updated_at: expect.stringMatching(TIMESTAMP),
    })
  })

  it('ends without a next link when the last page is exactly full', async () => {
    const manager = await createManager()
    await seedRecipients(manager.providerId, ['a', 'b', 'c', 'd'])
    const pages = await walk(manager, 2)
    expect(pages.map((p) => p.items.map((r) => r.user_id))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ])
    expect(pages[1]!.links.next).toBeNull()
  })

  it('continues after the cursor when earlier items were deleted (keyset paging)', async () => {
    const manager = await createManager()
    await seedRecipients(manager.providerId, ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'])
    const first = await list(manager, '?limit=2')
    expect(first.items.map((r) => r.user_id)).toEqual(['r1', 'r2'])

    // An offset-based pager would now skip r3; the cursor names r2, even once r2 itself is gone.
    expect((await send('DELETE', path('r1'), manager)).status).toBe(204)
    expect((await send('DELETE', path('r2'), manager)).status).toBe(204)
    const second = await list(manager, first.links.next!.slice('/recipients'.length))
    expect(second.items.map((r) => r.user_id)).toEqual(['r3', 'r4'])

    // An item added before the cursor is not seen; one added after it is.
    await seedRecipients(manager.providerId, ['r0', 'r45'])
    const third = await list(manager, second.links.next!.slice('/recipients'.length))
    expect(third.items.map((r) => r.user_id)).toEqual(['r45', 'r5'])
    const last = await list(manager, third.links.next!.slice('/recipients'.length))
    expect(last.items.map((r) => r.user_id)).toEqual(['r6'])
    expect(last.links.next).toBeNull()
  })

  it('pages user_ids with unicode and @ through the cursor', async () => {
    const manager = await createManager()
    const userIds = [
      'ana@clínica.example',
      'josé@clínica.example',
      'zoë@clínica.example',
      '日本@例え.jp',
    ]
    await seedRecipients(manager.providerId, userIds)
    const pages = await walk(manager, 1)
    expect(pages.flatMap((p) => p.items.map((r) => r.user_id))).toEqual(userIds)
  })

  it.each(['101', '0', '-1', 'abc', '1.5', ''])(
    'answers 400 naming limit for limit=%s',
    async (limit) => {
      const manager = await createManager()
      await expectFieldError(await send('GET', `/recipients?limit=${limit}`, manager), 'limit')
    },
  )

  it('accepts limit=100 and limit=1', async () => {
    const manager = await createManager()
    expect((await list(manager, '?limit=100')).page_size).toBe(100)
    expect((await list(manager, '?limit=1')).page_size).toBe(1)
  })

  it.each([
    ['not base64', '!!!'],
    ['truncated base64', 'x'],
    ['not UTF-8', base64url.encode(new Uint8Array([0xff, 0xfe]))],
    ['made up', 'not-a-cursor'],
  ])('answers 400 naming cursor for a cursor that is %s', async (_, cursor) => {
    const manager = await createManager()
    const response = await send('GET', `/recipients?cursor=${encodeURIComponent(cursor)}`, manager)
    await expectFieldError(response, 'cursor')
  })
})
