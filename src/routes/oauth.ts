// POST /oauth/token: RFC 6749 §4.4 client credentials grant, and RFC 7523 §2.1 JWT bearer grant
// with a platform's token (decisions.md D38).
import * as z from 'zod'
import { AppError, fieldError } from '../errors.ts'
import { loginClient } from '../domain/login.ts'
import {
  AssertionFields,
  clientIp,
  readBearerGrant,
  readClientCredentials,
} from '../http/client-auth.ts'
import { JWT_BEARER_GRANT } from '../domain/federation.ts'
import { confirmationFor } from '../domain/token-binding.ts'
import { currentNonce } from '../domain/dpop.ts'
import { loginDeps, proofDeps } from '../http/deps.ts'
import { bindingMaterial } from '../http/possession.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { formBody, json, oauthProblems, SECURITY } from '../openapi/operations.ts'
import { TokenResponse } from '../openapi/responses.ts'

export const oauth = new OpenApiApp()

// RFC 6749 §3.1: parameters sent without a value are treated as omitted; none may repeat,
// except RFC 8707's `resource`.
const single = (name: string) =>
  z
    .string({ error: `${name} must be sent once` })
    .optional()
    .transform((v) => (v === '' ? undefined : v))
const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/ // RFC 6749 §3.3 scope-token

export const TokenRequest = z.object({
  grant_type: single('grant_type'),
  scope: single('scope'),
  audience: single('audience'),
  resource: z.union([z.string(), z.array(z.string())]).optional(),
  client_id: single('client_id'),
  client_secret: single('client_secret'),
  client_assertion_type: single('client_assertion_type').meta(
    AssertionFields.client_assertion_type.meta() ?? {},
  ),
  client_assertion: single('client_assertion').meta(AssertionFields.client_assertion.meta() ?? {}),
  assertion: single('assertion').meta({
    description:
      `With grant_type \`${JWT_BEARER_GRANT}\` (RFC 7523 §2.1): a token a trusted issuer gave ` +
      "the client's workload, sent with client_id and no other client authentication " +
      '(docs/tokens.md "Federated clients").',
  }),
})

// The form is read by validateForm (src/http/openapi-app.ts), in one pass: the hot path.
const token = createRoute({
  method: 'post',
  path: '/token',
  operationId: 'issueToken',
  tags: ['Tokens'],
  summary: 'OAuth 2.0 client credentials grant (RFC 6749 §4.4) and JWT bearer grant (RFC 7523)',
  description:
    '`client_credentials` with any client authentication, or the JWT bearer grant ' +
    `(\`${JWT_BEARER_GRANT}\`) with a trusted issuer's token as \`assertion\` and \`client_id\`; ` +
    "a trusted issuer's token is also taken as `client_assertion` (docs/tokens.md " +
    '"Federated clients"). Every failed authentication is the same 401 `invalid_client`. ' +
    'With a `DPoP` proof (RFC 9449: `htm` POST, `htu` this URL) the token is bound to its key: ' +
    '`token_type` `DPoP`, `cnf.jkt` in the token, and a `DPoP-Nonce` header for the next proof. ' +
    'A client with `dpop_bound_access_tokens` must send one carrying a server nonce: without ' +
    'one, 400 `invalid_dpop_proof`; without the nonce, 400 `use_dpop_nonce` and the nonce in ' +
    '`DPoP-Nonce`. Over a client certificate Cloudflare verified (mTLS) the token is bound to ' +
    'it (RFC 8705 §3: `cnf["x5t#S256"]`). docs/tokens.md "DPoP", "Certificate-bound tokens".',
  security: SECURITY.client,
  request: {
    headers: z.object({
      dpop: z.string().optional().meta({
        description: 'A DPoP proof (RFC 9449 §4): binds the token to its key.',
      }),
    }),
    body: formBody(TokenRequest, { grant_type: 'client_credentials', scope: 'services:send' }),
  },
  responses: {
    200: json('The access token (`Cache-Control: no-store`).', TokenResponse),
    ...oauthProblems(400, 401, 413, 415, 429),
  },
})

oauth.openapi(token, async (c) => {
  const form = c.req.valid('form')
  if (!form.grant_type) {
    throw fieldError('grant_type', 'required', 'grant_type is required.')
  }
  const bearerGrant = form.grant_type === JWT_BEARER_GRANT
  if (form.grant_type !== 'client_credentials' && !bearerGrant) {
    throw new AppError(
      'unsupported_grant_type',
      `grant_type must be client_credentials or ${JWT_BEARER_GRANT}.`,
    )
  }
  // RFC 6749 §5.2: a malformed scope is invalid_scope, not invalid_request.
  if (form.scope !== undefined && !form.scope.split(' ').every((t) => scopeToken.test(t))) {
    const detail = 'scope must be scope tokens separated by single spaces.'
    throw new AppError('invalid_scope', detail, {
      errors: [{ path: 'scope', message: 'not space-separated scope tokens' }],
    })
  }
  const credentials = bearerGrant ? readBearerGrant(c, form) : readClientCredentials(c, form)
  // A malformed proof is refused before the client is authenticated (RFC 9449 §5).
  const material = await bindingMaterial(c)
  const dpop = await proofDeps(c)
  const resources = [form.resource ?? []].flat().filter(Boolean)
  const audiences = [...(form.audience ? form.audience.split(' ') : []), ...resources]

  const issued = await loginClient(await loginDeps(c), {
    ...credentials,
    ip: clientIp(c),
    scopes: form.scope?.split(' '),
    audiences: audiences.length > 0 ? audiences : undefined,
    via: bearerGrant ? 'oauth/token jwt-bearer' : 'oauth/token',
    bind: (client) => confirmationFor(dpop, client, material),
  })

  // RFC 6749 §5.1: token responses must not be cached.
  c.header('cache-control', 'no-store')
  c.header('pragma', 'no-cache')
  // RFC 9449 §8.2: a fresh nonce with every answer to a proof, so the next one can carry it.
  if (material.proof) c.header('dpop-nonce', await currentNonce(dpop))
  return c.json({
    access_token: issued.token,
    // RFC 9449 §5: DPoP for a DPoP-bound token; a certificate-bound one stays Bearer (RFC 8705).
    token_type: issued.claims.cnf?.jkt ? ('DPoP' as const) : ('Bearer' as const),
    expires_in: issued.expiresIn,
    scope: issued.claims.scope,
  })
})
