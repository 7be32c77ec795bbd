// The stand-in's STS and IAM Credentials (stand-in/workload-identity.ts) refuse what Google's
// refuse: a request of the wrong shape, a subject token its issuer's keys do not verify or meant
// for another audience, and impersonation without a federated token or of another account.
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createStandIn } from '../../stand-in/app.ts'

const BASE = 'https://stand-in.test'
const ISSUER = 'https://portero.example'
const AUDIENCE =
  '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/r'
const EMAIL = 'fcm@project.iam.gserviceaccount.com'
const IAM = `${BASE}/google/iamcredentials/v1/projects/-/serviceAccounts`

const portero = await generateKeyPair('ES256', { extractable: true })
const jwks = { keys: [{ ...(await exportJWK(portero.publicKey)), kid: 'k1', alg: 'ES256' }] }

function standIn() {
  const serviceAccount = { kty: 'RSA', n: 'AQAB', e: 'AQAB' }
  return createStandIn({
    twilioAccountSid: 'AC0',
    twilioAuthToken: 't',
    fcmProjectId: 'p',
    serviceAccountEmail: 'sa@p',
    serviceAccountPublicKey: serviceAccount,
    tokenUrl: `${BASE}/google/token`,
    workloadIdentity: {
      audience: AUDIENCE,
      issuer: ISSUER,
      jwksUrl: `${ISSUER}/jwks`,
      serviceAccountEmail: EMAIL,
    },
    fetch: async (request) =>
      request.url === `${ISSUER}/jwks` ? Response.json(jwks) : new Response(null, { status: 404 }),
  })
}

async function subjectToken(claims: Record<string, unknown> = {}, key = portero.privateKey) {
  const now = Math.floor(Date.now() / 1000)
  const defaults = { iss: ISSUER, sub: 'portero-fcm', aud: `https:${AUDIENCE}`, iat: now }
  return new SignJWT({ ...defaults, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .sign(key)
}

function exchange(
  fields: Record<string, string>,
  contentType = 'application/x-www-form-urlencoded',
) {
  return new Request(`${BASE}/google/sts/v1/token`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new URLSearchParams(fields).toString(),
  })
}

const FIELDS = {
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
  audience: AUDIENCE,
  scope: 'https://www.googleapis.com/auth/cloud-platform',
  requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
}

describe('the stand-in STS and IAM Credentials', () => {
  it('exchanges a good subject token, then impersonates the service account', async () => {
    const google = standIn()
    const sts = await google.fetch(exchange({ ...FIELDS, subject_token: await subjectToken() }))
    expect(sts.status).toBe(200)
    const { access_token } = (await sts.json()) as { access_token: string }
    const iam = await google.fetch(
      new Request(`${IAM}/${EMAIL}:generateAccessToken`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ scope: ['https://www.googleapis.com/auth/firebase.messaging'] }),
      }),
    )
    expect(iam.status).toBe(200)
    const { accessToken } = (await iam.json()) as { accessToken: string }
    expect(google.state.accessTokens.has(accessToken)).toBe(true)
    // The federated token alone is no FCM token.
    expect(google.state.accessTokens.has(access_token)).toBe(false)
  })

  it('refuses a subject token of another key, issuer or audience, expired, or a bad request', async () => {
    const google = standIn()
    const other = await generateKeyPair('ES256')
    const cases: [Request, string][] = [
      [
        exchange({ ...FIELDS, subject_token: await subjectToken({}, other.privateKey) }),
        'invalid_grant',
      ],
      [
        exchange({ ...FIELDS, subject_token: await subjectToken({ iss: 'https://evil.example' }) }),
        'invalid_grant',
      ],
      [
        exchange({ ...FIELDS, subject_token: await subjectToken({ aud: 'https://x' }) }),
        'invalid_grant',
      ],
      [
        exchange({ ...FIELDS, subject_token: await subjectToken({ iat: 1, exp: 2 }) }),
        'invalid_grant',
      ],
      [
        exchange({ ...FIELDS, audience: `${AUDIENCE}x`, subject_token: await subjectToken() }),
        'invalid_target',
      ],
      [
        exchange({ ...FIELDS, grant_type: 'client_credentials', subject_token: 'x' }),
        'unsupported_grant_type',
      ],
      [exchange({ ...FIELDS, subject_token_type: 'urn:x', subject_token: 'x' }), 'invalid_request'],
      [exchange({ ...FIELDS }), 'invalid_request'],
      [
        exchange({ ...FIELDS, subject_token: await subjectToken() }, 'text/plain'),
        'invalid_request',
      ],
    ]
    for (const [request, error] of cases) {
      const response = await google.fetch(request)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error })
    }
  })

  it('refuses impersonation without a federated token, of another account, or without a scope', async () => {
    const google = standIn()
    const sts = await google.fetch(exchange({ ...FIELDS, subject_token: await subjectToken() }))
    const { access_token } = (await sts.json()) as { access_token: string }
    const call = (email: string, token: string, body: unknown) =>
      google.fetch(
        new Request(`${IAM}/${email}:generateAccessToken`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      )
    const scope = ['https://www.googleapis.com/auth/firebase.messaging']
    expect((await call(EMAIL, 'ya29.unknown', { scope })).status).toBe(401)
    expect(
      (await call('other@project.iam.gserviceaccount.com', access_token, { scope })).status,
    ).toBe(403)
    expect((await call(EMAIL, access_token, {})).status).toBe(400)
    expect((await call(EMAIL, access_token, { scope, lifetime: '7200s' })).status).toBe(400)
  })
})
