// The isolate's memory of recent edge reads (EDGE_MEMORY_MS, src/storage/edge-state.ts): repeated
// checks within the window read no KV; whatever this isolate changes is seen at once; nothing is
// remembered longer than the window, from a read older than a change, or beyond its bounds.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  forgetEdgeState,
  MEMORY_MAX_ENTRIES,
  readEdgeState,
  rememberedEntries,
} from '../../src/storage/edge-state.ts'
import { adminToken } from '../helpers/admin.ts'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, ORIGIN } from '../helpers/http.ts'
import { probe } from '../helpers/probe.ts'
import { countRoundTrips } from '../helpers/round-trips.ts'
import { tokenFor } from '../helpers/tokens.ts'

/** The Worker as deployed: its isolate remembers reads for a second. */
const remembering: Env = { ...env, EDGE_MEMORY_MS: '1000' }

async function send(request: Request) {
  const { response, trips } = await probe(request, remembering)
  return { status: response.status, trips }
}

const me = (token: string) =>
  new Request(`${ORIGIN}/auth/me`, { method: 'POST', headers: { 'x-access-token': token } })

describe('the isolate’s memory of edge reads', () => {
  it('answers a repeated check within the window without reading KV or D1', async () => {
    const token = await tokenFor(await createClient())
    // Reads KV (and D1 if the login's fill has not landed yet): remembers the read and its fills.
    expect((await send(me(token))).trips.kv).toBe(1)
    const again = await send(me(token))
    expect(again.status).toBe(200)
    expect(again.trips).toMatchObject({ kv: 0, d1: 0 })
  })

  it('sees a revocation made in this isolate at once', async () => {
    const client = await createClient()
    const token = await tokenFor(client)
    await send(me(token))
    await send(me(token))
    expect((await send(me(token))).trips.kv).toBe(0)
    const revoke = await send(
      new Request(`${ORIGIN}/oauth/revoke`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(client.clientId, client.clientSecret),
        },
        body: new URLSearchParams({ token }).toString(),
      }),
    )
    expect(revoke.status).toBe(200)
    expect((await send(me(token))).status).toBe(401)
  })

  it('sees a client disabled in this isolate at once', async () => {
    const client = await createClient()
    const token = await tokenFor(client)
    await send(me(token))
    await send(me(token))
    expect((await send(me(token))).trips.kv).toBe(0)
    const disable = await send(
      new Request(`${ORIGIN}/admin/clients/${client.clientId}`, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await adminToken()}`,
        },
        body: JSON.stringify({ status: 'disabled' }),
      }),
    )
    expect(disable.status).toBe(204)
    expect((await send(me(token))).status).toBe(401)
  })

  it('remembers nothing longer than the window', async () => {
    const token = await tokenFor(await createClient())
    await send(me(token))
    await send(me(token))
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect((await send(me(token))).trips.kv).toBe(1)
  })

  it('does not remember a read that started before a change made in this isolate', async () => {
    const key = `memory-test:${crypto.randomUUID()}`
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    // The real KV, with its answer held until the change below is made.
    const slow = new Proxy(env.CACHE, {
      get(target, prop) {
        if (prop === 'get')
          return async (...args: unknown[]) => {
            const answer = await (target.get as (...a: unknown[]) => Promise<unknown>).apply(
              target,
              args,
            )
            await held
            return answer
          }
        const value = Reflect.get(target, prop) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const reading = readEdgeState(slow, [key], 1000)
    forgetEdgeState() // as any revocation, admin change or lock write of this isolate does
    release()
    await reading
    const counter = countRoundTrips(env)
    await readEdgeState(counter.env.CACHE, [key], 1000)
    expect(counter.snapshot().kv).toBe(1)
  })

  it('stays within its bounds', async () => {
    for (let batch = 0; batch < MEMORY_MAX_ENTRIES / 100 + 5; batch++) {
      const keys = Array.from({ length: 100 }, (_, i) => `memory-bound:${batch}:${i}`)
      await readEdgeState(env.CACHE, keys, 1000)
      expect(rememberedEntries()).toBeLessThanOrEqual(MEMORY_MAX_ENTRIES)
    }
  })
})
