// The storage a message takes (docs/sending.md "Message retention"): the database's size, as D1 reports
// it after a statement (meta.size_after), grows by this much for each typical message written with
// its whole life. A first round of messages fills the pages other tests freed, so the measured
// round only grows the file.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { WEBHOOK_EVENT_TYPES } from '../../src/storage/webhooks.ts'
import { writeMessageLife } from '../helpers/message-life.ts'
import { createWebhookProvider, registerEndpoint } from '../helpers/webhooks.ts'

const ROUND = 250

async function databaseSize(): Promise<number> {
  return (await env.DB.prepare('SELECT 1').run()).meta.size_after
}

/** Bytes the database grows by for each of `ROUND` messages written by `write`. */
async function bytesPerMessage(write: (i: number) => Promise<unknown>): Promise<number> {
  const before = await databaseSize()
  for (let i = 0; i < ROUND; i++) await write(i)
  return ((await databaseSize()) - before) / ROUND
}

describe('the storage of a typical message', () => {
  it(
    'is at most 8 KiB with its deliveries, timeline and webhook rows',
    { timeout: 120_000 },
    async () => {
      const plain = await createWebhookProvider()
      const subscribed = await createWebhookProvider()
      const { id: endpointId } = await registerEndpoint(subscribed, [...WEBHOOK_EVENT_TYPES])
      const createdAt = (i: number) => new Date(Date.UTC(1990, 0, 1, 0, 0, i))
      const withWebhooks = (i: number) =>
        writeMessageLife(subscribed.providerId, createdAt(i), { endpointId })
      const withoutWebhooks = (i: number) => writeMessageLife(plain.providerId, createdAt(i))

      await bytesPerMessage(withWebhooks)
      const measured = {
        withWebhooks: await bytesPerMessage(withWebhooks),
        withoutWebhooks: await bytesPerMessage(withoutWebhooks),
      }
      console.log(JSON.stringify({ bytesPerMessage: measured, round: ROUND }))
      expect(measured.withoutWebhooks).toBeGreaterThan(500)
      expect(measured.withWebhooks).toBeGreaterThan(measured.withoutWebhooks)
      expect(measured.withWebhooks).toBeLessThanOrEqual(8192)
    },
  )
})
