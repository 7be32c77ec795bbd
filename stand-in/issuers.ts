// Workload identity issuers, as CI platforms and Kubernetes run them: each serves OpenID discovery
// and its JWK set, and mints tokens of its platform's shape (GitHub Actions' OIDC token, a
// Kubernetes projected service-account token) for a test or a developer to hand to a client.
// It can answer slowly or with garbage, and rotate or hide its keys. Independent of Portero's code.
import { Hono } from 'hono'
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose'

export type Shape = 'actions' | 'kubernetes'

type SigningKey = { kid: string; privateKey: CryptoKey; publicJwk: JWK }

export type PlatformIssuer = {
  /** Published keys, newest last: the newest signs. */
  keys: SigningKey[]
  /** The next this-many key-set requests wait this long before answering. */
  slowMs: number
  /** The key set answers a body that is not a JWK set. */
  garbage: boolean
  /** How many times discovery and the key set were asked for. */
  discoveryRequests: number
  jwksRequests: number
}

export type PlatformIssuers = Map<string, PlatformIssuer>

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const kid = crypto.randomUUID().replaceAll('-', '')
  return {
    kid,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  }
}

/** The issuer called `name`, made with one key on first use. */
export async function issuerOf(issuers: PlatformIssuers, name: string): Promise<PlatformIssuer> {
  let issuer = issuers.get(name)
  if (!issuer) {
    issuer = { keys: [], slowMs: 0, garbage: false, discoveryRequests: 0, jwksRequests: 0 }
    issuers.set(name, issuer)
    issuer.keys.push(await newKey())
  }
  return issuer
}

/** The claims a platform puts in its tokens, for `sub` and `aud`. */
function claimsOf(shape: Shape, sub: string, aud: string, now: number): JWTPayload {
  if (shape === 'kubernetes') {
    // A projected service-account token (TokenRequest API): `sub` system:serviceaccount:ns:name.
    const [, , namespace = 'default', serviceAccount = 'default'] = sub.split(':')
    return {
      aud: [aud],
      exp: now + 3600,
      iat: now,
      nbf: now,
      jti: crypto.randomUUID(),
      sub,
      'kubernetes.io': {
        namespace,
        pod: { name: `${serviceAccount}-7d9f8b6c5-x2k4q`, uid: crypto.randomUUID() },
        serviceaccount: { name: serviceAccount, uid: crypto.randomUUID() },
      },
    }
  }
  // GitHub Actions' OIDC token: `sub` repo:owner/name:ref:refs/heads/branch (or environment:…).
  const repository = /^repo:([^:]+)/.exec(sub)?.[1] ?? 'example-org/example-repo'
  const ref = /:ref:(.+)$/.exec(sub)?.[1] ?? 'refs/heads/main'
  return {
    jti: crypto.randomUUID(),
    sub,
    aud,
    ref,
    sha: 'a'.repeat(40),
    repository,
    repository_owner: repository.split('/')[0],
    repository_visibility: 'private',
    run_id: '6020417331',
    run_number: '42',
    run_attempt: '1',
    actor: 'octocat',
    workflow: 'deploy',
    event_name: 'push',
    ref_type: 'branch',
    job_workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
    runner_environment: 'github-hosted',
    nbf: now - 5,
    iat: now,
    exp: now + 300,
  }
}

/**
 * Mounts `/issuers/{name}/.well-known/openid-configuration`, `/issuers/{name}/jwks` and the
 * controls: `POST /_control/issuers/{name}/tokens` `{shape, sub, aud, claims?, header?, unpublished?}`
 * answers `{token}`; `PUT /_control/issuers/{name}` `{slow_ms?, garbage?, rotate?}`.
 */
export function addPlatformIssuers(app: Hono, issuers: PlatformIssuers): void {
  const issuerUrl = (url: string, name: string) => `${new URL(url).origin}/issuers/${name}`

  app.get('/issuers/:name/.well-known/openid-configuration', async (c) => {
    const issuer = await issuerOf(issuers, c.req.param('name'))
    issuer.discoveryRequests += 1
    const iss = issuerUrl(c.req.url, c.req.param('name'))
    return c.json({
      issuer: iss,
      jwks_uri: `${iss}/jwks`,
      subject_types_supported: ['public'],
      response_types_supported: ['id_token'],
      id_token_signing_alg_values_supported: ['RS256'],
    })
  })

  app.get('/issuers/:name/jwks', async (c) => {
    const issuer = await issuerOf(issuers, c.req.param('name'))
    issuer.jwksRequests += 1
    if (issuer.slowMs > 0) await new Promise((resolve) => setTimeout(resolve, issuer.slowMs))
    if (issuer.garbage) return c.text('<html>Service Unavailable</html>', 200)
    return c.json({ keys: issuer.keys.map((key) => key.publicJwk) })
  })

  app.post('/_control/issuers/:name/tokens', async (c) => {
    const name = c.req.param('name')
    const issuer = await issuerOf(issuers, name)
    const body = (await c.req.json()) as {
      shape?: Shape
      sub: string
      aud: string
      claims?: JWTPayload
      header?: Record<string, unknown>
      unpublished?: boolean
    }
    const now = Math.floor(Date.now() / 1000)
    const key = body.unpublished ? await newKey() : issuer.keys.at(-1)!
    const token = await new SignJWT({
      iss: issuerUrl(c.req.url, name),
      ...claimsOf(body.shape ?? 'actions', body.sub, body.aud, now),
      ...body.claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...body.header })
      .sign(key.privateKey)
    return c.json({ token, kid: key.kid })
  })

  app.put('/_control/issuers/:name', async (c) => {
    const issuer = await issuerOf(issuers, c.req.param('name'))
    const body = (await c.req.json()) as { slow_ms?: number; garbage?: boolean; rotate?: boolean }
    if (body.slow_ms !== undefined) issuer.slowMs = body.slow_ms
    if (body.garbage !== undefined) issuer.garbage = body.garbage
    if (body.rotate) issuer.keys.push(await newKey())
    return c.json({
      kids: issuer.keys.map((key) => key.kid),
      discovery_requests: issuer.discoveryRequests,
      jwks_requests: issuer.jwksRequests,
    })
  })
}
