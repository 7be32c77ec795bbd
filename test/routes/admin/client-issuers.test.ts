// /admin/clients/{id}/issuers: a client's trusted issuers (decisions.md D38) are replaced as a
// whole and refused, naming the entry at fault, when an issuer could reach inside or a rule is
// unclear; a refused change changes nothing, and removing a trust ends logins with it at once.
import { env } from 'cloudflare:workers'
import { exportJWK, generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import { adminCall, adminToken, json } from '../../helpers/admin.ts'
import { createClient } from '../../helpers/clients.ts'
import { federatedLogin, freshIssuer, platformToken } from '../../helpers/federation.ts'
import { call, expectProblem } from '../../helpers/http.ts'
import { useStandIn } from '../../helpers/stand-in.ts'

type IssuerList = {
  client_id: string
  issuers: {
    issuer: string
    jwks: { keys: Record<string, unknown>[] } | null
    subject: string | null
    subject_pattern: string | null
    audience: string | null
    claims: Record<string, string>
    created_at: string
  }[]
}

const GITHUB = 'https://token.actions.githubusercontent.com'

async function setup() {
  const admin = await adminToken()
  const client = await createClient()
  return { admin, client, path: `/admin/clients/${client.clientId}/issuers` }
}

describe('/admin/clients/{id}/issuers', () => {
  it('replaces and lists the trusted issuers; several subjects of one issuer, several issuers', async () => {
    const { admin, client, path } = await setup()
    expect(await json<IssuerList>(await adminCall(admin, 'GET', path))).toEqual({
      client_id: client.clientId,
      issuers: [],
    })
    const { publicKey } = await generateKeyPair('ES256', { extractable: true })
    const jwk = { ...(await exportJWK(publicKey)), kid: 'cluster-1' }
    const issuers = [
      { issuer: GITHUB, subject: 'repo:org/app:ref:refs/heads/main' },
      {
        issuer: GITHUB,
        subject_pattern: 'repo:org/app:environment:*',
        claims: { repository_owner: 'org' },
      },
      {
        issuer: 'https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE',
        subject: 'system:serviceaccount:billing:notifier',
        audience: 'portero',
        jwks: { keys: [jwk] },
      },
    ]
    const replaced = await json<IssuerList>(await adminCall(admin, 'PUT', path, { issuers }))
    expect(replaced.issuers).toMatchObject([
      {
        issuer: GITHUB,
        subject: issuers[0]!.subject,
        subject_pattern: null,
        jwks: null,
        audience: null,
        claims: {},
      },
      {
        issuer: GITHUB,
        subject: null,
        subject_pattern: 'repo:org/app:environment:*',
        claims: { repository_owner: 'org' },
      },
      { audience: 'portero', jwks: { keys: [{ kid: 'cluster-1', kty: 'EC', alg: 'ES256' }] } },
    ])
    expect(await json<IssuerList>(await adminCall(admin, 'GET', path))).toEqual(replaced)
    // [] trusts none.
    const cleared = await json<IssuerList>(await adminCall(admin, 'PUT', path, { issuers: [] }))
    expect(cleared.issuers).toEqual([])
  })

  it('refuses, naming each entry at fault, and changes nothing', async () => {
    const { admin, path } = await setup()
    const kept = { issuer: GITHUB, subject: 'repo:org/app:ref:refs/heads/main' }
    await json(await adminCall(admin, 'PUT', path, { issuers: [kept] }))
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    const cases: [unknown, string][] = [
      [{ issuer: 'http://issuer.example', subject: 's' }, 'issuers.0.issuer'],
      [{ issuer: 'https://10.0.0.8', subject: 's' }, 'issuers.0.issuer'],
      [{ issuer: 'https://[::ffff:a00:8]', subject: 's' }, 'issuers.0.issuer'],
      [{ issuer: 'https://169.254.169.254/latest', subject: 's' }, 'issuers.0.issuer'],
      // Portero's ISSUER here is not localhost: no localhost issuer either.
      [{ issuer: 'http://localhost:8788/issuers/x', subject: 's' }, 'issuers.0.issuer'],
      [{ issuer: 'https://user:pw@issuer.example', subject: 's' }, 'issuers.0.issuer'],
      [{ issuer: 'https://issuer.example?x=1', subject: 's' }, 'issuers.0.issuer'],
      [{ issuer: 'not a url', subject: 's' }, 'issuers.0.issuer'],
      [{ issuer: GITHUB }, 'issuers.0.subject'],
      [{ issuer: GITHUB, subject: 'a', subject_pattern: 'b*' }, 'issuers.0.subject'],
      [{ issuer: GITHUB, subject_pattern: '*:*' }, 'issuers.0.subject_pattern'],
      [{ issuer: GITHUB, subject: 'a\u0000b' }, 'issuers.0.subject'],
      [{ issuer: GITHUB, subject: 's', claims: { sub: 'x' } }, 'issuers.0.claims.sub'],
      [{ issuer: GITHUB, subject: 's', claims: { aud: 'x' } }, 'issuers.0.claims.aud'],
      [
        {
          issuer: GITHUB,
          subject: 's',
          jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'k' }] },
        },
        'issuers.0.jwks.keys.0',
      ],
      [
        { issuer: GITHUB, subject: 's', jwks: { keys: [{ kty: 'oct', k: 'AAAA', kid: 'k' }] } },
        'issuers.0.jwks.keys.0',
      ],
    ]
    for (const [entry, field] of cases) {
      const response = await adminCall(admin, 'PUT', path, { issuers: [entry] })
      const body = await expectProblem(response, 400, 'invalid_request')
      const paths = (body.errors as { path: string }[]).map((e) => e.path)
      expect(paths, JSON.stringify(entry)).toContain(field)
    }
    const twice = await adminCall(admin, 'PUT', path, { issuers: [kept, kept] })
    const body = await expectProblem(twice, 400, 'invalid_request')
    expect(body.errors).toEqual([{ path: 'issuers.1.subject', message: expect.any(String) }])
    const many = Array.from({ length: 11 }, (_, i) => ({ issuer: GITHUB, subject: `s${i}` }))
    await expectProblem(
      await adminCall(admin, 'PUT', path, { issuers: many }),
      400,
      'invalid_request',
    )
    const long = { issuer: `${GITHUB}/${'a'.repeat(600)}`, subject: 's' }
    await expectProblem(
      await adminCall(admin, 'PUT', path, { issuers: [long] }),
      400,
      'invalid_request',
    )
    await expectProblem(
      await adminCall(admin, 'PUT', path, { issuers: [{ ...kept, extra: 1 }] }),
      400,
      'invalid_request',
    )
    await expectProblem(await adminCall(admin, 'PUT', path, '{"issuers": ['), 400, 'invalid_json')
    await expectProblem(await adminCall(admin, 'PUT', path, {}), 400, 'invalid_request')
    const listed = await json<IssuerList>(await adminCall(admin, 'GET', path))
    expect(listed.issuers).toMatchObject([kept])
  })

  it('answers 404 for an unknown client, and 415 for a body that is not JSON', async () => {
    const admin = await adminToken()
    const path = `/admin/clients/nobody-${crypto.randomUUID()}/issuers`
    await expectProblem(await adminCall(admin, 'GET', path), 404, 'not_found')
    await expectProblem(await adminCall(admin, 'PUT', path, { issuers: [] }), 404, 'not_found')
    const response = await call((await setup()).path, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'text/plain' },
      body: '{"issuers": []}',
    })
    await expectProblem(response, 415, 'unsupported_media_type')
  })

  it('creates a client with trusted issuers and no secret; removing the trust ends its logins', async () => {
    const standIn = useStandIn()
    const admin = await adminToken()
    const issuer = freshIssuer()
    const sub = 'repo:org/app:ref:refs/heads/main'
    const id = `ci-${crypto.randomUUID()}`
    const created = await adminCall(admin, 'POST', '/admin/clients', {
      id,
      provider_id: null,
      name: id,
      allowed_scopes: ['tokens:introspect'],
      with_secret: false,
      trusted_issuers: [{ issuer: issuer.url, subject: sub }],
    })
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ client_id: id, client_secret: null })
    const login = async () =>
      federatedLogin('client_assertion', id, await platformToken(standIn, issuer.name, { sub }))
    expect((await login()).status).toBe(200)
    await json(await adminCall(admin, 'PUT', `/admin/clients/${id}/issuers`, { issuers: [] }))
    expect((await login()).status).toBe(401)
    // Without a secret, a client needs keys or trusted issuers.
    const bare = await adminCall(admin, 'POST', '/admin/clients', {
      provider_id: null,
      name: `bare-${crypto.randomUUID()}`,
      allowed_scopes: ['tokens:introspect'],
      with_secret: false,
    })
    await expectProblem(bare, 400, 'invalid_request')
    expect(env.ISSUER).not.toMatch(/localhost/)
  })
})
