// POST /oauth/revoke: RFC 7009 token revocation by the client that owns the token.
import { authenticateClient } from '../domain/login.ts'
import { revokeToken } from '../domain/revocation.ts'
import { countFailedAttempt, lockSubjects } from '../domain/throttle.ts'
import { clientIp, readClientCredentials, TokenForm } from '../http/client-auth.ts'
import { auditSink, loginDeps, revocationDeps, throttleDeps } from '../http/deps.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { formBody, oauthProblems, SECURITY } from '../openapi/operations.ts'

export const revocation = new OpenApiApp()

const revoke = createRoute({
  method: 'post',
  path: '/oauth/revoke',
  operationId: 'revokeToken',
  tags: ['Tokens'],
  summary: 'Revoke a token (RFC 7009)',
  description:
    "200 whether or not there was anything to revoke; only the owning client's tokens are " +
    "revoked. Revoking nothing (not a token of Portero's, or another client's) counts as a " +
    'failed attempt of the client from its address: over the limit, 429.',
  security: SECURITY.client,
  request: { body: formBody(TokenForm) },
  responses: {
    200: { description: 'Done (empty body).' },
    ...oauthProblems(400, 401, 413, 415, 429),
  },
})

revocation.openapi(revoke, async (c) => {
  const form = c.req.valid('form')
  const credentials = readClientCredentials(c, form)
  const client = await authenticateClient(await loginDeps(c), {
    ...credentials,
    ip: clientIp(c),
    via: 'oauth/revoke',
  })
  const outcome = await revokeToken(await revocationDeps(c), client.id, form.token)
  auditSink(c)({
    action: 'token.revoked',
    outcome: outcome === 'revoked' ? 'success' : 'failure',
    actor: client.id,
    target: client.id,
    detail: { outcome },
  })
  // RFC 7009 §2.2 answers 200 whether or not anything was revoked, so revoking nothing counts as a
  // failed attempt (SECURITY.md "Lockouts"): otherwise a client could try tokens at any rate.
  if (outcome === 'not_a_token' || outcome === 'not_owner') {
    await countFailedAttempt(throttleDeps(c), lockSubjects(client.id, clientIp(c)))
  }
  // RFC 7009 §2.2: 200 whether or not there was anything to revoke.
  c.header('cache-control', 'no-store')
  return c.body(null, 200)
})
