// Public discovery: the JWK set (RFC 7517) and authorization server metadata (RFC 8414).
import { loadConfig } from '../config.ts'
import { ASSERTION_ALGORITHMS } from '../domain/client-keys.ts'
import { JWT_BEARER_GRANT } from '../domain/federation.ts'
import { DPOP_ALGORITHMS } from '../errors.ts'
import { ALL_SCOPES } from '../domain/scopes.ts'
import { SIGNING_ALGORITHMS } from '../domain/signing-keys.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { json, SECURITY } from '../openapi/operations.ts'
import { Jwks, Metadata } from '../openapi/responses.ts'

export const wellKnown = new OpenApiApp()

const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt']

// Resource servers may cache keys for 5 minutes; publish a new key before it signs (docs/operations.md
// "Rotating the signing key").
const KEYS_CACHE = 'public, max-age=300, stale-while-revalidate=60'

const jwks = createRoute({
  method: 'get',
  path: '/jwks.json',
  operationId: 'getJwks',
  tags: ['Discovery'],
  summary: 'Public signing keys (RFC 7517)',
  security: SECURITY.none,
  responses: { 200: json('The key set.', Jwks) },
})

wellKnown.openapi(jwks, async (c) => {
  const { keys } = await loadConfig(c.env)
  c.header('cache-control', KEYS_CACHE)
  return c.json(keys.publicJwks, 200, { 'content-type': 'application/jwk-set+json' })
})

const metadata = createRoute({
  method: 'get',
  path: '/oauth-authorization-server',
  operationId: 'getServerMetadata',
  tags: ['Discovery'],
  summary: 'Authorization server metadata (RFC 8414)',
  security: SECURITY.none,
  responses: { 200: json('The metadata.', Metadata) },
})

wellKnown.openapi(metadata, async (c) => {
  const { issuer } = await loadConfig(c.env)
  c.header('cache-control', 'public, max-age=3600')
  // Only endpoints that exist are listed (RFC 8414 §2).
  return c.json({
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    // RFC 7523 §2.1 with a trusted issuer's token (decisions.md D38).
    grant_types_supported: ['client_credentials', JWT_BEARER_GRANT],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    // RFC 9701 §8: introspection answers as a JWT when asked, signed with the token keys.
    introspection_signing_alg_values_supported: [...SIGNING_ALGORITHMS],
    response_types_supported: [],
    scopes_supported: ALL_SCOPES,
    access_token_signing_alg_values_supported: [...SIGNING_ALGORITHMS],
    // RFC 9449 §5.1 and RFC 8705 §3.3 (docs/tokens.md "DPoP", "Certificate-bound tokens").
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    tls_client_certificate_bound_access_tokens: true,
  })
})
