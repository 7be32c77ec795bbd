// The storage a message takes (docs/sending.md "Message retention"): its send shard's SQLite
// database (`sql.databaseSize`) and D1 (as D1 reports its size after a statement, meta.size_after)
// grow by this much for each typical message written with its whole life. A first round of
// messages fills the pages other tests freed in D1, so the measured round only grows the file.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { WEBHOOK_EVENT_TYPES } from '../../src/storage/webhooks.ts'
import { writeMessageLife } from '../helpers/message-life.ts'
import { shardOf } from '../helpers/shards.ts'
import { createWebhookProvider, registerEndpoint } from '../helpers/webhooks.ts'

const ROUND = 250

async function d1Size(): Promise<number> {
  return (await env.DB.prepare('SELECT 1').run()).meta.size_after
}

function shardSize(providerId: string): Promise<number> {
  return runInDurableObject(shardOf(providerId), (_, state) => state.storage.sql.databaseSize)
}

/** Bytes the provider's shard and D1 grow by for each of `ROUND` messages written by `write`. */
async function bytesPerMessage(providerId: string, write: (i: number) => Promise<unknown>) {
  const before = { shard: await shardSize(providerId), d1: await d1Size() }
  for (let i = 0; i < ROUND; i++) await write(i)
  return {
    shard: ((await shardSize(providerId)) - before.shard) / ROUND,
    d1: ((await d1Size()) - before.d1) / ROUND,
  }
}

describe('the storage of a typical message', () => {
  it(
    'is at most 8 KiB in its shard, and its index row and webhook rows in D1 at most 4 KiB',
    { timeout: 120_000 },
    async () => {
      const plain = await createWebhookProvider()
      const subscribed = await createWebhookProvider()
      const { id: endpointId } = await registerEndpoint(subscribed, [...WEBHOOK_EVENT_TYPES])
      const createdAt = (i: number) => new Date(Date.UTC(1990, 0, 1, 0, 0, i))
      const withWebhooks = (i: number) =>
        writeMessageLife(subscribed.providerId, createdAt(i), { endpointId })
      const withoutWebhooks = (i: number) => writeMessageLife(plain.providerId, createdAt(i))

      await bytesPerMessage(subscribed.providerId, withWebhooks)
      const measured = {
        withWebhooks: await bytesPerMessage(subscribed.providerId, withWebhooks),
        withoutWebhooks: await bytesPerMessage(plain.providerId, withoutWebhooks),
      }
      console.log(JSON.stringify({ bytesPerMessage: measured, round: ROUND }))
      expect(measured.withoutWebhooks.shard).toBeGreaterThan(500)
      expect(measured.withoutWebhooks.shard).toBeLessThanOrEqual(8192)
      // D1 keeps the index row; with an endpoint, the webhook events with their deliveries too.
      expect(measured.withoutWebhooks.d1).toBeLessThan(1024)
      expect(measured.withWebhooks.d1).toBeGreaterThan(measured.withoutWebhooks.d1)
      expect(measured.withWebhooks.d1).toBeLessThanOrEqual(4096)
    },
  )
})
