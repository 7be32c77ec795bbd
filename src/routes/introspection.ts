// POST /mcg/v1/tokeninfo (document 001) and POST /oauth/introspect (RFC 7662): one handler.
import * as z from 'zod'
import { loadConfig } from '../config.ts'
import {
  INTROSPECTION_JWT_MEDIA_TYPE,
  introspectionAnswer,
  signIntrospectionAnswer,
} from '../domain/introspection.ts'
import { authenticateIntrospectionCaller } from '../http/caller.ts'
import { TokenForm } from '../http/client-auth.ts'
import { throttleDeps } from '../http/deps.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { EXAMPLES } from '../openapi/examples.ts'
import { formBody, oauthProblems, SECURITY } from '../openapi/operations.ts'
import { IntrospectionResponse } from '../openapi/responses.ts'

export const introspection = new OpenApiApp()

const SUMMARIES = {
  '/mcg/v1/tokeninfo': 'Token introspection (document 001)',
  '/oauth/introspect': 'Token introspection (RFC 7662)',
}
const OPERATION_IDS = {
  '/mcg/v1/tokeninfo': 'getTokenInfo',
  '/oauth/introspect': 'introspectToken',
}

for (const path of ['/mcg/v1/tokeninfo', '/oauth/introspect'] as const) {
  const route = createRoute({
    method: 'post',
    path,
    operationId: OPERATION_IDS[path],
    tags: ['Tokens'],
    summary: SUMMARIES[path],
    description:
      'The caller needs `tokens:introspect`; a caller authenticating with its own token needs ' +
      "one whose `aud` names Portero's API exactly (RFC 9068 §4). It sees the claims only of " +
      'a token issued to it, ' +
      'naming it in `aud`, or with `tokens:introspect:any`; any other answer is exactly ' +
      '`{"active": false}`. A `token` that is not one Portero signed (malformed, bad signature) ' +
      'counts as a failed attempt of the caller from its address, as a wrong secret does: over ' +
      'the limit, 429.\n\nWith `Accept: application/token-introspection+jwt` the answer is a JWT ' +
      "(RFC 9701) signed with Portero's token key (verify it with /.well-known/jwks.json): " +
      'header `typ: token-introspection+jwt`, claims `iss` (Portero), `aud` (the calling ' +
      "client's id), `iat`, and `token_introspection`, the JSON answer. JSON otherwise.",
    security: SECURITY.introspection,
    request: { body: formBody(TokenForm, EXAMPLES.tokeninfo) },
    responses: {
      200: {
        description: "The token's state as this caller may see it.",
        content: {
          'application/json': { schema: IntrospectionResponse },
          [INTROSPECTION_JWT_MEDIA_TYPE]: {
            schema: z.string().meta({ description: 'A signed JWT (RFC 9701).' }),
          },
        },
      },
      ...oauthProblems(400, 401, 403, 413, 415, 429),
    },
  })
  introspection.openapi(route, async (c) => {
    const form = c.req.valid('form')
    const { caller, subject } = await authenticateIntrospectionCaller(c, form, path)
    const answer = await introspectionAnswer(throttleDeps(c), caller, subject)
    c.header('cache-control', 'no-store')
    c.header('vary', 'Accept')
    if (acceptsIntrospectionJwt(c.req.header('accept'))) {
      const { keys, issuer } = await loadConfig(c.env)
      const jwt = await signIntrospectionAnswer(keys, { issuer, caller, answer, now: new Date() })
      return c.body(jwt, 200, { 'content-type': INTROSPECTION_JWT_MEDIA_TYPE })
    }
    return c.json(answer)
  })
}

/** RFC 9701 §4: the caller lists the JWT media type in Accept (with a q above 0). */
function acceptsIntrospectionJwt(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((range) => {
    const [type, ...parameters] = range.split(';').map((part) => part.trim().toLowerCase())
    const q = parameters.find((p) => p.startsWith('q='))
    return type === INTROSPECTION_JWT_MEDIA_TYPE && (q === undefined || Number(q.slice(2)) > 0)
  })
}
