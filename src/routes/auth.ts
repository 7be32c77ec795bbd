// POST /auth/login (Bridge and Yativo dialects) and POST /auth/me (Bridge's token check).
import * as z from 'zod'
import { loadConfig } from '../config.ts'
import { BRIDGE_ACK } from '../errors.ts'
import { loginClient } from '../domain/login.ts'
import { checkAccessToken } from '../domain/token-state.ts'
import { assertAudience } from '../domain/tokens.ts'
import { readPresentedToken, type PresentedToken } from '../http/bearer.ts'
import { clientIp } from '../http/client-auth.ts'
import { loginDeps, proofDeps, tokenStateDeps } from '../http/deps.ts'
import { BridgeLogin, detectLoginDialect, loginEnvelope, YativoLogin } from '../http/dialect.ts'
import { createRoute, documentedOnly, OpenApiApp } from '../http/openapi-app.ts'
import { assertPossession, challengeFor, clientCertificate } from '../http/possession.ts'
import { confirmationFor } from '../domain/token-binding.ts'
import { parseWith } from '../http/validate.ts'
import { EXAMPLES } from '../openapi/examples.ts'
import { json, problems, SECURITY } from '../openapi/operations.ts'
import { BridgeLoginResponse, MeResponse, YativoLoginResponse } from '../openapi/responses.ts'

export const auth = new OpenApiApp()

const login = createRoute({
  method: 'post',
  path: '/login',
  operationId: 'logIn',
  tags: ['Tokens'],
  summary: 'Log in with client credentials (Bridge or Yativo dialect)',
  description:
    'The field names pick the answer: `{clientId, clientSecret}` (document 003) answers ' +
    '`{ack, token, expires_in}`, `{account_id, app_secret}` (document 002) answers `{status, ' +
    "status_code, message, data}`. Errors keep each dialect's members (`ack`; `status_code`, " +
    '`message`). A body with fields of both dialects is ambiguous: 400 `invalid_request`, with ' +
    "both dialects' members (`ack` 899).",
  security: SECURITY.none,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          // Read by the handler: the field names pick the dialect before either schema applies.
          schema: documentedOnly(z.union([BridgeLogin, YativoLogin])),
          examples: { bridge: EXAMPLES.bridgeLogin, yativo: EXAMPLES.yativoLogin },
        },
      },
    },
  },
  responses: {
    200: json(
      'A token, in the dialect of the request.',
      z.union([BridgeLoginResponse, YativoLoginResponse]),
    ),
    ...problems(400, 401, 413, 415, 429),
  },
})

auth.openapi(login, async (c) => {
  const body: unknown = await c.req.json()
  // Set before anything can fail, so that even an ambiguous body's error carries the members its
  // client reads (decisions.md D3).
  c.set('dialect', loginEnvelope(body))
  const dialect = detectLoginDialect(body)
  c.set('dialect', dialect)
  const { clientId, clientSecret } =
    dialect === 'bridge'
      ? parseWith(BridgeLogin, body)
      : (({ account_id, app_secret }) => ({ clientId: account_id, clientSecret: app_secret }))(
          parseWith(YativoLogin, body),
        )

  // A client certificate binds the token here too; DPoP is for /oauth/token only.
  const certificate = await clientCertificate(c)
  const deps = await proofDeps(c)
  const issued = await loginClient(await loginDeps(c), {
    clientId,
    clientSecret,
    ip: clientIp(c),
    via: `auth/login:${dialect}`,
    bind: (client) => confirmationFor(deps, client, { proof: null, certificate }),
  })

  // RFC 6749 §5.1, as /oauth/token: a token answer is kept by no cache, HTTP/1.0 ones included.
  c.header('cache-control', 'no-store')
  c.header('pragma', 'no-cache')
  if (dialect === 'bridge') {
    return c.json({ ack: BRIDGE_ACK.ok, token: issued.token, expires_in: issued.expiresIn })
  }
  return c.json({
    status: 'success',
    status_code: 200,
    message: 'Request successful',
    data: { access_token: issued.token, token_type: 'bearer', expires_in: issued.expiresIn },
  })
})

// Document 003: "El método /auth/me sirve para probar si el token es valido". Errors carry ack
// (app.ts sets the Bridge dialect for this path).
const me = createRoute({
  method: 'post',
  path: '/me',
  operationId: 'checkToken',
  tags: ['Tokens'],
  summary: 'Is this token valid? (document 003)',
  description:
    'The token in `x-access-token` (document 003), `Authorization: Bearer`, or for a ' +
    'DPoP-bound token `Authorization: DPoP` with a `DPoP` proof (docs/tokens.md "DPoP"). The token\'s ' +
    "`aud` must name Portero's API exactly (RFC 9068 §4): a token for another resource server " +
    'is 401 `invalid_token`. Errors carry Bridge `ack` codes: 896 missing, 898 malformed or ' +
    'invalid, 897 expired.',
  security: SECURITY.accessToken,
  responses: { 200: json('Valid: its claims.', MeResponse), ...problems(400, 401) },
})

auth.openapi(me, async (c) => {
  let presented: PresentedToken | null = null
  let claims
  try {
    presented = readPresentedToken(c)
    // The same check as introspection: revoked tokens and disabled clients' tokens fail here too.
    const active = await checkAccessToken(await tokenStateDeps(c), presented.token)
    // decisions.md D17: a token issued for another resource server is not Portero's to vouch for.
    assertAudience(active.claims, (await loadConfig(c.env)).resource)
    await assertPossession(c, presented, active)
    claims = active.claims
  } catch (err) {
    throw challengeFor(presented, err)
  }
  c.header('cache-control', 'no-store')
  return c.json({ ack: BRIDGE_ACK.ok, active: true, ...claims })
})
