// The send shard's schema migrations (src/shards/schema.ts): the entry that rebuilds deliveries
// for WhatsApp (decisions.md D47) keeps every delivery and timeline row a shard already holds.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { MIGRATIONS, migrateSendShard } from '../../src/shards/schema.ts'

describe('migrateSendShard', () => {
  it('rebuilds deliveries for WhatsApp, keeping the rows and timelines it held', async () => {
    const shard = env.SEND_SHARDS.getByName(`provider:schema-${crypto.randomUUID()}`)
    await runInDurableObject(shard, (_, state) => {
      const { sql } = state.storage
      // The shard as it was before the WhatsApp entry, holding one SMS and its timeline.
      const tables = sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' " +
            "AND name NOT LIKE '_cf_%'",
        )
        .toArray()
      const rebuild = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE deliveries_new'))
      state.storage.transactionSync(() => {
        sql.exec('PRAGMA defer_foreign_keys = ON')
        for (const { name } of tables) sql.exec(`DROP TABLE "${name}"`)
        for (const migration of MIGRATIONS.slice(0, rebuild)) sql.exec(migration)
        sql.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)')
        sql.exec('INSERT INTO schema_version (version) VALUES (?)', rebuild)
        sql.exec(
          `INSERT INTO messages (id, provider_id, service_id, request_hash, destination, created_at)
           VALUES ('m1', 1, 1, 'h', 'u1', '2026-12-01T00:00:00Z')`,
        )
        sql.exec(
          `INSERT INTO deliveries (id, message_id, provider_id, part, channel, address, title, body,
             status, next_attempt_at, provider_message_id, created_at, sent_at, scheduled_for)
           VALUES ('d1', 'm1', 1, 'notification', 'sms', '+5491155550000', 'T', 'B', 'sent', 0,
             'SM1', '2026-12-01T00:00:00Z', '2026-12-01T00:00:01Z', NULL)`,
        )
        sql.exec(
          `INSERT INTO delivery_events (id, delivery_id, message_id, provider_id, status, occurred_at)
           VALUES ('e1', 'd1', 'm1', 1, 'sent', '2026-12-01T00:00:01Z')`,
        )
      })

      migrateSendShard(state.storage)

      expect(sql.exec('SELECT version FROM schema_version').one()).toEqual({
        version: MIGRATIONS.length,
      })
      expect(
        sql
          .exec('SELECT id, channel, status, provider_message_id, sent_at FROM deliveries')
          .toArray(),
      ).toEqual([
        {
          id: 'd1',
          channel: 'sms',
          status: 'sent',
          provider_message_id: 'SM1',
          sent_at: '2026-12-01T00:00:01Z',
        },
      ])
      expect(sql.exec('SELECT delivery_id FROM delivery_events').toArray()).toEqual([
        { delivery_id: 'd1' },
      ])
      sql.exec(
        `INSERT INTO deliveries (id, message_id, provider_id, part, channel, address, title, body,
           next_attempt_at, created_at, content_sid, content_variables)
         VALUES ('d2', 'm1', 1, 'advertisement', 'whatsapp', '+5491155550000', 'T', 'B', 0,
           '2026-12-01T00:00:00Z', 'HX0123456789abcdef0123456789abcdef', '{"1":"a"}')`,
      )
      const indexes = sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' " +
            "AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .toArray()
        .map((r) => r.name)
      // Those it had, and those later entries add (decisions.md D46's fallback).
      expect(indexes).toEqual([
        'deliveries_fallback_due',
        'deliveries_fallback_of',
        'deliveries_message',
        'deliveries_pending',
        'deliveries_provider_message',
        'deliveries_scheduled',
      ])
      // delivery_events still refers to deliveries, not to the table it was rebuilt from.
      const events = sql
        .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'delivery_events'")
        .one()
      expect(events.sql).toMatch(/REFERENCES "?deliveries"? \(id\)/)
    })
  })
})
