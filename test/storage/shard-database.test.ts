// A send shard as a database (src/storage/shard-database.ts): D1's statement API over the shard's
// SQLite, one call a batch, one transaction a batch, as the lifecycle's storage modules expect.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  shardDatabaseIn,
  sharedShardDatabaseIn,
  statementsOf,
} from '../../src/storage/shard-database.ts'
import { countRoundTrips } from '../helpers/round-trips.ts'

/** A shard of its own for each test: a name no provider's shard has. */
const freshShard = () => `test-shard:${crypto.randomUUID()}`

describe('a send shard as a database', () => {
  it('binds numbered and positional parameters as D1 does, booleans as 0 and 1', async () => {
    const db = shardDatabaseIn(env.SEND_SHARDS, freshShard())
    const row = await db
      .prepare('SELECT ?2 AS second, ?1 AS first, ?1 || ?2 AS both, ?3 AS yes, ?4 AS none')
      .bind('a', 'b', true, undefined)
      .first<Record<string, unknown>>()
    expect(row).toEqual({ second: 'b', first: 'a', both: 'ab', yes: 1, none: null })
    expect(await db.prepare('SELECT ? + ? AS n').bind(2, 3).first('n')).toBe(5)
  })

  it('says how many rows a statement changed, and none for a read', async () => {
    const db = shardDatabaseIn(env.SEND_SHARDS, freshShard())
    const [created, inserted, updated, read] = await db.batch([
      db.prepare('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'),
      db.prepare("INSERT INTO t (v) VALUES ('x'), ('y'), ('z')"),
      db.prepare("UPDATE t SET v = 'w' WHERE v IN ('x', 'y')"),
      db.prepare('SELECT v FROM t ORDER BY id'),
    ])
    expect(created!.meta.changes).toBe(0)
    expect(inserted!.meta.changes).toBe(3)
    expect(updated!.meta.changes).toBe(2)
    expect(read!.meta.changes).toBe(0)
    expect(read!.results).toEqual([{ v: 'w' }, { v: 'w' }, { v: 'z' }])
  })

  it('runs a batch in one call and one transaction: a failing statement undoes the others', async () => {
    const name = freshShard()
    const counter = countRoundTrips(env)
    const db = shardDatabaseIn(counter.env.SEND_SHARDS, name)
    await db.batch([
      db.prepare('CREATE TABLE t (id INTEGER PRIMARY KEY)'),
      db.prepare('INSERT INTO t (id) VALUES (1)'),
    ])
    await expect(
      db.batch([
        db.prepare('INSERT INTO t (id) VALUES (2)'),
        db.prepare('INSERT INTO t (id) VALUES (1)'), // the primary key refuses it
      ]),
    ).rejects.toThrow(/UNIQUE/)
    const { results } = await db.prepare('SELECT id FROM t').all<{ id: number }>()
    expect(results).toEqual([{ id: 1 }])
    // Each batch and each statement run on its own is one call to the shard.
    expect(counter.timeline().filter((c) => c.kind === 'do')).toHaveLength(3)
  })

  it('refuses what it does not provide, and statements of another database', async () => {
    const db = shardDatabaseIn(env.SEND_SHARDS, freshShard())
    expect(() => db.exec('SELECT 1')).toThrow(/not available on a send shard/)
    expect(() => statementsOf([env.DB.prepare('SELECT 1')])).toThrow(/not a send shard statement/)
    expect(() => db.prepare('SELECT ?').bind({ an: 'object' })).toThrow(/cannot bind/)
  })

  describe('shared by tasks running at once', () => {
    const doCalls = (counter: ReturnType<typeof countRoundTrips>) =>
      counter
        .timeline()
        .filter((c) => c.kind === 'do')
        .map((c) => c.name)

    it("sends the tasks' batches in one call once all wait, each undone alone when it fails", async () => {
      const name = freshShard()
      await shardDatabaseIn(env.SEND_SHARDS, name)
        .prepare('CREATE TABLE t (id INTEGER PRIMARY KEY)')
        .run()
      const counter = countRoundTrips(env)
      const shared = sharedShardDatabaseIn(counter.env.SEND_SHARDS, name, 3)
      const { db } = shared
      const insert = (id: number) => db.prepare('INSERT INTO t (id) VALUES (?)').bind(id)
      const results = await Promise.allSettled(
        [
          db.batch([insert(1)]),
          db.batch([insert(2), insert(1)]), // the primary key refuses its second statement
          db.batch([insert(3)]),
        ].map((p) => p.finally(shared.done)),
      )
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/)
      expect(doCalls(counter)).toEqual(['do.runEach'])
      const { results: rows } = await shardDatabaseIn(env.SEND_SHARDS, name)
        .prepare('SELECT id FROM t ORDER BY id')
        .all<{ id: number }>()
      expect(rows).toEqual([{ id: 1 }, { id: 3 }])
    })

    it('waits for a task still working, and not for one that ended', async () => {
      const counter = countRoundTrips(env)
      const shared = sharedShardDatabaseIn(counter.env.SEND_SHARDS, freshShard(), 3)
      let answered = false
      const first = shared.db
        .prepare('SELECT 1 AS n')
        .first('n')
        .then((n) => {
          answered = true
          return n
        })
      // One task ends without a call: the first still waits for the third, at work elsewhere.
      shared.done()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(answered).toBe(false)
      expect(doCalls(counter)).toEqual([])
      const third = shared.db.prepare('SELECT 2 AS n').first('n')
      expect(await Promise.all([first, third])).toEqual([1, 2])
      expect(doCalls(counter)).toEqual(['do.runEach'])
    })
  })
})
