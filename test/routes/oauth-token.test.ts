import { env } from 'cloudflare:workers'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { describe, expect, it } from 'vitest'
import { generateClientSecret } from '../../src/domain/secrets.ts'
import { insertProvider } from '../../src/storage/providers.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { basicAuth, call, expectProblem, freshIp, postForm, postJson } from '../helpers/http.ts'

const TOKEN = '/oauth/token'
const FORM = 'application/x-www-form-urlencoded'
const GRANT = { grant_type: 'client_credentials' }
const ALL_SCOPES = 'services:send tokens:introspect'
const API_A = 'https://api-a.portero.test'
const API_B = 'https://api-b.portero.test'

type TokenResponse = { access_token: string; token_type: string; expires_in: number; scope: string }

type Credentials = Pick<TestClient, 'clientId' | 'clientSecret'>

/** client_secret_basic headers, with a caller address when the request is meant to fail. */
function basic({ clientId, clientSecret }: Credentials, ip?: string): Record<string, string> {
  const headers: Record<string, string> = { authorization: basicAuth(clientId, clientSecret) }
  if (ip) headers['cf-connecting-ip'] = ip
  return headers
}

/** A form body with repeated parameters, which postForm's record cannot express. */
function postPairs(pairs: [string, string][], headers: Record<string, string> = {}) {
  return call(TOKEN, {
    method: 'POST',
    headers: { 'content-type': FORM, ...headers },
    body: new URLSearchParams(pairs).toString(),
  })
}

/** Asserts a successful token response (RFC 6749 §5.1) and returns its body. */
async function expectToken(response: Response): Promise<TokenResponse> {
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^application\/json\b/)
  expect(response.headers.get('cache-control')).toBe('no-store')
  expect(response.headers.get('pragma')).toBe('no-cache')
  const body = (await response.json()) as TokenResponse
  expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type'])
  expect(body.token_type).toBe('Bearer')
  return body
}

/** The OAuth error body (RFC 6749 §5.2) next to the problem fields, as application/json. */
async function expectOAuthError(response: Response, status: number, code: string) {
  const body = await expectProblem(response, status, code, 'application/json')
  expect(body).toMatchObject({
    error: code,
    error_description: body.detail,
    type: `urn:portero:error:${code}`,
  })
  expect(typeof body.title).toBe('string')
  return body
}

describe('POST /oauth/token, successful client_credentials grant', () => {
  it('issues a Bearer token to client_secret_basic with RFC 9068 claims', async () => {
    const client = await createClient()
    const body = await expectToken(await postForm(TOKEN, GRANT, basic(client)))
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: ALL_SCOPES,
    })

    expect(decodeProtectedHeader(body.access_token)).toMatchObject({
      alg: 'ES256',
      typ: 'at+jwt',
      kid: expect.any(String),
    })
    const claims = decodeJwt(body.access_token)
    expect(Object.keys(claims).sort()).toEqual(
      [
        'aud',
        'client_id',
        'exp',
        'gen',
        'iat',
        'iss',
        'jti',
        'nbf',
        'provider_id',
        'scope',
        'sub',
      ].sort(),
    )
    expect(claims).toMatchObject({
      iss: env.ISSUER,
      sub: client.clientId,
      client_id: client.clientId,
      aud: env.ISSUER,
      scope: ALL_SCOPES,
      provider_id: client.providerId,
    })
    expect(claims.provider_id).toMatch(/^[1-9]\d*$/)
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/)
    expect(claims.nbf).toBe(claims.iat)
    expect(claims.exp! - claims.iat!).toBe(3600)
    // decisions.md D34: the generation of its client's credentials, 0 for a client created before
    // generations existed (as this one, straight in D1).
    expect(claims.gen).toBe(0)
  })

  it('issues a token to client_secret_post with the client token lifetime', async () => {
    const client = await createClient({ tokenLifetime: 600 })
    const response = await postForm(TOKEN, {
      ...GRANT,
      client_id: client.clientId,
      client_secret: client.clientSecret,
    })
    const body = await expectToken(response)
    expect(body.expires_in).toBe(600)
    expect(body.scope).toBe(ALL_SCOPES)
    const claims = decodeJwt(body.access_token)
    expect(claims).toMatchObject({
      sub: client.clientId,
      client_id: client.clientId,
      iss: env.ISSUER,
    })
    expect(claims.exp! - claims.iat!).toBe(600)
  })

  it('gives every token its own jti', async () => {
    const client = await createClient()
    const first = await expectToken(await postForm(TOKEN, GRANT, basic(client)))
    const second = await expectToken(await postForm(TOKEN, GRANT, basic(client)))
    expect(decodeJwt(first.access_token).jti).not.toBe(decodeJwt(second.access_token).jti)
  })

  it('keeps an int64 provider id exact, as a decimal string (decisions.md D11)', async () => {
    const providerId = '9223372036854775807'
    await insertProvider(env.DB, { id: providerId, name: `provider ${crypto.randomUUID()}` })
    const client = await createClient({ providerId })
    const body = await expectToken(await postForm(TOKEN, GRANT, basic(client)))
    expect(decodeJwt(body.access_token).provider_id).toBe(providerId)
  })

  it('accepts the media type in any case and with a charset parameter', async () => {
    const client = await createClient()
    const response = await call(TOKEN, {
      method: 'POST',
      headers: {
        ...basic(client),
        'content-type': 'Application/X-WWW-Form-URLEncoded; charset=UTF-8',
      },
      body: 'grant_type=client_credentials',
    })
    await expectToken(response)
  })

  it('accepts the Basic scheme name in any case (RFC 9110 §11.1)', async () => {
    const client = await createClient()
    const authorization = basicAuth(client.clientId, client.clientSecret).replace(/^Basic/, 'bAsIc')
    await expectToken(await postForm(TOKEN, GRANT, { authorization }))
  })

  it('accepts client_secret_basic with the same client_id repeated in the body', async () => {
    const client = await createClient()
    await expectToken(
      await postForm(TOKEN, { ...GRANT, client_id: client.clientId }, basic(client)),
    )
  })
})

describe('POST /oauth/token, credentials that need form-urlencoding (RFC 6749 §2.3.1)', () => {
  const special = () => ({
    id: `front desk:${crypto.randomUUID()}/ü`,
    secret: `${generateClientSecret()}+%:/ =&é`,
  })

  it('decodes form-urlencoded Basic credentials with ":", spaces, "+" and "%"', async () => {
    const { id, secret } = special()
    const client = await createClient({ id, secret })
    // The helper encodes as §2.3.1 says: encodeURIComponent, then space as "+".
    const authorization = basicAuth(id, secret)
    expect(atob(authorization.slice(6))).toContain('front+desk%3A')
    const body = await expectToken(await postForm(TOKEN, GRANT, { authorization }))
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: id, client_id: id })
    // The same pair without the form-urlencoding is refused: the id's own ":" would end the id.
    const utf8 = new TextEncoder().encode(`${client.clientId}:${secret}`)
    const raw = `Basic ${btoa(String.fromCharCode(...utf8))}`
    const ip = freshIp()
    const refused = await postForm(TOKEN, GRANT, { authorization: raw, 'cf-connecting-ip': ip })
    await expectOAuthError(refused, 401, 'invalid_client')
  })

  it('accepts the same credentials through client_secret_post', async () => {
    const { id, secret } = special()
    await createClient({ id, secret })
    const body = await expectToken(
      await postForm(TOKEN, { ...GRANT, client_id: id, client_secret: secret }),
    )
    expect(decodeJwt(body.access_token).sub).toBe(id)
  })

  it('accepts "%20" as well as "+" for a space', async () => {
    const id = `front desk ${crypto.randomUUID()}`
    const client = await createClient({ id })
    const encoded = `${encodeURIComponent(id)}:${encodeURIComponent(client.clientSecret)}`
    const authorization = `Basic ${btoa(encoded)}`
    expect(authorization).not.toContain('+')
    await expectToken(await postForm(TOKEN, GRANT, { authorization }))
  })
})

describe('POST /oauth/token, scope (RFC 6749 §3.3)', () => {
  it('issues exactly the requested subset of the allowed scopes', async () => {
    const client = await createClient({
      allowedScopes: ['services:send', 'tokens:introspect', 'recipients:write'],
    })
    const body = await expectToken(
      await postForm(TOKEN, { ...GRANT, scope: 'recipients:write services:send' }, basic(client)),
    )
    expect(body.scope).toBe('recipients:write services:send')
    expect(decodeJwt(body.access_token).scope).toBe('recipients:write services:send')
  })

  it('issues a single requested scope', async () => {
    const client = await createClient()
    const response = await postForm(TOKEN, { ...GRANT, scope: 'tokens:introspect' }, basic(client))
    const body = await expectToken(response)
    expect(body.scope).toBe('tokens:introspect')
    expect(decodeJwt(body.access_token).scope).toBe('tokens:introspect')
  })

  it('issues every allowed scope when none is requested, or scope is empty (§3.1)', async () => {
    const client = await createClient()
    for (const form of [GRANT, { ...GRANT, scope: '' }]) {
      const body = await expectToken(await postForm(TOKEN, form, basic(client)))
      expect(body.scope).toBe(ALL_SCOPES)
      expect(decodeJwt(body.access_token).scope).toBe(ALL_SCOPES)
    }
  })

  it('issues a scope requested twice once', async () => {
    const client = await createClient()
    const body = await expectToken(
      await postForm(TOKEN, { ...GRANT, scope: 'services:send services:send' }, basic(client)),
    )
    expect(body.scope).toBe('services:send')
  })

  it('answers 400 invalid_scope for a scope the client is not allowed', async () => {
    const client = await createClient({ allowedScopes: ['services:send'] })
    const body = await expectOAuthError(
      await postForm(TOKEN, { ...GRANT, scope: 'admin' }, basic(client)),
      400,
      'invalid_scope',
    )
    expect(body.detail).toContain('admin')
  })

  it('answers 400 invalid_scope when one of several scopes is not allowed', async () => {
    const client = await createClient({ allowedScopes: ['services:send'] })
    await expectOAuthError(
      await postForm(TOKEN, { ...GRANT, scope: 'services:send tokens:introspect' }, basic(client)),
      400,
      'invalid_scope',
    )
  })

  it.each([
    ['a double quote', 'services:send"'],
    ['a backslash', 'services\\send'],
    ['two spaces in a row', 'services:send  tokens:introspect'],
    ['a tab', 'services:send\ttokens:introspect'],
  ])('answers 400 invalid_scope for a malformed scope with %s (§5.2)', async (_, scope) => {
    const client = await createClient()
    const response = await postForm(TOKEN, { ...GRANT, scope }, basic(client))
    const body = await expectOAuthError(response, 400, 'invalid_scope')
    expect((body.errors as { path: string }[]).map((e) => e.path)).toEqual(['scope'])
  })

  it('answers 400 invalid_request for scope sent twice (§3.1)', async () => {
    const client = await createClient()
    const response = await postPairs(
      [
        ['grant_type', 'client_credentials'],
        ['scope', 'services:send'],
        ['scope', 'tokens:introspect'],
      ],
      basic(client),
    )
    const body = await expectOAuthError(response, 400, 'invalid_request')
    expect((body.errors as { path: string }[]).map((e) => e.path)).toEqual(['scope'])
  })
})

describe('POST /oauth/token, audience and resource (RFC 8707)', () => {
  const withAudiences = () => createClient({ audiences: [API_A, API_B] })

  it("addresses the token to every configured audience and Portero's own API when none is requested", async () => {
    const client = await withAudiences()
    const body = await expectToken(await postForm(TOKEN, GRANT, basic(client)))
    expect(decodeJwt(body.access_token).aud).toEqual([API_A, API_B, env.ISSUER])
  })

  it("leaves Portero's API out of aud when the token's scopes do not reach it", async () => {
    const partnerOnly = await createClient({ allowedScopes: [], audiences: [API_A] })
    const body = await expectToken(await postForm(TOKEN, GRANT, basic(partnerOnly)))
    expect(decodeJwt(body.access_token).aud).toBe(API_A)
    await expectOAuthError(
      await postForm(TOKEN, { ...GRANT, resource: env.ISSUER }, basic(partnerOnly)),
      400,
      'invalid_target',
    )
  })

  it("names Portero's API beside the audiences of a token that may introspect", async () => {
    // decisions.md D17: an introspection caller's own token must name Portero's API.
    const client = await withAudiences()
    const narrowed = await expectToken(
      await postForm(TOKEN, { ...GRANT, scope: 'tokens:introspect' }, basic(client)),
    )
    expect(decodeJwt(narrowed.access_token).aud).toEqual([API_A, API_B, env.ISSUER])
    const introspector = await createClient({
      allowedScopes: ['tokens:introspect'],
      audiences: [API_A],
    })
    const body = await expectToken(await postForm(TOKEN, GRANT, basic(introspector)))
    expect(decodeJwt(body.access_token).aud).toEqual([API_A, env.ISSUER])
  })

  it("addresses the token to Portero's API alone when that resource is asked for", async () => {
    const client = await withAudiences()
    const body = await expectToken(
      await postForm(TOKEN, { ...GRANT, resource: env.ISSUER }, basic(client)),
    )
    expect(decodeJwt(body.access_token).aud).toBe(env.ISSUER)
  })

  it('narrows aud to the requested audience', async () => {
    const client = await withAudiences()
    const body = await expectToken(
      await postForm(TOKEN, { ...GRANT, audience: API_B }, basic(client)),
    )
    expect(decodeJwt(body.access_token).aud).toBe(API_B)
  })

  it('narrows aud to one resource', async () => {
    const client = await withAudiences()
    const body = await expectToken(
      await postForm(TOKEN, { ...GRANT, resource: API_A }, basic(client)),
    )
    expect(decodeJwt(body.access_token).aud).toBe(API_A)
  })

  it('puts every repeated resource in aud', async () => {
    const client = await withAudiences()
    const response = await postPairs(
      [
        ['grant_type', 'client_credentials'],
        ['resource', API_B],
        ['resource', API_A],
      ],
      basic(client),
    )
    const body = await expectToken(response)
    expect(decodeJwt(body.access_token).aud).toEqual([API_B, API_A])
  })

  it('combines audience and resource', async () => {
    const client = await withAudiences()
    const body = await expectToken(
      await postForm(TOKEN, { ...GRANT, audience: API_A, resource: API_B }, basic(client)),
    )
    expect(decodeJwt(body.access_token).aud).toEqual([API_A, API_B])
  })

  it('answers 400 invalid_target for a resource not allowed', async () => {
    const client = await withAudiences()
    const response = await postPairs(
      [
        ['grant_type', 'client_credentials'],
        ['resource', API_A],
        ['resource', 'https://evil.test'],
      ],
      basic(client),
    )
    const body = await expectOAuthError(response, 400, 'invalid_target')
    expect(body.detail).toContain('https://evil.test')
  })

  it('answers 400 invalid_target for an audience not allowed', async () => {
    const client = await withAudiences()
    await expectOAuthError(
      await postForm(TOKEN, { ...GRANT, audience: 'https://evil.test' }, basic(client)),
      400,
      'invalid_target',
    )
  })

  it('addresses the token to the issuer when the client has no configured audiences', async () => {
    const client = await createClient({ audiences: [] })
    const body = await expectToken(await postForm(TOKEN, GRANT, basic(client)))
    expect(decodeJwt(body.access_token).aud).toBe(env.ISSUER)

    const toIssuer = await postForm(TOKEN, { ...GRANT, resource: env.ISSUER }, basic(client))
    const explicit = await expectToken(toIssuer)
    expect(decodeJwt(explicit.access_token).aud).toBe(env.ISSUER)

    await expectOAuthError(
      await postForm(TOKEN, { ...GRANT, resource: API_A }, basic(client)),
      400,
      'invalid_target',
    )
  })
})

describe('POST /oauth/token, grant_type', () => {
  it('answers 400 invalid_request when grant_type is missing', async () => {
    const client = await createClient()
    const body = await expectOAuthError(
      await postForm(TOKEN, {}, basic(client)),
      400,
      'invalid_request',
    )
    expect(body.errors).toEqual([{ path: 'grant_type', message: 'required' }])
  })

  it('answers 400 invalid_request when grant_type is empty (§3.1: same as omitted)', async () => {
    const client = await createClient()
    await expectOAuthError(
      await postForm(TOKEN, { grant_type: '' }, basic(client)),
      400,
      'invalid_request',
    )
  })

  it.each(['password', 'authorization_code', 'refresh_token', 'Client_Credentials'])(
    'answers 400 unsupported_grant_type for grant_type=%s',
    async (grant_type) => {
      const client = await createClient()
      const response = await postForm(
        TOKEN,
        { grant_type, username: 'u', password: 'p', code: 'c' },
        basic(client),
      )
      await expectOAuthError(response, 400, 'unsupported_grant_type')
    },
  )

  it('answers 400 invalid_request for grant_type sent twice, even with the same value', async () => {
    const client = await createClient()
    for (const second of ['client_credentials', 'password']) {
      const response = await postPairs(
        [
          ['grant_type', 'client_credentials'],
          ['grant_type', second],
        ],
        basic(client),
      )
      const body = await expectOAuthError(response, 400, 'invalid_request')
      expect((body.errors as { path: string }[]).map((e) => e.path)).toEqual(['grant_type'])
    }
  })
})

describe('POST /oauth/token, client authentication', () => {
  it('answers 401 invalid_client with a Basic challenge when no credentials are sent', async () => {
    const response = await postForm(TOKEN, GRANT, { 'cf-connecting-ip': freshIp() })
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="portero"')
    await expectOAuthError(response, 401, 'invalid_client')
  })

  it('answers 401 invalid_client for a client_id without a secret', async () => {
    const client = await createClient()
    const form = { ...GRANT, client_id: client.clientId }
    const response = await postForm(TOKEN, form, { 'cf-connecting-ip': freshIp() })
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="portero"')
    await expectOAuthError(response, 401, 'invalid_client')
  })

  it('answers 401 invalid_client for a Bearer Authorization header', async () => {
    const headers = { authorization: 'Bearer abc.def.ghi', 'cf-connecting-ip': freshIp() }
    const response = await postForm(TOKEN, GRANT, headers)
    await expectOAuthError(response, 401, 'invalid_client')
  })

  it('answers an unknown client, a wrong secret and a disabled client with one 401 body', async () => {
    const active = await createClient()
    const disabled = await createClient({ status: 'disabled' })
    const ip = freshIp()
    const answers = await Promise.all(
      [
        { clientId: active.clientId, clientSecret: generateClientSecret() },
        { clientId: `unknown-${crypto.randomUUID()}`, clientSecret: generateClientSecret() },
        { clientId: disabled.clientId, clientSecret: disabled.clientSecret },
      ].map(async (credentials) => {
        const response = await postForm(TOKEN, GRANT, basic(credentials, ip))
        expect(response.headers.get('www-authenticate')).toBe('Basic realm="portero"')
        return expectOAuthError(response, 401, 'invalid_client')
      }),
    )
    const [wrongSecret, unknown, disabledClient] = answers
    expect(unknown).toEqual(wrongSecret)
    expect(disabledClient).toEqual(wrongSecret)
  })

  it('answers an unknown client exactly as a wrong secret through client_secret_post', async () => {
    const client = await createClient()
    const ip = freshIp()
    const post = (clientId: string) =>
      postForm(
        TOKEN,
        { ...GRANT, client_id: clientId, client_secret: 'not-the-secret' },
        { 'cf-connecting-ip': ip },
      )
    const wrong = await post(client.clientId)
    const unknown = await post(`unknown-${crypto.randomUUID()}`)
    expect(unknown.status).toBe(401)
    expect(wrong.status).toBe(401)
    expect(unknown.headers.get('content-type')).toBe(wrong.headers.get('content-type'))
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'))
    expect(await unknown.json()).toEqual(await wrong.json())
  })

  it('refuses a disabled client through client_secret_post', async () => {
    const client = await createClient({ status: 'disabled' })
    const response = await postForm(
      TOKEN,
      { ...GRANT, client_id: client.clientId, client_secret: client.clientSecret },
      { 'cf-connecting-ip': freshIp() },
    )
    await expectOAuthError(response, 401, 'invalid_client')
  })

  it.each([
    ['not base64', 'Basic !!!not*base64!!!'],
    ['no colon', `Basic ${btoa('just-a-client-id')}`],
    ['bad percent-encoding', `Basic ${btoa('client%zz:secret')}`],
    ['an empty secret', `Basic ${btoa('some-client:')}`],
    ['an empty client id', `Basic ${btoa(':some-secret')}`],
    ['no credentials after the scheme', 'Basic '],
    ['an over-long secret', `Basic ${btoa(`some-client:${'s'.repeat(300)}`)}`],
  ])('answers 401 invalid_client for a Basic header with %s', async (_, authorization) => {
    const response = await postForm(TOKEN, GRANT, { authorization, 'cf-connecting-ip': freshIp() })
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="portero"')
    await expectOAuthError(response, 401, 'invalid_client')
  })

  it('answers 400 invalid_request for Basic and client_secret in the body (§2.3)', async () => {
    const client = await createClient()
    const response = await postForm(
      TOKEN,
      { ...GRANT, client_id: client.clientId, client_secret: client.clientSecret },
      basic(client, freshIp()),
    )
    await expectOAuthError(response, 400, 'invalid_request')
  })

  it('answers 400 invalid_request for Basic and another client_id in the body', async () => {
    const client = await createClient()
    const other = await createClient()
    const response = await postForm(
      TOKEN,
      { ...GRANT, client_id: other.clientId },
      basic(client, freshIp()),
    )
    await expectOAuthError(response, 400, 'invalid_request')
  })

  it('answers 400 invalid_request for client_secret sent twice', async () => {
    const client = await createClient()
    const response = await postPairs(
      [
        ['grant_type', 'client_credentials'],
        ['client_id', client.clientId],
        ['client_secret', client.clientSecret],
        ['client_secret', client.clientSecret],
      ],
      { 'cf-connecting-ip': freshIp() },
    )
    const body = await expectOAuthError(response, 400, 'invalid_request')
    expect(JSON.stringify(body)).not.toContain(client.clientSecret)
  })
})

describe('POST /oauth/token, malformed requests', () => {
  it('answers 413 payload_too_large for a body over 16 KiB', async () => {
    const client = await createClient()
    const response = await postForm(
      TOKEN,
      { ...GRANT, padding: 'x'.repeat(17 * 1024) },
      basic(client),
    )
    await expectOAuthError(response, 413, 'payload_too_large')
  })

  it('answers 413 for a streamed body over 16 KiB without Content-Length', async () => {
    const client = await createClient()
    const chunk = new TextEncoder().encode(
      `grant_type=client_credentials&padding=${'x'.repeat(4096)}`,
    )
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk)
        else controller.close()
      },
    })
    const request = new Request(`https://portero.test${TOKEN}`, {
      method: 'POST',
      headers: { ...basic(client), 'content-type': FORM },
      body: stream,
    })
    expect(request.headers.has('content-length')).toBe(false)
    const response = await call(TOKEN, request)
    await expectOAuthError(response, 413, 'payload_too_large')
  })
})

describe('POST /oauth/token, nothing sensitive in any answer (decisions.md D2)', () => {
  it('never sends a stack trace, SQL or the client secret', async () => {
    const client = await createClient()
    const { clientId, clientSecret } = client
    const posted = { client_id: clientId, client_secret: clientSecret }
    const fresh = () => ({ 'cf-connecting-ip': freshIp() })
    const wrongSecret = { ...client, clientSecret: `${clientSecret}x` }
    const sqlId = "x' OR 1=1; SELECT * FROM clients --"
    const requests: [string, () => Promise<Response>][] = [
      ['success', () => postForm(TOKEN, GRANT, basic(client))],
      ['wrong secret', () => postForm(TOKEN, GRANT, { ...basic(wrongSecret), ...fresh() })],
      ['both methods', () => postForm(TOKEN, { ...GRANT, ...posted }, basic(client, freshIp()))],
      ['bad scope', () => postForm(TOKEN, { ...GRANT, scope: 'admin' }, basic(client))],
      [
        'malformed scope',
        () => postForm(TOKEN, { ...GRANT, scope: `"${clientSecret}` }, basic(client)),
      ],
      [
        'bad target',
        () => postForm(TOKEN, { ...GRANT, resource: 'https://evil.test' }, basic(client)),
      ],
      [
        'bad grant',
        () => postForm(TOKEN, { grant_type: 'password', password: clientSecret }, basic(client)),
      ],
      ['json', () => postJson(TOKEN, { ...GRANT, ...posted })],
      ['sql-looking id', () => postForm(TOKEN, { ...GRANT, ...posted, client_id: sqlId }, fresh())],
      ['huge', () => postForm(TOKEN, { ...GRANT, ...posted, padding: 'x'.repeat(17 * 1024) })],
    ]
    for (const [name, send] of requests) {
      const response = await send()
      const text = await response.text()
      expect(response.status, name).toBeLessThan(500)
      expect(text, name).not.toContain(clientSecret)
      expect(text, name).not.toMatch(/\bat \S+ \(|\.ts:\d+|stack/i)
      expect(text, name).not.toMatch(/\b(SELECT|INSERT|UPDATE|DELETE)\b|FROM clients|D1_|SQLITE/i)
    }
  })
})
