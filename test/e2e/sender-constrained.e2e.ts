// Keys instead of shared secrets, against the running server with third-party code only:
// oauth4webapi authenticates with private_key_jwt (its own assertions, unadapted), and jose checks
// the RFC 9701 JWT introspection answer against the published key set.
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient } from './server.ts'

// The local issuer is plain http; the library refuses that unless told. Local tests only.
const INSECURE = { [oauth.allowInsecureRequests]: true } as const

let issuer: URL
let as: oauth.AuthorizationServer
let client: oauth.Client
let clientKey: CryptoKey
let kid: string
let adminToken: string

async function tokenOf(id: string, secret: string): Promise<string> {
  const response = await fetch(new URL('/oauth/token', issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${id}:${secret}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

beforeAll(async () => {
  issuer = new URL(readCredentials().base)
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...INSECURE })
  as = await oauth.processDiscoveryResponse(issuer, response)

  // A client of the demo provider that holds a key pair and no secret, registered by the operator.
  const admin = seededClient('admin-client')
  adminToken = await tokenOf(admin.id, admin.secret)
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  clientKey = privateKey
  kid = `e2e-${Date.now()}`
  const created = await fetch(new URL('/admin/clients', issuer), {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      provider_id: '1001',
      name: `e2e key holder ${kid}`,
      allowed_scopes: ['services:send', 'tokens:introspect'],
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
      with_secret: false,
    }),
  })
  expect(created.status).toBe(201)
  const body = (await created.json()) as { client_id: string; client_secret: string | null }
  expect(body.client_secret).toBeNull()
  client = { client_id: body.client_id }
})

// The local database outlives the run: the client goes with it.
afterAll(async () => {
  if (!client) return
  await fetch(new URL(`/admin/clients/${client.client_id}`, issuer), {
    method: 'DELETE',
    headers: { authorization: `Bearer ${adminToken}` },
  })
})

const keyAuth = () => oauth.PrivateKeyJwt({ key: clientKey, kid })

async function grant(auth: oauth.ClientAuth) {
  const response = await oauth.clientCredentialsGrantRequest(as, client, auth, {}, INSECURE)
  return oauth.processClientCredentialsResponse(as, client, response)
}

describe('private_key_jwt with oauth4webapi', () => {
  it('is listed in the RFC 8414 metadata with its algorithms', () => {
    expect(as.token_endpoint_auth_methods_supported).toContain('private_key_jwt')
    expect(as.token_endpoint_auth_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256', 'EdDSA', 'RS256']),
    )
  })

  it('gets a token with the library’s own assertion, and introspects with it', async () => {
    const { access_token } = await grant(keyAuth())
    const response = await oauth.introspectionRequest(as, client, keyAuth(), access_token, INSECURE)
    const claims = await oauth.processIntrospectionResponse(as, client, response)
    expect(claims).toMatchObject({ active: true, client_id: client.client_id })
  })

  it('is refused with a key the client does not hold', async () => {
    const { privateKey } = await generateKeyPair('ES256')
    // A 401 with a WWW-Authenticate challenge, which the library raises as such.
    const refused = await grant(oauth.PrivateKeyJwt({ key: privateKey, kid })).catch((e) => e)
    expect(refused).toBeInstanceOf(oauth.WWWAuthenticateChallengeError)
    expect(refused).toMatchObject({ status: 401 })
    const { response } = refused as oauth.WWWAuthenticateChallengeError
    expect(await response.json()).toMatchObject({ error: 'invalid_client' })
  })
})

describe('JWT introspection (RFC 9701), checked with jose', () => {
  it('answers a JWT signed with the published keys, for the caller', async () => {
    const { access_token } = await grant(keyAuth())
    // A fresh assertion authenticates the introspection: each is used once.
    const assertion = await assertionFor()
    const response = await fetch(new URL('/oauth/introspect', issuer), {
      method: 'POST',
      headers: {
        accept: 'application/token-introspection+jwt',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        token: access_token,
        client_id: client.client_id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/token-introspection\+jwt/)
    const keys = createRemoteJWKSet(new URL(as.jwks_uri!))
    const { payload, protectedHeader } = await jwtVerify(await response.text(), keys, {
      issuer: as.issuer,
      audience: client.client_id,
      typ: 'token-introspection+jwt',
    })
    expect(protectedHeader.typ).toBe('token-introspection+jwt')
    expect(payload.token_introspection).toMatchObject({
      active: true,
      client_id: client.client_id,
    })
  })
})

/** An assertion as oauth4webapi builds it, taken from the request the library would send. */
async function assertionFor(): Promise<string> {
  let captured = ''
  const capture: typeof fetch = async (_url, init) => {
    captured = new URLSearchParams(String(init?.body)).get('client_assertion') ?? ''
    return new Response('{}', { status: 400, headers: { 'content-type': 'application/json' } })
  }
  await oauth
    .clientCredentialsGrantRequest(
      as,
      client,
      keyAuth(),
      {},
      {
        ...INSECURE,
        [oauth.customFetch]: capture,
      },
    )
    .catch(() => undefined)
  expect(captured).not.toBe('')
  return captured
}
