// The suppressions table keeps numbers in their canonical form, whichever way a number reaches it:
// here the SMS API's error 21610 for a delivery whose address was written in another spelling.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { insertRecipient, findRecipient } from '../../src/storage/recipients.ts'
import { findSuppressions, recordSmsApiOptOut } from '../../src/storage/suppressions.ts'
import { createProvider } from '../helpers/clients.ts'

describe('recordSmsApiOptOut', () => {
  it('suppresses the canonical number and opts out the recipient with it', async () => {
    const providerId = await createProvider()
    const local = String(Math.floor(Math.random() * 1e6)).padStart(6, '0')
    const userId = `user-${crypto.randomUUID()}`
    await insertRecipient(env.DB, providerId, userId, {
      phone: `+447911${local}`,
      fcmTokens: [],
      smsOptOut: false,
      fcmOptOut: false,
    })
    await recordSmsApiOptOut(env.DB, providerId, `+4407911${local}`)
    expect((await findRecipient(env.DB, providerId, userId))?.smsOptOut).toBe(true)
    const found = await findSuppressions(env.DB, providerId, `+447911${local}`)
    expect(found.map((s) => [s.phone, s.source])).toEqual([
      [`+447911${local}`, 'directory'],
      [`+447911${local}`, 'sms_api_error'],
    ])
  })
})
