// An auth token rotation at the SMS API: Twilio signs its callbacks with whichever token is primary
// in its console, so while SMS_AUTH_TOKEN_SECONDARY is set a signature by either is accepted.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { createStandIn } from '../../stand-in/app.ts'
import { ORIGIN } from '../helpers/http.ts'

const NEW_TOKEN = 'the-token-promoted-in-twilio-console'

/** The SMS API signing with `token`, calling a Worker configured with `settings`. */
function twilioSigningWith(token: string, settings: Partial<Env>) {
  return createStandIn({
    twilioAccountSid: env.SMS_ACCOUNT_SID,
    twilioAuthToken: token,
    fcmProjectId: env.FCM_PROJECT_ID,
    serviceAccountEmail: 'unused@portero-test.iam.gserviceaccount.com',
    serviceAccountPublicKey: JSON.parse(env.TEST_SERVICE_ACCOUNT_PUBLIC_JWK),
    tokenUrl: env.GOOGLE_TOKEN_URL,
    fetch: async (request) => {
      const ctx = createExecutionContext()
      const response = await worker.fetch(request, { ...env, ...settings }, ctx)
      await waitOnExecutionContext(ctx)
      return response
    },
  })
}

async function answerTo(token: string, settings: Partial<Env>): Promise<number | string | null> {
  const message = { from: '+5491155550123', to: env.SMS_FROM, body: 'hola' }
  const sent = await twilioSigningWith(token, settings).receiveSms(
    `${ORIGIN}/callbacks/sms/inbound`,
    message,
  )
  return sent.answer
}

describe('SMS_AUTH_TOKEN_SECONDARY', () => {
  it('accepts a callback signed with the secondary token', async () => {
    expect(await answerTo(NEW_TOKEN, { SMS_AUTH_TOKEN_SECONDARY: NEW_TOKEN })).toBe(200)
  })

  it('still accepts one signed with the primary token', async () => {
    const settings = { SMS_AUTH_TOKEN_SECONDARY: NEW_TOKEN }
    expect(await answerTo(env.SMS_AUTH_TOKEN, settings)).toBe(200)
  })

  it('refuses a signature by a token that is neither', async () => {
    expect(await answerTo(NEW_TOKEN, {})).toBe(403)
    const settings = { SMS_AUTH_TOKEN_SECONDARY: NEW_TOKEN }
    expect(await answerTo('a-revoked-token', settings)).toBe(403)
  })
})
