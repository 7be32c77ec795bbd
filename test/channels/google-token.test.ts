import { env } from 'cloudflare:workers'
import {
  decodeProtectedHeader,
  exportPKCS8,
  generateKeyPair,
  jwtVerify,
  type JWTPayload,
} from 'jose'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { sha256Hex } from '../../src/encoding.ts'
import {
  createGoogleTokenSource,
  FCM_SCOPE,
  ProviderAuthError,
  type GoogleTokenSourceConfig,
} from '../../src/channels/google-token.ts'

const TOKEN_URL = 'https://oauth2.portero.test/token'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const NOW = new Date('2026-03-01T12:00:00Z')
const NOW_SECONDS = NOW.getTime() / 1000

let privateKeyPem: string
let publicKey: CryptoKey

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true })
  privateKeyPem = await exportPKCS8(pair.privateKey)
  publicKey = pair.publicKey
})

function oauthError(status: number, error: string, description: string, headers: HeadersInit = {}) {
  return Response.json({ error, error_description: description }, { status, headers })
}

function granted(accessToken: string, expiresIn = 3599): Response {
  return Response.json({ access_token: accessToken, expires_in: expiresIn, token_type: 'Bearer' })
}

type Grant = { payload: JWTPayload; header: Record<string, unknown> }

/**
 * Google's token endpoint for the JWT-bearer grant: it checks the form and verifies the assertion
 * with the service account's public key at `clock()`, as Google would, then answers with `respond`.
 * By default each grant gets a new token, `token-1`, `token-2`…
 */
function fakeGoogle(
  clock: () => Date,
  respond: (grant: Grant, count: number) => Response | Promise<Response> = (_, count) =>
    granted(`token-${count}`),
) {
  const grants: Grant[] = []
  async function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init)
    if (request.url !== TOKEN_URL || request.method !== 'POST') {
      return new Response(null, { status: 404 })
    }
    if (request.headers.get('content-type') !== 'application/x-www-form-urlencoded') {
      return oauthError(400, 'invalid_request', 'Bad Request')
    }
    const form = new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer()))
    if (form.get('grant_type') !== JWT_BEARER) {
      return oauthError(400, 'unsupported_grant_type', 'Invalid grant_type')
    }
    const assertion = form.get('assertion') ?? ''
    try {
      const { payload } = await jwtVerify(assertion, publicKey, {
        algorithms: ['RS256'],
        audience: TOKEN_URL,
        currentDate: clock(),
        requiredClaims: ['iss', 'scope', 'iat', 'exp'],
      })
      grants.push({ payload, header: decodeProtectedHeader(assertion) })
    } catch {
      return oauthError(400, 'invalid_grant', 'Invalid JWT Signature.')
    }
    return respond(grants.at(-1)!, grants.length)
  }
  return { fetch, grants }
}

function uniqueEmail(): string {
  return `fcm-${crypto.randomUUID()}@portero-test.iam.gserviceaccount.com`
}

function source(clientEmail: string, overrides: Partial<GoogleTokenSourceConfig> = {}) {
  return createGoogleTokenSource({
    serviceAccount: { client_email: clientEmail, private_key: privateKeyPem },
    tokenUrl: TOKEN_URL,
    cache: env.CACHE,
    now: () => NOW,
    ...overrides,
  })
}

async function cacheKey(clientEmail: string): Promise<string> {
  return `google-token:${await sha256Hex(clientEmail)}`
}

async function refusal(promise: Promise<unknown>): Promise<ProviderAuthError> {
  const error = await promise.then(
    () => expect.unreachable('a token was returned'),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ProviderAuthError)
  return error as ProviderAuthError
}

describe('createGoogleTokenSource', () => {
  it('trades a valid RS256 JWT-bearer assertion with the right claims for a token', async () => {
    const email = uniqueEmail()
    const google = fakeGoogle(() => NOW)

    expect(await source(email, { fetch: google.fetch }).getAccessToken()).toBe('token-1')
    expect(google.grants).toHaveLength(1)
    expect(google.grants[0]!.header).toEqual({ alg: 'RS256', typ: 'JWT' })
    expect(google.grants[0]!.payload).toEqual({
      iss: email,
      scope: 'https://www.googleapis.com/auth/firebase.messaging',
      aud: TOKEN_URL,
      iat: NOW_SECONDS,
      exp: NOW_SECONDS + 3600,
    })
    expect(FCM_SCOPE).toBe('https://www.googleapis.com/auth/firebase.messaging')
  })

  it("uses the service account's token_uri as URL and audience when no tokenUrl is given", async () => {
    const google = fakeGoogle(() => NOW)
    const tokens = createGoogleTokenSource({
      serviceAccount: {
        client_email: uniqueEmail(),
        private_key: privateKeyPem,
        token_uri: TOKEN_URL,
      },
      cache: env.CACHE,
      fetch: google.fetch,
      now: () => NOW,
    })
    expect(await tokens.getAccessToken()).toBe('token-1')
  })

  it('lets tokenUrl override token_uri', async () => {
    const google = fakeGoogle(() => NOW)
    const tokens = createGoogleTokenSource({
      serviceAccount: {
        client_email: uniqueEmail(),
        private_key: privateKeyPem,
        token_uri: 'https://oauth2.googleapis.com/token',
      },
      tokenUrl: TOKEN_URL,
      cache: env.CACHE,
      fetch: google.fetch,
      now: () => NOW,
    })
    expect(await tokens.getAccessToken()).toBe('token-1')
    expect(google.grants[0]!.payload.aud).toBe(TOKEN_URL)
  })

  it('caches the token in KV under the hashed client_email until 5 minutes before expiry', async () => {
    const email = uniqueEmail()
    const google = fakeGoogle(() => NOW)
    const put = vi.spyOn(env.CACHE, 'put')

    await source(email, { fetch: google.fetch }).getAccessToken()

    const key = await cacheKey(email)
    expect(await env.CACHE.get(key, 'json')).toEqual({
      accessToken: 'token-1',
      expiresAt: NOW_SECONDS + 3599,
    })
    expect(put).toHaveBeenCalledWith(key, expect.any(String), { expirationTtl: 3599 - 300 })
    expect(key).not.toContain(email)
  })

  it('serves a second source (a new isolate) from KV without a token request', async () => {
    const email = uniqueEmail()
    const google = fakeGoogle(() => NOW)
    await source(email, { fetch: google.fetch }).getAccessToken()

    expect(await source(email, { fetch: google.fetch }).getAccessToken()).toBe('token-1')
    expect(google.grants).toHaveLength(1)
  })

  it('reads KV once per source, then answers from memory', async () => {
    const email = uniqueEmail()
    const google = fakeGoogle(() => NOW)
    await source(email, { fetch: google.fetch }).getAccessToken()
    const get = vi.spyOn(env.CACHE, 'get')

    const tokens = source(email, { fetch: google.fetch })
    for (let i = 0; i < 5; i++) expect(await tokens.getAccessToken()).toBe('token-1')
    expect(get).toHaveBeenCalledTimes(1)
  })

  it('refreshes the token within 5 minutes of its expiry, in memory and in KV', async () => {
    const email = uniqueEmail()
    let now = NOW
    const clock = () => now
    const google = fakeGoogle(clock)
    const tokens = source(email, { fetch: google.fetch, now: clock })
    expect(await tokens.getAccessToken()).toBe('token-1')

    now = new Date((NOW_SECONDS + 3599 - 301) * 1000)
    expect(await tokens.getAccessToken()).toBe('token-1')
    expect(await source(email, { fetch: google.fetch, now: clock }).getAccessToken()).toBe(
      'token-1',
    )
    expect(google.grants).toHaveLength(1)

    now = new Date((NOW_SECONDS + 3599 - 300) * 1000)
    expect(await source(email, { fetch: google.fetch, now: clock }).getAccessToken()).toBe(
      'token-2',
    )
    expect(google.grants[1]!.payload.iat).toBe(NOW_SECONDS + 3599 - 300)
    // The first source's memo is stale too; it finds the new token in KV.
    expect(await tokens.getAccessToken()).toBe('token-2')
    expect(google.grants).toHaveLength(2)
  })

  it('shares one token request among concurrent callers', async () => {
    const google = fakeGoogle(() => NOW)
    const tokens = source(uniqueEmail(), { fetch: google.fetch })

    const answers = await Promise.all([1, 2, 3, 4].map(() => tokens.getAccessToken()))
    expect(answers).toEqual(['token-1', 'token-1', 'token-1', 'token-1'])
    expect(google.grants).toHaveLength(1)
  })

  it('asks again after a failed request instead of keeping the failure', async () => {
    let fail = true
    const google = fakeGoogle(
      () => NOW,
      (_, count) =>
        fail ? oauthError(503, 'internal_failure', 'Try again') : granted(`token-${count}`),
    )
    const tokens = source(uniqueEmail(), { fetch: google.fetch })

    await refusal(tokens.getAccessToken())
    fail = false
    expect(await tokens.getAccessToken()).toBe('token-2')
  })

  it('invalidate() forgets the token in memory and in KV', async () => {
    const email = uniqueEmail()
    const google = fakeGoogle(() => NOW)
    const tokens = source(email, { fetch: google.fetch })
    await tokens.getAccessToken()

    await tokens.invalidate()
    expect(await env.CACHE.get(await cacheKey(email))).toBeNull()
    expect(await tokens.getAccessToken()).toBe('token-2')
    expect(await source(email, { fetch: google.fetch }).getAccessToken()).toBe('token-2')
    expect(google.grants).toHaveLength(2)
  })

  it('does not cache a token with under a minute left past the refresh margin', async () => {
    const email = uniqueEmail()
    const google = fakeGoogle(
      () => NOW,
      (_, count) => granted(`token-${count}`, 300 + 59),
    )
    const put = vi.spyOn(env.CACHE, 'put')

    expect(await source(email, { fetch: google.fetch }).getAccessToken()).toBe('token-1')
    expect(put).not.toHaveBeenCalled()
    expect(await source(email, { fetch: google.fetch }).getAccessToken()).toBe('token-2')
  })

  it('ignores an expired KV entry', async () => {
    const email = uniqueEmail()
    await env.CACHE.put(
      await cacheKey(email),
      JSON.stringify({ accessToken: 'stale', expiresAt: NOW_SECONDS + 120 }),
    )
    const google = fakeGoogle(() => NOW)
    expect(await source(email, { fetch: google.fetch }).getAccessToken()).toBe('token-1')
  })

  it('imports the private key once per isolate', async () => {
    // A differently formatted copy of the PEM is a key this isolate has not imported yet.
    const pem = `${privateKeyPem}\n`
    const importKey = vi.spyOn(crypto.subtle, 'importKey')
    const google = fakeGoogle(() => NOW)
    const config = { private_key: pem, token_uri: TOKEN_URL }
    const first = createGoogleTokenSource({
      serviceAccount: { client_email: uniqueEmail(), ...config },
      cache: env.CACHE,
      fetch: google.fetch,
      now: () => NOW,
    })
    const second = createGoogleTokenSource({
      serviceAccount: { client_email: uniqueEmail(), ...config },
      cache: env.CACHE,
      fetch: google.fetch,
      now: () => NOW,
    })
    await first.getAccessToken()
    await second.getAccessToken()

    expect(google.grants).toHaveLength(2)
    const privateImports = importKey.mock.calls.filter(([format]) => format === 'pkcs8')
    expect(privateImports).toHaveLength(1)
  })
})

describe('createGoogleTokenSource failures', () => {
  it('throws a non-retryable ProviderAuthError when Google refuses the grant', async () => {
    const google = fakeGoogle(
      () => NOW,
      () => oauthError(400, 'invalid_grant', 'Invalid JWT Signature.'),
    )
    const error = await refusal(source(uniqueEmail(), { fetch: google.fetch }).getAccessToken())

    expect(error.retryable).toBe(false)
    expect(error.message).toBe(
      'Google token endpoint refused the service account ' +
        '(HTTP 400 invalid_grant: Invalid JWT Signature.)',
    )
  })

  it('is refused by the real check when the assertion is signed with another key', async () => {
    const other = await generateKeyPair('RS256', { extractable: true })
    const google = fakeGoogle(() => NOW)
    const tokens = source(uniqueEmail(), {
      serviceAccount: {
        client_email: uniqueEmail(),
        private_key: await exportPKCS8(other.privateKey),
      },
      fetch: google.fetch,
    })
    const error = await refusal(tokens.getAccessToken())
    expect(error).toMatchObject({ retryable: false })
    expect(error.message).toContain('invalid_grant')
  })

  it('throws a retryable ProviderAuthError on 503, with Retry-After', async () => {
    const google = fakeGoogle(
      () => NOW,
      () => oauthError(503, 'internal_failure', 'Backend Error', { 'retry-after': '30' }),
    )
    const error = await refusal(source(uniqueEmail(), { fetch: google.fetch }).getAccessToken())

    expect(error).toMatchObject({ retryable: true, retryAfterSeconds: 30 })
    expect(error.message).toBe(
      'Google token endpoint is unavailable (HTTP 503 internal_failure: Backend Error)',
    )
  })

  it('throws a retryable ProviderAuthError on 429', async () => {
    const google = fakeGoogle(
      () => NOW,
      () => new Response('rate limited', { status: 429 }),
    )
    const error = await refusal(source(uniqueEmail(), { fetch: google.fetch }).getAccessToken())
    expect(error).toMatchObject({ retryable: true, retryAfterSeconds: undefined })
  })

  it('throws a retryable ProviderAuthError when the network fails or times out', async () => {
    const down = source(uniqueEmail(), {
      fetch: () => Promise.reject(new TypeError('Network connection lost.')),
    })
    expect(await refusal(down.getAccessToken())).toMatchObject({
      retryable: true,
      message:
        'Google token endpoint could not be reached (network error: Network connection lost.)',
    })

    const silent = source(uniqueEmail(), {
      fetch: () => new Promise<Response>(() => {}),
      timeoutMs: 20,
    })
    expect(await refusal(silent.getAccessToken())).toMatchObject({
      retryable: true,
      message: 'Google token endpoint did not answer within 20 ms',
    })
  })

  it('refuses a 200 without access_token and expires_in, without retry', async () => {
    const google = fakeGoogle(
      () => NOW,
      () => Response.json({ token_type: 'Bearer' }),
    )
    const error = await refusal(source(uniqueEmail(), { fetch: google.fetch }).getAccessToken())
    expect(error.retryable).toBe(false)
  })

  it('refuses a private key that is not PKCS#8, without a request', async () => {
    const fetch = vi.fn(globalThis.fetch)
    const tokens = source(uniqueEmail(), {
      serviceAccount: {
        client_email: uniqueEmail(),
        private_key: '-----BEGIN RSA PRIVATE KEY-----\nAAAA',
      },
      fetch,
    })
    const error = await refusal(tokens.getAccessToken())
    expect(error).toMatchObject({ retryable: false })
    expect(error.message).not.toContain('AAAA')
    expect(fetch).not.toHaveBeenCalled()
  })

  it('never puts the assertion or the private key in the message', async () => {
    let assertion = ''
    const google = fakeGoogle(
      () => NOW,
      () => oauthError(400, 'invalid_grant', 'Bad assertion'),
    )
    const spy = async (input: RequestInfo | URL, init?: RequestInit) => {
      assertion = new URLSearchParams(String(init?.body)).get('assertion') ?? ''
      return google.fetch(input, init)
    }
    const error = await refusal(source(uniqueEmail(), { fetch: spy }).getAccessToken())
    expect(assertion).not.toBe('')
    expect(error.message).not.toContain(assertion)
    expect(error.message).not.toContain('PRIVATE KEY')
  })
})
