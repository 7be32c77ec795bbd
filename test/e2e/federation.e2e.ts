// A federated client against the running server (decisions.md D38), with oauth4webapi, a client
// library of its own: a client with no secret and no key gets a token for a GitHub-Actions-shaped
// token of the stand-in's local issuer, by the JWT bearer grant (RFC 7523 §2.1) and as a client
// assertion (§2.2), and is refused for a wrong subject and a replay with the same 401.
import * as oauth from 'oauth4webapi'
import { beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient } from './server.ts'

const INSECURE = { [oauth.allowInsecureRequests]: true } as const
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const MAIN = 'repo:example-org/deployer:ref:refs/heads/main'

let as: oauth.AuthorizationServer
let client: oauth.Client
let issuerName: string

async function adminToken(base: string): Promise<string> {
  const admin = seededClient('admin-client')
  const response = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${admin.id}:${admin.secret}`)}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }),
  })
  return ((await response.json()) as { access_token: string }).access_token
}

/** A token the stand-in's issuer gives a workflow run for `sub`, for Portero. */
async function workflowToken(sub: string): Promise<string> {
  const { standIn, base } = readCredentials()
  const response = await fetch(`${standIn}/_control/issuers/${issuerName}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ shape: 'actions', sub, aud: base }),
  })
  return ((await response.json()) as { token: string }).token
}

beforeAll(async () => {
  const { base, standIn } = readCredentials()
  const issuer = new URL(base)
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...INSECURE }),
  )
  issuerName = `ci-${crypto.randomUUID()}`
  const id = `ci-e2e-${crypto.randomUUID()}`
  const created = await fetch(`${base}/admin/clients`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await adminToken(base)}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      id,
      provider_id: null,
      name: id,
      allowed_scopes: ['tokens:introspect'],
      with_secret: false,
      // A localhost issuer is trusted only because Portero's own ISSUER is localhost.
      trusted_issuers: [
        {
          issuer: `${standIn}/issuers/${issuerName}`,
          subject_pattern: 'repo:example-org/deployer:ref:refs/heads/*',
          claims: { repository_owner: 'example-org' },
        },
      ],
    }),
  })
  expect(created.status).toBe(201)
  expect(((await created.json()) as { client_secret: unknown }).client_secret).toBeNull()
  client = { client_id: id }
})

/** client_assertion with the platform's token in place of a self-signed one (RFC 7523 §2.2). */
function platformAssertion(token: string): oauth.ClientAuth {
  return (_as, c, body) => {
    body.set('client_id', c.client_id)
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    body.set('client_assertion', token)
  }
}

/** What oauth4webapi throws for a 401 with its challenge: the body is OAuth's invalid_client. */
async function expectRefused(attempt: Promise<unknown>) {
  const error = (await attempt.then(
    () => null,
    (e: unknown) => e,
  )) as oauth.WWWAuthenticateChallengeError | null
  expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError)
  expect(error!.status).toBe(401)
  expect(await error!.response.json()).toMatchObject({ error: 'invalid_client' })
}

async function bearerGrant(token: string) {
  const parameters = { assertion: token }
  const response = await oauth.genericTokenEndpointRequest(
    as,
    client,
    oauth.None(),
    JWT_BEARER,
    parameters,
    INSECURE,
  )
  return oauth.processGenericTokenEndpointResponse(as, client, response)
}

describe('oauth4webapi with a federated client', () => {
  it('finds the JWT bearer grant in the metadata', () => {
    expect(as.grant_types_supported).toContain(JWT_BEARER)
  })

  it('gets a token by the JWT bearer grant, once per workflow token', async () => {
    const token = await workflowToken(MAIN)
    const result = await bearerGrant(token)
    expect(result.token_type).toBe('bearer')
    expect(result.access_token.split('.')).toHaveLength(3)
    await expectRefused(bearerGrant(token))
  })

  it('gets a token with the workflow token as its client assertion', async () => {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      platformAssertion(await workflowToken('repo:example-org/deployer:ref:refs/heads/release')),
      {},
      INSECURE,
    )
    const result = await oauth.processClientCredentialsResponse(as, client, response)
    expect(result.access_token.split('.')).toHaveLength(3)
  })

  it("refuses another repository's workflow with the same 401", async () => {
    const token = await workflowToken('repo:example-org/other:ref:refs/heads/main')
    await expectRefused(bearerGrant(token))
  })
})
