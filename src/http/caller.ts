// Who is calling an introspection endpoint: a bearer or DPoP token (document 001) or client
// credentials (RFC 7662 §2.1), and whether it holds an introspection scope.
import type { Context } from 'hono'
import type { AppEnv } from './app-env.ts'
import { loadConfig } from '../config.ts'
import { AppError } from '../errors.ts'
import type { Caller } from '../domain/introspection.ts'
import { authenticateClient } from '../domain/login.ts'
import { SCOPES } from '../domain/scopes.ts'
import { checkAccessTokens, type TokenCheck } from '../domain/token-state.ts'
import { assertAudience } from '../domain/tokens.ts'
import { clientIp, readClientCredentials, type CredentialFields } from './client-auth.ts'
import { loginDeps, tokenStateDeps } from './deps.ts'
import type { PresentedToken } from './bearer.ts'
import { assertPossession, challengeFor } from './possession.ts'

const TOKEN = /^(Bearer|DPoP)[ ]+(\S+)\s*$/i

/**
 * Authenticates the caller, requires an introspection scope, and checks the token asked about. A
 * bearer caller's token and the subject are checked together: one KV bulk read for both.
 * Throws 401 when unauthenticated (challenging for both methods) and 403 `insufficient_scope`.
 */
export async function authenticateIntrospectionCaller(
  c: Context<AppEnv>,
  form: { token: string } & CredentialFields,
  via: string,
): Promise<{ caller: Caller; subject: TokenCheck }> {
  const authorization = c.req.header('authorization')
  let caller: Caller
  let subject: TokenCheck
  const match = authorization ? TOKEN.exec(authorization) : null
  const asserted = form.client_assertion !== undefined || form.client_assertion_type !== undefined
  if (match && asserted) {
    // RFC 6749 §2.3: one authentication method per request.
    const detail = 'Authenticate with an access token or a client assertion, not both.'
    throw new AppError('invalid_request', detail)
  }
  if (match) {
    const presented: PresentedToken = {
      token: match[2]!,
      scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer',
    }
    const [own, asked] = await checkAccessTokens(await tokenStateDeps(c), [
      presented.token,
      form.token,
    ])
    try {
      if (!own!.ok) throw own!.error
      // decisions.md D17: the caller's own token must be one issued for Portero's API; the token
      // asked about may be any audience's.
      assertAudience(own!.token.claims, (await loadConfig(c.env)).resource)
      // A bound caller token proves its key here as on every route (docs/tokens.md "DPoP").
      await assertPossession(c, presented, own!.token)
    } catch (err) {
      throw challengeFor(presented, err)
    }
    caller = {
      clientId: own!.token.claims.client_id,
      scopes: own!.token.claims.scope.split(' '),
      ip: clientIp(c),
    }
    subject = asked!
  } else if (authorization || form.client_secret !== undefined || asserted) {
    const credentials = readClientCredentials(c, form)
    const client = await authenticateClient(await loginDeps(c), {
      ...credentials,
      ip: clientIp(c),
      via,
    })
    caller = { clientId: client.id, scopes: client.allowedScopes, ip: clientIp(c) }
    ;[subject] = (await checkAccessTokens(await tokenStateDeps(c), [form.token])) as [TokenCheck]
  } else {
    throw new AppError('token_missing', 'Authenticate with a bearer token or client credentials.', {
      headers: { 'www-authenticate': 'Bearer realm="portero", Basic realm="portero"' },
    })
  }
  if (!caller.scopes.includes(SCOPES.introspect) && !caller.scopes.includes(SCOPES.introspectAny)) {
    throw new AppError('insufficient_scope', `Introspection needs the ${SCOPES.introspect} scope.`)
  }
  return { caller, subject }
}
