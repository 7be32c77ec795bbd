// FCM without a key (decisions.md D39): Portero signs a JWT about itself with its own signing key,
// the stand-in's STS checks it against Portero's published JWK set and exchanges it, IAM
// Credentials impersonates the service account, and FCM takes the push with that token.
import { env } from 'cloudflare:workers'
import { generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import { createNotifiers } from '../../src/channels/channels.ts'
import type { OutboundMessage } from '../../src/channels/notifier.ts'
import type { WorkloadSigner } from '../../src/channels/workload-identity.ts'
import { loadChannelConfig, loadConfig } from '../../src/config.ts'
import { STAND_IN_ORIGIN, useStandIn, WORKLOAD_IDENTITY } from '../helpers/stand-in.ts'

const MESSAGE: OutboundMessage = {
  id: crypto.randomUUID(),
  channel: 'fcm',
  to: 'fYz0Qk7nR1e:APA91bH-portero-test-registration-token',
  title: 'Oferta de la semana',
  body: 'Revisión gratuita con su próxima cita.',
}

const { audience, tokenUrl, serviceAccountImpersonationUrl } = WORKLOAD_IDENTITY

/** A KV namespace of its own per test: a token cached by one test is not another's. */
function freshCache(): KVNamespace {
  const prefix = `wif-test-${crypto.randomUUID()}:`
  return {
    get: (key: string, type: 'json') => env.CACHE.get(prefix + key, type),
    put: (key: string, value: string, options?: KVNamespacePutOptions) =>
      env.CACHE.put(prefix + key, value, options),
    delete: (key: string) => env.CACHE.delete(prefix + key),
  } as unknown as KVNamespace
}

function notifier(
  identity: Partial<typeof WORKLOAD_IDENTITY> = {},
  signer: () => Promise<WorkloadSigner> = async () => {
    const { issuer, keys } = await loadConfig(env)
    return { issuer, signing: keys.signing }
  },
) {
  const config = {
    sms: null,
    whatsapp: null,
    smsSecondary: null,
    fcm: {
      baseUrl: `${STAND_IN_ORIGIN}/fcm`,
      projectId: env.FCM_PROJECT_ID,
      workloadIdentity: { audience, tokenUrl, serviceAccountImpersonationUrl, ...identity },
    },
  }
  return createNotifiers(config, freshCache(), signer).fcm!
}

describe('FCM through workload identity federation', () => {
  it('sends a push with a token from the STS exchange and impersonation, and no key', async () => {
    const standIn = useStandIn()
    const before = standIn.state.tokens.length
    const result = await notifier().send(MESSAGE)
    expect(result).toMatchObject({ ok: true })
    const [exchange, impersonation] = standIn.state.tokens.slice(before)
    expect(exchange).toMatchObject({
      path: '/google/sts/v1/token',
      status: 200,
      body: {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        subject_token: { iss: env.ISSUER, sub: 'portero-fcm', aud: `https:${audience}` },
      },
    })
    expect(exchange!.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(impersonation).toMatchObject({
      path: `/google/iamcredentials/v1/projects/-/serviceAccounts/${WORKLOAD_IDENTITY.serviceAccountEmail}:generateAccessToken`,
      status: 200,
      body: { scope: ['https://www.googleapis.com/auth/firebase.messaging'], lifetime: '3600s' },
    })
    expect(standIn.state.fcm.at(-1)).toMatchObject({ status: 200 })
  })

  it('is refused, permanently, for a subject token Portero did not sign or another pool', async () => {
    useStandIn()
    const { privateKey } = await generateKeyPair('ES256')
    const foreign = async () => ({
      issuer: env.ISSUER,
      signing: { kid: 'not-portero', alg: 'ES256', key: privateKey as CryptoKey },
    })
    const cases = [
      notifier({}, foreign),
      notifier({ audience: audience.replace('/providers/portero', '/providers/other') }),
    ]
    for (const push of cases) {
      const result = await push.send(MESSAGE)
      expect(result).toMatchObject({ ok: false, retryable: false })
      expect((result as { reason: string }).reason).toMatch(/Google STS refused Portero's token/)
    }
  })

  it('is refused when the pool may not impersonate that service account', async () => {
    useStandIn()
    const other = serviceAccountImpersonationUrl.replace('fcm-sender@', 'someone-else@')
    const result = await notifier({ serviceAccountImpersonationUrl: other }).send(MESSAGE)
    expect(result).toMatchObject({ ok: false, retryable: false })
    expect((result as { reason: string }).reason).toMatch(/PERMISSION_DENIED/)
  })

  it('retries later when the STS is unavailable', async () => {
    const standIn = useStandIn()
    standIn.state.failures.push({ target: 'token', status: 503, retryAfter: 7, remaining: 1 })
    const result = await notifier().send(MESSAGE)
    expect(result).toMatchObject({ ok: false, retryable: true, retryAfterSeconds: 7 })
  })
})

describe('FCM_WORKLOAD_IDENTITY', () => {
  const base = { ...env, FCM_SERVICE_ACCOUNT: '', GOOGLE_TOKEN_URL: '' } as Env
  const identity = {
    type: 'external_account',
    audience,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    service_account_impersonation_url: serviceAccountImpersonationUrl,
    token_url: tokenUrl,
  }

  it("takes Google's external account configuration, the STS by default", () => {
    const config = loadChannelConfig({ ...base, FCM_WORKLOAD_IDENTITY: JSON.stringify(identity) })
    expect(config.fcm).toMatchObject({ workloadIdentity: { audience, tokenUrl } })
    const { token_url: _, ...defaults } = identity
    const google = loadChannelConfig({ ...base, FCM_WORKLOAD_IDENTITY: JSON.stringify(defaults) })
    expect(google.fcm).toMatchObject({
      workloadIdentity: { tokenUrl: 'https://sts.googleapis.com/v1/token' },
    })
  })

  it('refuses a malformed configuration, or one beside a service-account key', () => {
    for (const value of [
      JSON.stringify({ ...identity, audience: 'projects/1/pools/x' }),
      JSON.stringify({ ...identity, service_account_impersonation_url: 'https://example.com/' }),
      JSON.stringify({
        ...identity,
        subject_token_type: 'urn:ietf:params:aws:token-type:aws4_request',
      }),
    ]) {
      expect(() => loadChannelConfig({ ...base, FCM_WORKLOAD_IDENTITY: value })).toThrow()
    }
    expect(() =>
      loadChannelConfig({
        ...base,
        FCM_SERVICE_ACCOUNT: env.FCM_SERVICE_ACCOUNT,
        FCM_WORKLOAD_IDENTITY: JSON.stringify(identity),
      }),
    ).toThrow()
  })
})
