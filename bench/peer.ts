// The peer `npm run bench` measures Portero against: oidc-provider (an OpenID-certified OAuth 2.0
// authorization server for Node.js) as a client_credentials server, run by bench/run.ts as its own
// Node process on loopback. One client with client_secret_basic; one resource whose access tokens
// are ES256 JWTs (RFC 9068, chosen by RFC 8707 resource indicators) and one whose tokens are opaque
// and answered by its RFC 7662 introspection endpoint; its default in-memory adapter for storage.
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import Provider, { errors, type JWK } from 'oidc-provider'

export const PEER_PORT = 8795
export const PEER_BASE = `http://127.0.0.1:${PEER_PORT}`
export const PEER_CLIENT = {
  id: 'bench-client',
  secret: 'bench-peer-client-secret-0123456789abcdef',
}
/** Access tokens for this resource are ES256-signed JWTs, as Portero's are. */
export const JWT_RESOURCE = 'https://jwt.api.bench.test/'
/** Access tokens for this resource are opaque, stored in the adapter, checked by introspection. */
export const OPAQUE_RESOURCE = 'https://opaque.api.bench.test/'
export const PEER_SCOPE = 'api:read'
/** Printed on stdout once the server accepts connections. */
export const PEER_READY = 'peer listening'

export function createPeer(): Provider {
  // ES256 signs the access tokens; RS256 is there only because the ID-token defaults ask for it.
  const jwk = (type: 'ec' | 'rsa', alg: string): JWK => {
    const { privateKey } =
      type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 })
    return {
      ...(privateKey.export({ format: 'jwk' }) as JWK),
      alg,
      use: 'sig',
      kid: alg.toLowerCase(),
    }
  }
  const resources: Record<string, { accessTokenFormat: 'jwt' | 'opaque' }> = {
    [JWT_RESOURCE]: { accessTokenFormat: 'jwt' },
    [OPAQUE_RESOURCE]: { accessTokenFormat: 'opaque' },
  }
  return new Provider(PEER_BASE, {
    clients: [
      {
        client_id: PEER_CLIENT.id,
        client_secret: PEER_CLIENT.secret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: PEER_SCOPE,
      },
    ],
    jwks: { keys: [jwk('ec', 'ES256'), jwk('rsa', 'RS256')] },
    scopes: [PEER_SCOPE],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Only the two resources above; a client_credentials request must name one.
        async getResourceServerInfo(_ctx, indicator) {
          const resource = resources[indicator]
          if (!resource) throw new errors.InvalidTarget()
          const jwt =
            resource.accessTokenFormat === 'jwt' ? { jwt: { sign: { alg: 'ES256' as const } } } : {}
          return { scope: PEER_SCOPE, accessTokenTTL: 3600, ...resource, ...jwt }
        },
      },
    },
  })
}

if (import.meta.main) {
  const provider = createPeer()
  const server = createServer(provider.callback())
  server.listen(PEER_PORT, '127.0.0.1', () => process.stdout.write(`${PEER_READY}\n`))
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
}
