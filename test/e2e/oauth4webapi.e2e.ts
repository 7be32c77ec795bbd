// A standard OAuth 2.0 client library against the running server: oauth4webapi does discovery,
// the client credentials grant, introspection and revocation with its own validation, unadapted.
import * as oauth from 'oauth4webapi'
import { beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient } from './server.ts'

// The local issuer is plain http; the library refuses that unless told. Local tests only.
const INSECURE = { [oauth.allowInsecureRequests]: true } as const

let issuer: URL
let as: oauth.AuthorizationServer
let client: oauth.Client
let secret: string

beforeAll(async () => {
  issuer = new URL(readCredentials().base)
  const demo = seededClient('demo-client')
  client = { client_id: demo.id }
  secret = demo.secret
  // RFC 8414 metadata: /.well-known/oauth-authorization-server, issuer checked by the library.
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...INSECURE })
  as = await oauth.processDiscoveryResponse(issuer, response)
})

async function grant(auth: oauth.ClientAuth, scope?: string) {
  const parameters = new URLSearchParams(scope ? { scope } : {})
  const response = await oauth.clientCredentialsGrantRequest(as, client, auth, parameters, INSECURE)
  return oauth.processClientCredentialsResponse(as, client, response)
}

async function introspect(auth: oauth.ClientAuth, token: string) {
  const response = await oauth.introspectionRequest(as, client, auth, token, INSECURE)
  return oauth.processIntrospectionResponse(as, client, response)
}

async function revoke(auth: oauth.ClientAuth, token: string) {
  const response = await oauth.revocationRequest(as, client, auth, token, INSECURE)
  return oauth.processRevocationResponse(response)
}

describe('oauth4webapi discovery', () => {
  it('reads the RFC 8414 metadata with every endpoint it uses', () => {
    expect(as.issuer).toBe(issuer.origin)
    expect(as).toMatchObject({
      token_endpoint: `${issuer.origin}/oauth/token`,
      introspection_endpoint: `${issuer.origin}/oauth/introspect`,
      revocation_endpoint: `${issuer.origin}/oauth/revoke`,
      jwks_uri: `${issuer.origin}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
    })
    expect(as.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
    )
  })
})

describe.each([
  ['client_secret_basic', oauth.ClientSecretBasic],
  ['client_secret_post', oauth.ClientSecretPost],
])('oauth4webapi with %s', (_method, authWith) => {
  const auth = () => authWith(secret)

  it('gets a bearer token by the client credentials grant', async () => {
    const result = await grant(auth(), 'services:send tokens:introspect')
    expect(result.token_type).toBe('bearer')
    expect(result.expires_in).toBe(3600)
    expect(result.scope).toBe('services:send tokens:introspect')
    expect(result.access_token.split('.')).toHaveLength(3)
  })

  it('introspects its own token as active, then revokes it and sees it inactive', async () => {
    const { access_token: token } = await grant(auth())
    const active = await introspect(auth(), token)
    expect(active).toMatchObject({
      active: true,
      client_id: client.client_id,
      sub: client.client_id,
      iss: issuer.origin,
      token_type: 'Bearer',
    })
    expect(active.exp! - active.iat!).toBe(3600)

    await expect(revoke(auth(), token)).resolves.toBeUndefined()
    expect(await introspect(auth(), token)).toEqual({ active: false })
  })

  it('reports a wrong secret as invalid_client', async () => {
    const error = await grant(authWith('not-the-secret')).then(
      () => expect.fail('a wrong secret got a token'),
      (err: unknown) => err,
    )
    // Portero answers 401 with `WWW-Authenticate: Basic realm="portero"` (RFC 6749 §5.2 requires
    // the challenge when the client used the Authorization header, and Portero sends it for
    // client_secret_post too). oauth4webapi checks challenges before the body, so it surfaces a
    // WWWAuthenticateChallengeError rather than a ResponseBodyError; `invalid_client` is in the
    // unread response body it keeps.
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError)
    const challenge = error as oauth.WWWAuthenticateChallengeError
    expect(challenge.status).toBe(401)
    expect(challenge.cause.map((c) => c.scheme)).toEqual(['basic'])
    const body = (await challenge.response.json()) as { error: string; error_description: string }
    expect(body.error).toBe('invalid_client')
    expect(body.error_description).toMatch(/client authentication failed/i)
  })
})
