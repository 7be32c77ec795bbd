// The counting proxies the round-trip budget suite relies on: overlapping calls share a round.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { countRoundTrips } from './round-trips.ts'

describe('countRoundTrips', () => {
  it('counts calls in one Promise.all as one round and calls one after the other as two', async () => {
    const counter = countRoundTrips(env)
    const { CACHE, DB } = counter.env
    await Promise.all([CACHE.get('a'), CACHE.get('b')])
    expect(counter.snapshot().kv).toBe(1)
    await CACHE.get('c')
    await DB.prepare('SELECT ?1 AS v').bind(1).first()
    expect(counter.snapshot()).toEqual({ kv: 2, d1: 1, queue: 0, d1Statements: 1, do: 0 })
  })

  it('counts a D1 batch as one round of as many statements, and records queue bodies', async () => {
    const counter = countRoundTrips(env)
    const { DB, DISPATCH_QUEUE } = counter.env
    const rows = await DB.batch([DB.prepare('SELECT 1 AS v'), DB.prepare('SELECT 2 AS v')])
    expect(rows.map((r) => r.results)).toEqual([[{ v: 1 }], [{ v: 2 }]])
    await DISPATCH_QUEUE.sendBatch([{ body: { deliveryId: 'x' } }])
    expect(counter.snapshot()).toEqual({ kv: 0, d1: 1, queue: 1, d1Statements: 2, do: 0 })
    expect(counter.sent('DISPATCH_QUEUE')).toEqual([{ deliveryId: 'x' }])
    expect(counter.calls()).toEqual(['d1.batch(2)', 'queue.sendBatch(1)'])
  })

  it('counts a call to a Durable Object as one round trip, named by its method', async () => {
    const counter = countRoundTrips(env)
    const shard = counter.env.SEND_SHARDS.getByName(`provider:${crypto.randomUUID()}`)
    await Promise.all([shard.forget(), shard.forget()])
    await shard.forget()
    expect(counter.snapshot()).toEqual({ kv: 0, d1: 0, queue: 0, d1Statements: 0, do: 2 })
    expect(counter.calls()).toEqual(['do.forget', 'do.forget', 'do.forget'])
  })
})
