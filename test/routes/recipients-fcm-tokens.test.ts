// When each FCM token was last registered, and the five-minute run dropping tokens not registered
// again for 270 days (Firebase's token-management guide: FCM refuses them by then).
import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { FCM_TOKEN_MAX_AGE_DAYS, findRecipient } from '../../src/storage/recipients.ts'
import { createClient } from '../helpers/clients.ts'
import { call } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'

const DAY_MS = 24 * 3600_000
const SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/

type View = { fcm_tokens: string[]; fcm_token_registered_at: Record<string, string> }

async function manager() {
  const client = await createClient({ allowedScopes: ['recipients:manage'] })
  return { providerId: client.providerId, authorization: `Bearer ${await tokenFor(client)}` }
}

async function send(
  who: { authorization: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return call(path, {
    method,
    headers: { authorization: who.authorization, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

async function read(who: { authorization: string }, userId: string): Promise<View> {
  const response = await send(who, 'GET', `/recipients/${userId}`)
  expect(response.status).toBe(200)
  return (await response.json()) as View
}

/** Dates a token's registration `days` ago, as if the app last sent it then. */
async function registeredDaysAgo(providerId: string, userId: string, token: string, days: number) {
  const at = new Date(Date.now() - days * DAY_MS).toISOString().replace(/\.\d{3}Z$/, 'Z')
  await env.DB.prepare(
    `UPDATE recipients SET fcm_token_registered_at = json_set(fcm_token_registered_at, ?3, ?4),
       fcm_token_oldest_at = MIN(COALESCE(fcm_token_oldest_at, ?4), ?4)
     WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2`,
  )
    .bind(providerId, userId, `$."${token}"`, at)
    .run()
}

async function runCleanUp() {
  const controller = createScheduledController({ scheduledTime: new Date(), cron: '*/5 * * * *' })
  await worker.scheduled(controller, env)
}

describe('/recipients: FCM token registration', () => {
  it('stamps each token sent, and keeps the stamps when a PATCH leaves the tokens out', async () => {
    const who = await manager()
    const userId = `user-${crypto.randomUUID()}`
    const created = await send(who, 'POST', '/recipients', {
      user_id: userId,
      fcm_tokens: ['device-a', 'device-b'],
    })
    expect(created.status).toBe(201)
    const view = (await created.json()) as View
    expect(Object.keys(view.fcm_token_registered_at)).toEqual(['device-a', 'device-b'])
    expect(view.fcm_token_registered_at['device-a']).toMatch(SECOND)

    await registeredDaysAgo(who.providerId, userId, 'device-a', 10)
    const before = (await read(who, userId)).fcm_token_registered_at
    expect((await send(who, 'PATCH', `/recipients/${userId}`, { sms_opt_out: true })).status).toBe(
      204,
    )
    expect((await read(who, userId)).fcm_token_registered_at).toEqual(before)

    // The app sent device-a again: registered now.
    const patch = { fcm_tokens: ['device-a', 'device-c'] }
    expect((await send(who, 'PATCH', `/recipients/${userId}`, patch)).status).toBe(204)
    const after = (await read(who, userId)).fcm_token_registered_at
    expect(Object.keys(after)).toEqual(['device-a', 'device-c'])
    expect(after['device-a']! > before['device-a']!).toBe(true)
  })
})

describe('the five-minute run: stale FCM tokens', () => {
  it(`drops tokens not registered for ${FCM_TOKEN_MAX_AGE_DAYS} days, keeping the rest`, async () => {
    const who = await manager()
    const userId = `user-${crypto.randomUUID()}`
    const stale = `stale-${crypto.randomUUID()}`
    const fresh = `fresh-${crypto.randomUUID()}`
    const body = { user_id: userId, fcm_tokens: [stale, fresh] }
    expect((await send(who, 'POST', '/recipients', body)).status).toBe(201)
    await registeredDaysAgo(who.providerId, userId, stale, FCM_TOKEN_MAX_AGE_DAYS + 1)
    await registeredDaysAgo(who.providerId, userId, fresh, FCM_TOKEN_MAX_AGE_DAYS - 1)

    await runCleanUp()
    const recipient = (await findRecipient(env.DB, who.providerId, userId))!
    expect(recipient.fcmTokens).toEqual([fresh])
    expect(Object.keys(recipient.fcmTokenRegisteredAt)).toEqual([fresh])
    // Nothing stale is left to find: the next run leaves it alone.
    const { oldest } = (await env.DB.prepare(
      `SELECT fcm_token_oldest_at AS oldest FROM recipients
       WHERE provider_id = CAST(?1 AS INTEGER) AND user_id = ?2`,
    )
      .bind(who.providerId, userId)
      .first<{ oldest: string }>())!
    expect(oldest).toBe(recipient.fcmTokenRegisteredAt[fresh])
  })
})
