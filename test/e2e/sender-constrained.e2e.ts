// Keys instead of shared secrets, against the running server with third-party code only:
// oauth4webapi authenticates with private_key_jwt (its own assertions, unadapted) and binds its
// token with DPoP (its own proofs and nonce handling), and jose checks the RFC 9701 JWT
// introspection answer against the published key set. Proofs made wrong on purpose are built here
// with jose, as RFC 9449 §4.2 describes them.
import { base64url, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose'
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

/** POST /Services for the demo recipient, as document 001 writes it. */
function servicesBody(): string {
  const { serviceToken, serviceId, userId } = readCredentials()
  return JSON.stringify({
    provider_id: 1001,
    service_token: serviceToken,
    service_id: serviceId,
    parameters: {
      destination: userId,
      notification: { title: 'Turno', message: 'Oftalmólogo lunes 9:15', channel: 'SMS' },
    },
  })
}

/** A proof of `keys` for a request, made by hand: what RFC 9449 §4.2 says, with `change` applied. */
async function handMadeProof(
  keys: CryptoKeyPair,
  token: string,
  change: { htm?: string; htu?: string; ath?: string } = {},
): Promise<string> {
  const ath = base64url.encode(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))),
  )
  return new SignJWT({
    htm: change.htm ?? 'POST',
    htu: change.htu ?? new URL('/Services', issuer).href,
    ath: change.ath ?? ath,
    jti: crypto.randomUUID(),
    iat: Math.floor(Date.now() / 1000),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .sign(keys.privateKey)
}

function callServices(token: string, headers: Record<string, string>) {
  return fetch(new URL('/Services', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: servicesBody(),
  })
}

/** `call`, once more with the server's fresh nonce if it asked for one (RFC 9449 §8). */
async function withNonceRetry<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error
    return call()
  }
}

describe('DPoP with oauth4webapi, after private_key_jwt', () => {
  let dpopKeys: CryptoKeyPair
  let token: string

  beforeAll(async () => {
    dpopKeys = await generateKeyPair('ES256')
    const dpop = oauth.DPoP(client, dpopKeys)
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      keyAuth(),
      {},
      {
        ...INSECURE,
        DPoP: dpop,
      },
    )
    const grant = await oauth.processClientCredentialsResponse(as, client, response)
    expect(grant.token_type).toBe('dpop')
    token = grant.access_token
  })

  it('calls /Services with the bound token and the library’s proof', async () => {
    const dpop = oauth.DPoP(client, dpopKeys)
    const response = await withNonceRetry(() =>
      oauth.protectedResourceRequest(
        token,
        'POST',
        new URL('/Services', issuer),
        new Headers({ 'content-type': 'application/json' }),
        servicesBody(),
        { ...INSECURE, DPoP: dpop },
      ),
    )
    expect(response.status).toBe(201)
  })

  it('is refused without a proof, as a bearer token', async () => {
    const response = await callServices(token, { authorization: `Bearer ${token}` })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ code: 'invalid_token' })
  })

  it('is refused with a proof by another key', async () => {
    const other = await generateKeyPair('ES256')
    const response = await callServices(token, {
      authorization: `DPoP ${token}`,
      dpop: await handMadeProof(other, token),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/)
  })

  it('takes a proof once: the same proof again is refused', async () => {
    const proof = await handMadeProof(dpopKeys, token)
    const first = await callServices(token, { authorization: `DPoP ${token}`, dpop: proof })
    expect(first.status).toBe(201)
    const again = await callServices(token, { authorization: `DPoP ${token}`, dpop: proof })
    expect(again.status).toBe(401)
    expect(again.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof"/)
  })

  it.each([
    ['another URL (htu)', { htu: new URL('/recipients', 'http://localhost:8787').href }],
    ['another method (htm)', { htm: 'GET' }],
    ['another token’s hash (ath)', { ath: base64url.encode(new Uint8Array(32)) }],
  ])('is refused with a proof for %s', async (_, change) => {
    const response = await callServices(token, {
      authorization: `DPoP ${token}`,
      dpop: await handMadeProof(dpopKeys, token, change),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof"/)
  })

  it('shows the binding to other resource servers at introspection', async () => {
    const response = await oauth.introspectionRequest(as, client, keyAuth(), token, INSECURE)
    const claims = await oauth.processIntrospectionResponse(as, client, response)
    const thumbprint = await oauth.DPoP(client, dpopKeys).calculateThumbprint()
    expect(claims).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: thumbprint } })
  })

  it('follows the server nonce a client required to use DPoP must send', async () => {
    const updated = await fetch(new URL(`/admin/clients/${client.client_id}`, issuer), {
      method: 'PATCH',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ dpop_bound_access_tokens: true }),
    })
    expect(updated.status).toBe(204)
    // Without a proof: no token.
    const bare = await oauth.clientCredentialsGrantRequest(as, client, keyAuth(), {}, INSECURE)
    expect(bare.status).toBe(400)
    // With a proof but no nonce: 400 use_dpop_nonce, and the nonce to use (RFC 9449 §8).
    const noNonce = await new SignJWT({
      htm: 'POST',
      htu: as.token_endpoint!,
      jti: crypto.randomUUID(),
      iat: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({
        alg: 'ES256',
        typ: 'dpop+jwt',
        jwk: await exportJWK(dpopKeys.publicKey),
      })
      .sign(dpopKeys.privateKey)
    const asked = await fetch(as.token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: noNonce },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: client.client_id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertionFor(),
      }),
    })
    expect(asked.status).toBe(400)
    expect(await asked.json()).toMatchObject({ error: 'use_dpop_nonce' })
    expect(asked.headers.get('dpop-nonce')).toEqual(expect.any(String))
    // With one: the library is told use_dpop_nonce, takes the nonce and tries again.
    const dpop = oauth.DPoP(client, dpopKeys)
    const grant = await withNonceRetry(async () =>
      oauth.processClientCredentialsResponse(
        as,
        client,
        await oauth.clientCredentialsGrantRequest(
          as,
          client,
          keyAuth(),
          {},
          {
            ...INSECURE,
            DPoP: dpop,
          },
        ),
      ),
    )
    expect(grant.token_type).toBe('dpop')
  })
})
