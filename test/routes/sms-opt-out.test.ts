// The SMS API's inbound-message webhook as Twilio sends it, through the stand-in: the opt-out
// words, and Advanced Opt-Out's OptOutType deciding instead of the words when the API sends it.
import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createStandIn } from '../../stand-in/app.ts'
import { findSuppressions } from '../../src/storage/suppressions.ts'
import { ORIGIN } from '../helpers/http.ts'

const INBOUND_URL = `${ORIGIN}/callbacks/sms/inbound`

function standIn(advancedOptOut?: { stop?: string[]; start?: string[]; help?: string[] }) {
  return createStandIn({
    twilioAccountSid: env.SMS_ACCOUNT_SID,
    twilioAuthToken: env.SMS_AUTH_TOKEN,
    fcmProjectId: env.FCM_PROJECT_ID,
    serviceAccountEmail: 'unused@portero-test.iam.gserviceaccount.com',
    serviceAccountPublicKey: JSON.parse(env.TEST_SERVICE_ACCOUNT_PUBLIC_JWK),
    tokenUrl: env.GOOGLE_TOKEN_URL,
    fetch: (request) => exports.default.fetch(request),
    ...(advancedOptOut ? { advancedOptOut } : {}),
  })
}

/** A number no other test uses. */
const freshPhone = () => `+54911${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`

/** Whether a STOP reply suppresses `phone` for every provider (provider 1 reads them too). */
async function stopped(phone: string): Promise<boolean> {
  const found = await findSuppressions(env.DB, '1', phone)
  return found.some((s) => s.source === 'stop_reply')
}

async function text(target: ReturnType<typeof standIn>, from: string, body: string) {
  const sent = await target.receiveSms(INBOUND_URL, { from, to: env.SMS_FROM, body })
  expect(sent.answer).toBe(200)
  return sent
}

describe('POST /callbacks/sms/inbound: opt-out words', () => {
  it.each(['REVOKE', 'optout', ' Stop '])('suppresses a number that replies %j', async (word) => {
    const target = standIn()
    const phone = freshPhone()
    const sent = await text(target, phone, word)
    expect(sent.form.OptOutType).toBeUndefined()
    expect(await stopped(phone)).toBe(true)
    await text(target, phone, 'UNSTOP')
    expect(await stopped(phone)).toBe(false)
  })
})

describe('POST /callbacks/sms/inbound: Advanced Opt-Out', () => {
  it("follows OptOutType for the sender's own keywords in another language", async () => {
    const target = standIn({ stop: ['BAJA'], start: ['ALTA'] })
    const phone = freshPhone()
    const stop = await text(target, phone, 'baja')
    expect(stop.form.OptOutType).toBe('STOP')
    expect(await stopped(phone)).toBe(true)
    const start = await text(target, phone, 'Alta')
    expect(start.form.OptOutType).toBe('START')
    expect(await stopped(phone)).toBe(false)
  })

  it('changes nothing for a HELP, even one whose word would lift a STOP', async () => {
    // A sender that made YES, a standard opt-in word, one of its help keywords.
    const target = standIn({ help: ['YES'] })
    const phone = freshPhone()
    await text(target, phone, 'STOP')
    expect(await stopped(phone)).toBe(true)
    const help = await text(target, phone, 'yes')
    expect(help.form.OptOutType).toBe('HELP')
    expect(await stopped(phone)).toBe(true)
  })
})
