// The outside world for tests: the local stand-in (stand-in/app.ts), reached by the Worker's own
// outbound fetch through a spy. One stand-in per test file, like one Twilio and one Google; any
// other outbound URL fails the test. The stand-in holds the SMS status callbacks until a test
// calls `standIn.sendCallbacks()`, which hands them to the Worker's own fetch handler.
import { createExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { vi } from 'vitest'
import worker from '../../src/index.ts'
import { createStandIn, type StandIn } from '../../stand-in/app.ts'

export const STAND_IN_ORIGIN = 'https://stand-in.test'

/** The stand-in account's API key and Messaging Service, for tests that configure them. */
export const TWILIO_API_KEY = { sid: `SK${'a1'.repeat(16)}`, secret: 'test-api-key-secret' }
export const TWILIO_MESSAGING_SERVICE_SID = `MG${'b2'.repeat(16)}`

/** The workload identity pool the stand-in's STS serves, trusting Portero's issuer (D39). */
export const WORKLOAD_IDENTITY = {
  audience:
    '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/portero/providers/portero',
  serviceAccountEmail: 'fcm-sender@portero-test.iam.gserviceaccount.com',
  tokenUrl: `${STAND_IN_ORIGIN}/google/sts/v1/token`,
  serviceAccountImpersonationUrl: `${STAND_IN_ORIGIN}/google/iamcredentials/v1/projects/-/serviceAccounts/fcm-sender@portero-test.iam.gserviceaccount.com:generateAccessToken`,
}

/**
 * The secondary SMS route's settings (decisions.md D45), pointed at the stand-in's Vonage: tests
 * pass them as vars to turn the route on.
 */
export const VONAGE_VARS = {
  VONAGE_API_BASE_URL: `${STAND_IN_ORIGIN}/vonage`,
  VONAGE_API_KEY: 'testkey1',
  VONAGE_API_SECRET: 'test-vonage-secret',
  VONAGE_FROM: '15005550006',
}

let standIn: StandIn | undefined

/** Routes outbound fetch to the stand-in for the current test (restoreMocks undoes it after). */
export function useStandIn(): StandIn {
  standIn ??= createStandIn({
    twilioAccountSid: env.SMS_ACCOUNT_SID,
    twilioAuthToken: env.SMS_AUTH_TOKEN,
    twilioApiKey: TWILIO_API_KEY,
    twilioMessagingServiceSid: TWILIO_MESSAGING_SERVICE_SID,
    twilioWhatsAppFrom: env.TWILIO_WHATSAPP_FROM,
    fcmProjectId: env.FCM_PROJECT_ID,
    serviceAccountEmail: (JSON.parse(env.FCM_SERVICE_ACCOUNT) as { client_email: string })
      .client_email,
    serviceAccountPublicKey: JSON.parse(env.TEST_SERVICE_ACCOUNT_PUBLIC_JWK),
    tokenUrl: env.GOOGLE_TOKEN_URL,
    workloadIdentity: {
      audience: WORKLOAD_IDENTITY.audience,
      issuer: env.ISSUER,
      jwksUrl: `${env.ISSUER}/.well-known/jwks.json`,
      serviceAccountEmail: WORKLOAD_IDENTITY.serviceAccountEmail,
    },
    vonage: {
      apiKey: VONAGE_VARS.VONAGE_API_KEY,
      apiSecret: VONAGE_VARS.VONAGE_API_SECRET,
      // Receipts reach a Worker that has the route configured, as the deployment that sent them.
      fetch: async (request) =>
        worker.fetch!(request, { ...env, ...VONAGE_VARS }, createExecutionContext()),
    },
    holdCallbacks: true,
    fetch: (request) => exports.default.fetch(request),
  })
  const target = standIn
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init)
    if (!request.url.startsWith(`${STAND_IN_ORIGIN}/`)) {
      throw new Error(`unexpected outbound request to ${request.url}`)
    }
    return target.fetch(request)
  })
  return target
}

/** The stand-in's control request that makes every SMS to `to` end undelivered with `errorCode`. */
export function undeliverableRequest(
  to: string,
  errorCode: number,
  origin: string = STAND_IN_ORIGIN,
): Request {
  return new Request(`${origin}/_control/undeliverable`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to, errorCode }),
  })
}
