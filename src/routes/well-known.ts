// Public discovery: the JWK set (RFC 7517) and authorization server metadata (RFC 8414).
import { Hono } from 'hono'
import { loadConfig } from '../config.ts'
import type { AppEnv } from '../http/app-env.ts'
import { ALL_SCOPES } from '../domain/scopes.ts'
import { SIGNING_ALGORITHMS } from '../domain/signing-keys.ts'

export const wellKnown = new Hono<AppEnv>()

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post']

// Resource servers may cache keys for 5 minutes; publish a new key before it signs (README).
const KEYS_CACHE = 'public, max-age=300, stale-while-revalidate=60'

wellKnown.get('/jwks.json', async (c) => {
  const { keys } = await loadConfig(c.env)
  c.header('cache-control', KEYS_CACHE)
  return c.json(keys.publicJwks, 200, { 'content-type': 'application/jwk-set+json' })
})

wellKnown.get('/oauth-authorization-server', async (c) => {
  const { issuer } = await loadConfig(c.env)
  c.header('cache-control', 'public, max-age=3600')
  // Only endpoints that exist are listed (RFC 8414 §2).
  return c.json({
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    response_types_supported: [],
    scopes_supported: ALL_SCOPES,
    access_token_signing_alg_values_supported: [...SIGNING_ALGORITHMS],
  })
})
