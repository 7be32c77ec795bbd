// Federated clients (decisions.md D38) at /oauth/token: a client with no secret and no key of its
// own authenticates with a token its trusted issuer gave its workload, as a client assertion
// (RFC 7523 §2.2) or as the JWT bearer grant (RFC 7523 §2.1). Tokens are GitHub-Actions- and
// Kubernetes-shaped, from the stand-in's issuers (stand-in/issuers.ts) reached through the fetch
// spy; every defect gets the same 401 as a wrong secret, for the reason the audit log names.
import { env } from 'cloudflare:workers'
import { decodeJwt, SignJWT, base64url } from 'jose'
import { describe, expect, it } from 'vitest'
import { issuerKeysKey } from '../../src/storage/issuer-keys.ts'
import { forgetIssuerFetches } from '../../src/domain/federation.ts'
import { eventuallyAudited } from '../helpers/audit.ts'
import {
  controlIssuer,
  createFederatedClient,
  federatedLogin,
  freshIssuer,
  JWT_BEARER,
  platformToken,
  type Way,
} from '../helpers/federation.ts'
import { basicAuth, expectProblem, freshIp, postForm } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'

const WAYS: Way[] = ['client_assertion', 'jwt-bearer grant']
const MAIN = 'repo:example-org/deployer:ref:refs/heads/main'

/** The one answer every failed client authentication gets. */
async function expectRefused(response: Response) {
  const body = await expectProblem(response, 401, 'invalid_client', 'application/json')
  expect(body.error).toBe('invalid_client')
  expect(body.detail).toBe(
    'Client authentication failed: unknown client, wrong secret or disabled client.',
  )
}

/** The reasons the audit log gives for the client's failed logins. */
async function auditedReasons(clientId: string, count: number): Promise<string[]> {
  const read = async () => {
    const { results } = await env.DB.prepare(
      `SELECT detail FROM audit_events WHERE target = ?1 AND action = 'login.failed' ORDER BY id`,
    )
      .bind(clientId)
      .all<{ detail: string }>()
    return results.map((r) => (JSON.parse(r.detail) as { reason: string }).reason)
  }
  return eventuallyAudited(read, (reasons) => reasons.length >= count)
}

/** A client trusting a fresh issuer for `main` of one repository, as a CI pipeline would. */
async function actionsClient(trust: Record<string, unknown> = {}) {
  const issuer = freshIssuer()
  const client = await createFederatedClient([
    { issuer: issuer.url, subject: MAIN, claims: { repository_owner: 'example-org' }, ...trust },
  ])
  return { issuer, ...client }
}

describe('a federated client gets a token from its workload', () => {
  for (const way of WAYS) {
    it(`with a GitHub-Actions-shaped token, by ${way}`, async () => {
      const standIn = useStandIn()
      const { issuer, clientId } = await actionsClient()
      const token = await platformToken(standIn, issuer.name, { sub: MAIN })
      const response = await federatedLogin(way, clientId, token)
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const body = (await response.json()) as { access_token: string; token_type: string }
      expect(body.token_type).toBe('Bearer')
      expect(decodeJwt(body.access_token)).toMatchObject({ sub: clientId, client_id: clientId })
    })
  }

  it('tells apart clients that trust one issuer with different subjects', async () => {
    const standIn = useStandIn()
    const issuer = freshIssuer()
    const staging = `${MAIN.replace(':ref:refs/heads/main', '')}:environment:staging`
    const [main, stage] = await Promise.all([
      createFederatedClient([{ issuer: issuer.url, subject: MAIN }]),
      createFederatedClient([{ issuer: issuer.url, subject: staging }]),
    ])
    const token = (sub: string) => platformToken(standIn, issuer.name, { sub })
    expect(
      (await federatedLogin('jwt-bearer grant', main.clientId, await token(MAIN))).status,
    ).toBe(200)
    expect(
      (await federatedLogin('jwt-bearer grant', stage.clientId, await token(staging))).status,
    ).toBe(200)
    await expectRefused(await federatedLogin('jwt-bearer grant', stage.clientId, await token(MAIN)))
    await expectRefused(
      await federatedLogin('jwt-bearer grant', main.clientId, await token(staging)),
    )
  })

  it('authenticates at introspection too, as any client assertion does', async () => {
    const standIn = useStandIn()
    const { issuer, clientId } = await actionsClient()
    const login = await federatedLogin(
      'jwt-bearer grant',
      clientId,
      await platformToken(standIn, issuer.name, { sub: MAIN }),
    )
    const { access_token } = (await login.json()) as { access_token: string }
    const response = await postForm(
      '/oauth/introspect',
      {
        token: access_token,
        client_id: clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await platformToken(standIn, issuer.name, { sub: MAIN }),
      },
      { 'cf-connecting-ip': freshIp() },
    )
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ active: true, client_id: clientId })
  })

  it('with a Kubernetes-shaped token (aud an array) and an exact subject', async () => {
    const standIn = useStandIn()
    const issuer = freshIssuer()
    const sub = 'system:serviceaccount:billing:notifier'
    const { clientId } = await createFederatedClient([{ issuer: issuer.url, subject: sub }])
    const token = await platformToken(standIn, issuer.name, { shape: 'kubernetes', sub })
    expect(decodeJwt(token).aud).toEqual([env.ISSUER])
    expect((await federatedLogin('jwt-bearer grant', clientId, token)).status).toBe(200)
  })

  it('with a subject pattern, an audience of its own and a fixed key set, fetching nothing', async () => {
    const standIn = useStandIn()
    const issuer = freshIssuer()
    const { kids } = await controlIssuer(standIn, issuer.name, {})
    const jwks = standIn.issuers.get(issuer.name)!.keys.map((key) => key.publicJwk)
    expect(jwks.map((key) => key.kid)).toEqual(kids)
    const { clientId } = await createFederatedClient([
      {
        issuer: issuer.url,
        subject_pattern: 'repo:example-org/*:ref:refs/heads/*',
        audience: 'portero-ci',
        jwks: { keys: jwks },
      },
    ])
    const sub = 'repo:example-org/site:ref:refs/heads/release'
    const token = await platformToken(standIn, issuer.name, { sub, aud: 'portero-ci' })
    expect((await federatedLogin('client_assertion', clientId, token)).status).toBe(200)
    const counters = await controlIssuer(standIn, issuer.name, {})
    expect(counters.discovery_requests + counters.jwks_requests).toBe(0)
    // The pattern's `*` stops at a colon: another kind of subject is not matched.
    const other = await platformToken(standIn, issuer.name, {
      sub: 'repo:example-org/site:environment:prod:ref:refs/heads/x',
      aud: 'portero-ci',
    })
    await expectRefused(await federatedLogin('client_assertion', clientId, other))
  })

  it("keeps the issuer's keys in KV, and fetches them again only for an unknown kid", async () => {
    const standIn = useStandIn()
    forgetIssuerFetches()
    const { issuer, clientId } = await actionsClient()
    const login = async () =>
      federatedLogin(
        'client_assertion',
        clientId,
        await platformToken(standIn, issuer.name, { sub: MAIN }),
      )
    expect((await login()).status).toBe(200)
    const key = await issuerKeysKey(issuer.url)
    const cached = await eventually(
      () => env.CACHE.get(key, 'json'),
      (value) => value !== null,
    )
    expect(cached).toMatchObject({ keys: [{ kty: 'RSA' }] })
    expect((await login()).status).toBe(200)
    expect(await controlIssuer(standIn, issuer.name, {})).toMatchObject({
      discovery_requests: 1,
      jwks_requests: 1,
    })
  })
})

describe('a federated client is refused, with the same 401, for', () => {
  const now = () => Math.floor(Date.now() / 1000)
  const defects: {
    name: string
    reason: string
    token: (
      standIn: ReturnType<typeof useStandIn>,
      issuer: { name: string; url: string },
    ) => Promise<string>
  }[] = [
    {
      name: 'another subject (another branch)',
      reason: 'assertion_sub_invalid',
      token: (s, i) =>
        platformToken(s, i.name, { sub: 'repo:example-org/deployer:ref:refs/heads/feature' }),
    },
    {
      name: 'another audience',
      reason: 'assertion_aud_invalid',
      token: (s, i) => platformToken(s, i.name, { sub: MAIN, aud: 'https://other.example' }),
    },
    {
      name: 'several audiences, Portero among them',
      reason: 'assertion_aud_invalid',
      token: (s, i) =>
        platformToken(s, i.name, {
          sub: MAIN,
          claims: { aud: [env.ISSUER, 'https://other.example'] },
        }),
    },
    {
      name: 'another issuer with the same subject',
      reason: 'issuer_not_trusted',
      token: (s) => platformToken(s, freshIssuer().name, { sub: MAIN }),
    },
    {
      name: 'a required claim with another value',
      reason: 'assertion_claim_invalid',
      token: (s, i) =>
        platformToken(s, i.name, { sub: MAIN, claims: { repository_owner: 'attacker-org' } }),
    },
    {
      name: 'an expired token',
      reason: 'assertion_expired',
      token: (s, i) =>
        platformToken(s, i.name, {
          sub: MAIN,
          claims: { iat: now() - 900, nbf: now() - 900, exp: now() - 600 },
        }),
    },
    {
      name: 'a token living more than an hour',
      reason: 'assertion_exp_too_far',
      token: (s, i) => platformToken(s, i.name, { sub: MAIN, claims: { exp: now() + 7200 } }),
    },
    {
      name: 'a key the issuer does not publish, after the one refresh',
      reason: 'assertion_key_unknown',
      token: (s, i) => platformToken(s, i.name, { sub: MAIN, unpublished: true }),
    },
    {
      name: 'a token of another kind (typ at+jwt)',
      reason: 'assertion_typ_refused',
      token: (s, i) => platformToken(s, i.name, { sub: MAIN, header: { typ: 'at+jwt' } }),
    },
    {
      name: 'an HMAC-signed token',
      reason: 'assertion_alg_refused',
      token: async (_, i) =>
        new SignJWT({ iss: i.url, sub: MAIN, aud: env.ISSUER, jti: crypto.randomUUID() })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(new Uint8Array(32)),
    },
    {
      name: 'an unsigned token (alg none)',
      reason: 'assertion_alg_refused',
      token: async (_, i) => {
        const part = (value: unknown) => base64url.encode(JSON.stringify(value))
        const claims = { iss: i.url, sub: MAIN, aud: env.ISSUER, exp: now() + 300 }
        return `${part({ alg: 'none' })}.${part(claims)}.${base64url.encode('x')}`
      },
    },
  ]

  for (const way of WAYS) {
    it(`each defect, by ${way}`, async () => {
      const standIn = useStandIn()
      const { issuer, clientId } = await actionsClient()
      for (const defect of defects) {
        const response = await federatedLogin(way, clientId, await defect.token(standIn, issuer))
        await expectRefused(response)
      }
      expect(await auditedReasons(clientId, defects.length)).toEqual(
        defects.map((defect) => defect.reason),
      )
    })
  }

  it('a replayed token, within its life, wherever it was used first', async () => {
    const standIn = useStandIn()
    const { issuer, clientId } = await actionsClient()
    const token = await platformToken(standIn, issuer.name, { sub: MAIN })
    expect((await federatedLogin('client_assertion', clientId, token)).status).toBe(200)
    await expectRefused(await federatedLogin('client_assertion', clientId, token))
    await expectRefused(await federatedLogin('jwt-bearer grant', clientId, token))
    expect(await auditedReasons(clientId, 2)).toEqual(['assertion_replayed', 'assertion_replayed'])
  })

  it('an issuer whose key set answers too slowly, or with garbage: a fetch that fails refuses', async () => {
    const standIn = useStandIn()
    forgetIssuerFetches()
    const slow = await actionsClient()
    await controlIssuer(standIn, slow.issuer.name, { slow_ms: 10_000 })
    const started = Date.now()
    await expectRefused(
      await federatedLogin(
        'client_assertion',
        slow.clientId,
        await platformToken(standIn, slow.issuer.name, { sub: MAIN }),
      ),
    )
    expect(Date.now() - started).toBeLessThan(8000)
    const garbage = await actionsClient()
    await controlIssuer(standIn, garbage.issuer.name, { garbage: true })
    await expectRefused(
      await federatedLogin(
        'jwt-bearer grant',
        garbage.clientId,
        await platformToken(standIn, garbage.issuer.name, { sub: MAIN }),
      ),
    )
    expect(await auditedReasons(slow.clientId, 1)).toEqual(['issuer_keys_unavailable'])
    expect(await auditedReasons(garbage.clientId, 1)).toEqual(['issuer_keys_unavailable'])
    expect(await env.CACHE.get(await issuerKeysKey(garbage.issuer.url))).toBeNull()
  }, 20_000)

  it('a new kid: the keys are fetched again once, and not again within the minute', async () => {
    const standIn = useStandIn()
    forgetIssuerFetches()
    const { issuer, clientId } = await actionsClient()
    const login = async (request: Parameters<typeof platformToken>[2]) =>
      federatedLogin(
        'client_assertion',
        clientId,
        await platformToken(standIn, issuer.name, request),
      )
    expect((await login({ sub: MAIN })).status).toBe(200)
    await controlIssuer(standIn, issuer.name, { rotate: true })
    // Within the minute of the first fetch: the new kid is not fetched for yet.
    await expectRefused(await login({ sub: MAIN }))
    expect((await controlIssuer(standIn, issuer.name, {})).jwks_requests).toBe(1)
    // A minute later (the cached keys and this isolate's memory both say so), it is, once.
    const key = await issuerKeysKey(issuer.url)
    const cached = (await eventually(
      () => env.CACHE.get<{ keys: unknown[]; fetchedAt: number }>(key, 'json'),
      (value) => value !== null,
    ))!
    await env.CACHE.put(key, JSON.stringify({ ...cached, fetchedAt: cached.fetchedAt - 61 }))
    forgetIssuerFetches()
    expect((await login({ sub: MAIN })).status).toBe(200)
    await expectRefused(await login({ sub: MAIN, unpublished: true }))
    expect((await controlIssuer(standIn, issuer.name, {})).jwks_requests).toBe(2)
  })
})

describe('POST /oauth/token, the JWT bearer grant: what it takes', () => {
  it('answers 400 invalid_request without an assertion, or with other client authentication', async () => {
    const standIn = useStandIn()
    const { issuer, clientId } = await actionsClient()
    const token = await platformToken(standIn, issuer.name, { sub: MAIN })
    const cases: [Record<string, string>, Record<string, string>][] = [
      [{ grant_type: JWT_BEARER, client_id: clientId }, {}],
      [{ grant_type: JWT_BEARER, client_id: clientId, assertion: '' }, {}],
      [{ grant_type: JWT_BEARER, assertion: token }, { authorization: basicAuth(clientId, 'x') }],
      [{ grant_type: JWT_BEARER, client_id: clientId, assertion: token, client_secret: 'x' }, {}],
      [
        {
          grant_type: JWT_BEARER,
          client_id: clientId,
          assertion: token,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: token,
        },
        {},
      ],
    ]
    for (const [fields, headers] of cases) {
      const response = await postForm('/oauth/token', fields, {
        'cf-connecting-ip': freshIp(),
        ...headers,
      })
      await expectProblem(response, 400, 'invalid_request', 'application/json')
    }
    // Nothing was used up: the token still works.
    expect((await federatedLogin('jwt-bearer grant', clientId, token)).status).toBe(200)
  })

  it('answers the same 401 for a malformed or oversized assertion, and an unknown or missing client', async () => {
    const standIn = useStandIn()
    const { issuer, clientId } = await actionsClient()
    const token = await platformToken(standIn, issuer.name, { sub: MAIN })
    // Larger than any login: refused before it is read (decisions.md D22).
    const oversized = {
      grant_type: JWT_BEARER,
      client_id: clientId,
      assertion: `${token}${'A'.repeat(4096)}`,
    }
    await expectProblem(
      await postForm('/oauth/token', oversized),
      413,
      'payload_too_large',
      'application/json',
    )
    for (const [id, assertion] of [
      [clientId, 'not-a-jwt'],
      [clientId, `${token.slice(0, -8)}AAAAAAAA`],
      [`nobody-${crypto.randomUUID()}`, token],
      ['', token],
    ] as const) {
      const fields: Record<string, string> = { grant_type: JWT_BEARER, assertion }
      if (id) fields.client_id = id
      await expectRefused(await postForm('/oauth/token', fields, { 'cf-connecting-ip': freshIp() }))
    }
  })

  it('counts failures against the same locks as a wrong secret', async () => {
    const standIn = useStandIn()
    const { issuer, clientId } = await actionsClient()
    const ip = freshIp()
    const wrong = await platformToken(standIn, issuer.name, { sub: `${MAIN}x` })
    let status = 401
    for (let i = 0; i < 12 && status === 401; i++) {
      status = (await federatedLogin('jwt-bearer grant', clientId, wrong, ip)).status
    }
    expect(status).toBe(429)
    const good = await platformToken(standIn, issuer.name, { sub: MAIN })
    const locked = await federatedLogin('jwt-bearer grant', clientId, good, ip)
    await expectProblem(locked, 429, 'rate_limited', 'application/json')
    // From an address that is not locked, the client still gets its token (decisions.md D18).
    expect((await federatedLogin('jwt-bearer grant', clientId, good)).status).toBe(200)
  })
})
