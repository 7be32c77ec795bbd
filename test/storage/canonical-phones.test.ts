// migrations/0021_canonical_phones.sql: phones stored before numbers had one canonical form are
// rewritten as canonicalPhone writes them now, and two spellings of one suppression become one.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { canonicalPhone, TRUNK_PREFIXES } from '../../src/utils/e164.ts'
import { createProvider } from '../helpers/clients.ts'
import { LEFT_AS_GIVEN, RESPELLED } from '../helpers/phone-spellings.ts'

const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0021_'))!

/** Runs the migration again over what is stored now (it changes canonical phones in no way). */
async function runMigration(): Promise<void> {
  await env.DB.batch(migration.queries.map((query) => env.DB.prepare(query)))
}

describe('migration 0021: canonical phones', () => {
  it('rewrites every stored recipient phone as canonicalPhone does', async () => {
    const providerId = await createProvider()
    // And a number of each country with a trunk prefix: the migration's table is the function's.
    const byCountry = Object.entries(TRUNK_PREFIXES).map(
      ([code, { prefix, length }]) => `+${code}${prefix}${'5'.repeat(length ?? 9)}`,
    )
    const phones = [...RESPELLED.map(([given]) => given), ...LEFT_AS_GIVEN, ...byCountry]
    expect(phones.filter((phone) => canonicalPhone(phone) !== phone)).toHaveLength(
      RESPELLED.length + byCountry.length,
    )
    const insert = env.DB.prepare(
      'INSERT INTO recipients (provider_id, user_id, phone) VALUES (CAST(?1 AS INTEGER), ?2, ?3)',
    )
    await env.DB.batch(phones.map((phone, i) => insert.bind(providerId, `user-${i}`, phone)))
    await runMigration()
    const { results } = await env.DB.prepare(
      'SELECT user_id, phone FROM recipients WHERE provider_id = CAST(?1 AS INTEGER)',
    )
      .bind(providerId)
      .all<{ user_id: string; phone: string }>()
    const stored = Object.fromEntries(results.map((r) => [r.user_id, r.phone]))
    expect(stored).toEqual(
      Object.fromEntries(phones.map((phone, i) => [`user-${i}`, canonicalPhone(phone)])),
    )
  })

  it('rewrites suppressions, keeping one of two spellings of one number', async () => {
    const providerId = await createProvider()
    const insert = env.DB.prepare(
      `INSERT INTO suppressions (provider_id, phone, source) VALUES (CAST(?1 AS INTEGER), ?2, ?3)`,
    )
    await env.DB.batch([
      insert.bind(providerId, '+4407700900123', 'admin'),
      insert.bind(providerId, '+447700900123', 'admin'),
      insert.bind(providerId, '+5401155550000', 'admin'),
      insert.bind(providerId, '+541155550000', 'admin'),
      insert.bind(providerId, '+390612345678', 'admin'),
    ])
    await runMigration()
    const { results } = await env.DB.prepare(
      `SELECT phone FROM suppressions WHERE provider_id = CAST(?1 AS INTEGER) ORDER BY phone`,
    )
      .bind(providerId)
      .all<{ phone: string }>()
    expect(results.map((r) => r.phone)).toEqual([
      '+390612345678',
      '+447700900123',
      '+5491155550000',
    ])
  })
})
