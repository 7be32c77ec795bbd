import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { call } from '../helpers/http.ts'
import { workerSigningKey } from '../helpers/keys.ts'

describe('GET /.well-known/jwks.json', () => {
  it('publishes the public half of every key, cacheable', async () => {
    const response = await call('/.well-known/jwks.json')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json')
    expect(response.headers.get('cache-control')).toContain('max-age=300')
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] }
    const { kid, x, y } = workerSigningKey()
    expect(keys).toEqual([{ kid, alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256', x, y }])
    expect(keys.some((k) => 'd' in k)).toBe(false)
  })
})

describe('GET /.well-known/oauth-authorization-server', () => {
  it('lists only the endpoints that exist, under the configured issuer', async () => {
    const response = await call('/.well-known/oauth-authorization-server')
    expect(response.status).toBe(200)
    const metadata = (await response.json()) as Record<string, unknown>
    expect(metadata).toMatchObject({
      issuer: env.ISSUER,
      token_endpoint: `${env.ISSUER}/oauth/token`,
      jwks_uri: `${env.ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
      introspection_endpoint: `${env.ISSUER}/oauth/introspect`,
      revocation_endpoint: `${env.ISSUER}/oauth/revoke`,
    })
    // Client authentication (RFC 8414 §2): secrets, and private_key_jwt with its algorithms.
    const methods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt']
    const algorithms = ['ES256', 'EdDSA', 'Ed25519', 'RS256']
    for (const endpoint of ['token', 'introspection', 'revocation']) {
      expect(metadata[`${endpoint}_endpoint_auth_methods_supported`]).toEqual(methods)
      expect(metadata[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual(algorithms)
    }
    // RFC 8414 §2: "none" must not be listed for client authentication; nor is any HMAC, which
    // would need a shared secret. Every algorithm list the metadata advertises, now or later.
    const lists = Object.keys(metadata).filter((name) => name.endsWith('_alg_values_supported'))
    expect(lists.length).toBeGreaterThanOrEqual(5)
    for (const name of lists) {
      for (const alg of metadata[name] as string[]) expect(alg, name).not.toMatch(/^(none|HS)/i)
    }
    // RFC 9701 §8: introspection answers signed as JWTs, with the token keys' algorithms.
    expect(metadata.introspection_signing_alg_values_supported).toEqual(['ES256', 'EdDSA'])
    for (const [name, value] of Object.entries(metadata)) {
      if (!name.endsWith('_endpoint') && name !== 'jwks_uri') continue
      const path = new URL(value as string).pathname
      const method = name === 'jwks_uri' ? 'GET' : 'POST'
      const answer = await call(path, { method })
      expect(answer.status, `${name} ${path}`).not.toBe(404)
    }
  })
})
