// The send shards' copies of the send facts (decisions.md D48): what /Services and the consumer
// check a message against, copied from D1 and kept current by its log of changes.
import { env } from 'cloudflare:workers'
import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { destinationRoute, shardIndexFor } from '../../src/domain/admission.ts'
import { FACT_CHANGES_KEPT_SECONDS, FACTS_MAX_AGE_SECONDS } from '../../src/shards/send-facts.ts'
import { insertRecipient } from '../../src/storage/recipients.ts'
import { purgeFactChanges, RECIPIENT_PAGE } from '../../src/storage/send-facts.ts'
import { insertSuppression } from '../../src/storage/suppressions.ts'
import { epochSeconds } from '../../src/utils/time.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { createSender, dispatch, smsRequest, type Sender } from '../helpers/dispatch.ts'
import { call, expectProblem } from '../helpers/http.ts'
import { shardOf } from '../helpers/shards.ts'
import { useStandIn } from '../helpers/stand-in.ts'

/** When the shard's copy was last brought up to date (epoch s), or null when it has none. */
function syncedAt(providerId: string, index: number | null = null): Promise<number | null> {
  return runInDurableObject(shardOf(providerId, index), (_, state) => {
    const [row] = state.storage.sql
      .exec<{ synced_at: number }>('SELECT synced_at FROM facts_state')
      .toArray()
    return row?.synced_at ?? null
  })
}

/** Makes the shard's copy look `seconds` old. */
function ageCopy(providerId: string, seconds: number): Promise<void> {
  return runInDurableObject(shardOf(providerId), (_, state) => {
    state.storage.sql.exec(
      'UPDATE facts_state SET synced_at = ?',
      epochSeconds(new Date()) - seconds,
    )
  })
}

function copiedUserIds(providerId: string, index: number | null): Promise<string[]> {
  return runInDurableObject(shardOf(providerId, index), (_, state) =>
    state.storage.sql
      .exec<{ user_id: string }>('SELECT user_id FROM recipients ORDER BY user_id')
      .toArray()
      .map((r) => r.user_id),
  )
}

const toUser = (sender: Sender, userId: string) => {
  const body = smsRequest(sender)
  return { ...body, parameters: { ...body.parameters, destination: userId } }
}

describe('a send shard’s copy of the send facts', () => {
  it('checks /Services against a copy no older than a minute, bringing an older one up first', async () => {
    useStandIn()
    const sender = await createSender()
    expect(await syncedAt(sender.providerId)).toBeNull()
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    expect(await syncedAt(sender.providerId)).not.toBeNull()

    // A suppression written to D1 by another path than the API's: no shard was told.
    await insertSuppression(env.DB, sender.providerId, '+5491155550000', 'admin')
    const young = FACTS_MAX_AGE_SECONDS - 10
    await ageCopy(sender.providerId, young)
    const before = await syncedAt(sender.providerId)
    // The copy is young enough: the shard answers from it, reading nothing of D1.
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    expect(await syncedAt(sender.providerId)).toBe(before)

    await ageCopy(sender.providerId, FACTS_MAX_AGE_SECONDS + 1)
    const refused = await dispatch(sender, smsRequest(sender))
    await expectProblem(refused, 400, 'recipient_suppressed')
    expect(await syncedAt(sender.providerId)).toBeGreaterThan(before!)
  })

  it('sees a recipient written through the API in the same second', async () => {
    useStandIn()
    const sender = await createSender()
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    const userId = `user-${crypto.randomUUID()}`
    const created = await call('/recipients', {
      method: 'POST',
      headers: { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId, phone: '+5491155550123' }),
    })
    expect(created.status).toBe(201)
    expect((await dispatch(sender, toUser(sender, userId))).status).toBe(201)
    // Removed, it is unknown at once.
    const removed = await call(`/recipients/${userId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${sender.token}` },
    })
    expect(removed.status).toBe(204)
    await expectProblem(await dispatch(sender, toUser(sender, userId)), 400, 'unknown_destination')
  })

  it('sees an operator’s suppression at once, and its removal', async () => {
    useStandIn()
    const sender = await createSender()
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    const admin = await adminToken()
    const path = `/admin/providers/${sender.providerId}/suppressions`
    const added = await adminCall(admin, 'POST', path, { phone: '+5491155550000' })
    expect(added.status).toBe(201)
    await expectProblem(await dispatch(sender, smsRequest(sender)), 400, 'recipient_suppressed')
    const lifted = await adminCall(
      admin,
      'DELETE',
      `${path}/${encodeURIComponent('+5491155550000')}`,
    )
    expect(lifted.status).toBe(204)
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
  })

  it('copies a directory of more than a page', async () => {
    useStandIn()
    const sender = await createSender()
    const ids = Array.from(
      { length: RECIPIENT_PAGE + 5 },
      (_, i) => `bulk-${String(i).padStart(5, '0')}`,
    )
    await env.DB.batch(
      ids.map((id) =>
        env.DB.prepare(
          `INSERT INTO recipients (provider_id, user_id, phone) VALUES (CAST(?1 AS INTEGER), ?2, ?3)`,
        ).bind(sender.providerId, id, '+5491155550000'),
      ),
    )
    expect((await dispatch(sender, toUser(sender, ids.at(-1)!))).status).toBe(201)
    expect(await copiedUserIds(sender.providerId, null)).toHaveLength(ids.length + 1)
  })

  it('copies everything again when it is further behind than D1 keeps changes', async () => {
    useStandIn()
    const sender = await createSender()
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    const userId = `late-${crypto.randomUUID()}`
    await insertRecipient(env.DB, sender.providerId, userId, {
      phone: '+5491155550777',
      fcmTokens: [],
      smsOptOut: false,
      fcmOptOut: false,
    })
    // The change left D1's log: only a whole copy finds the recipient.
    await env.DB.prepare('DELETE FROM fact_changes WHERE key = ?1').bind(userId).run()
    await ageCopy(sender.providerId, FACT_CHANGES_KEPT_SECONDS)
    expect((await dispatch(sender, toUser(sender, userId))).status).toBe(201)
  })

  it('of several shards, each copies the recipients routed to it, and the first all', async () => {
    const sender = await createSender()
    const users = Array.from({ length: 12 }, () => `spread-${crypto.randomUUID()}`)
    for (const userId of users) {
      await insertRecipient(env.DB, sender.providerId, userId, {
        phone: null,
        fcmTokens: ['device'],
        smsOptOut: false,
        fcmOptOut: false,
      })
    }
    const shards = 4
    const changed = await adminCall(
      await adminToken(),
      'PATCH',
      `/admin/providers/${sender.providerId}`,
      {
        send_shards: shards,
      },
    )
    expect(changed.status).toBe(204)
    const all = [sender.userId, ...users].sort()
    for (let k = 0; k < shards; k++) {
      await shardOf(sender.providerId, k).runFresh([])
      const routed = all.filter((u) => shardIndexFor(destinationRoute(u), shards) === k)
      expect(await copiedUserIds(sender.providerId, k)).toEqual(routed)
    }
    await shardOf(sender.providerId).runFresh([])
    expect(await copiedUserIds(sender.providerId, null)).toEqual(all)
  })

  it('routes /Services of a provider with several shards to the destination’s shard', async () => {
    useStandIn()
    const sender = await createSender()
    const changed = await adminCall(
      await adminToken(),
      'PATCH',
      `/admin/providers/${sender.providerId}`,
      {
        send_shards: 8,
      },
    )
    expect(changed.status).toBe(204)
    // Its clients' edge records carry the new number: a token issued now routes by it.
    const response = await dispatch(sender, smsRequest(sender))
    expect(response.status).toBe(201)
    const { id } = (await response.json()) as { id: string }
    const k = shardIndexFor(destinationRoute(sender.userId), 8)
    expect(id).toMatch(new RegExp(`^p${sender.providerId}s${k}_`))
  })

  it('sends by the first shard what a stale number of shards routes to the wrong one', async () => {
    useStandIn()
    const sender = await createSender()
    const admin = await adminToken()
    const path = `/admin/providers/${sender.providerId}`
    expect((await adminCall(admin, 'PATCH', path, { send_shards: 4 })).status).toBe(204)
    // A recipient the caller's record (4 shards) routes to shard 2 or 3, which a copy made for 2
    // shards never holds.
    let userId: string
    do userId = `moved-${crypto.randomUUID()}`
    while (shardIndexFor(destinationRoute(userId), 4) < 2)
    await insertRecipient(env.DB, sender.providerId, userId, {
      phone: '+5491155550999',
      fcmTokens: [],
      smsOptOut: false,
      fcmOptOut: false,
    })
    // D1 says 2 shards now; the caller's edge record still says 4.
    await env.DB.prepare('UPDATE providers SET send_shards = 2 WHERE id = CAST(?1 AS INTEGER)')
      .bind(sender.providerId)
      .run()
    for (let k = 0; k < 4; k++) await shardOf(sender.providerId, k).runFresh([])
    const response = await dispatch(sender, toUser(sender, userId))
    expect(response.status).toBe(201)
    const { id } = (await response.json()) as { id: string }
    expect(id).toMatch(new RegExp(`^p${sender.providerId}_`))
  })

  it('is forgotten with its provider', async () => {
    useStandIn()
    const sender = await createSender()
    expect((await dispatch(sender, smsRequest(sender))).status).toBe(201)
    const removed = await adminCall(
      await adminToken(),
      'DELETE',
      `/admin/providers/${sender.providerId}?cascade=true`,
    )
    expect(removed.status).toBe(204)
    expect(await syncedAt(sender.providerId)).toBeNull()
    expect(await copiedUserIds(sender.providerId, null)).toEqual([])
  })
})

describe('D1’s log of changes', () => {
  it('records every change of what the shards copy, and is purged after a day', async () => {
    const sender = await createSender()
    const { results } = await env.DB.prepare(
      'SELECT tbl FROM fact_changes WHERE provider_id = CAST(?1 AS INTEGER) ORDER BY seq',
    )
      .bind(sender.providerId)
      .all<{ tbl: string }>()
    // createSender: the provider, its subscription and its recipient (clients are not copied).
    expect(results.map((r) => r.tbl)).toEqual(
      expect.arrayContaining(['providers', 'subscriptions', 'recipients']),
    )
    const later = new Date(Date.now() + 2 * FACT_CHANGES_KEPT_SECONDS * 1000)
    expect(await purgeFactChanges(env.DB, later)).toBeGreaterThanOrEqual(results.length)
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM fact_changes').first<{
      n: number
    }>()
    expect(left!.n).toBe(0)
  })
})
