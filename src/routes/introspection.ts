// POST /mcg/v1/tokeninfo (document 001) and POST /oauth/introspect (RFC 7662): one handler.
import { createRoute } from '@hono/zod-openapi'
import { introspectionAnswer } from '../domain/introspection.ts'
import { authenticateIntrospectionCaller } from '../http/caller.ts'
import { TokenForm } from '../http/client-auth.ts'
import { throttleDeps } from '../http/deps.ts'
import { OpenApiApp } from '../http/openapi-app.ts'
import { EXAMPLES } from '../openapi/examples.ts'
import { formBody, json, oauthProblems, SECURITY } from '../openapi/operations.ts'
import { IntrospectionResponse } from '../openapi/responses.ts'

export const introspection = new OpenApiApp()

const SUMMARIES = {
  '/mcg/v1/tokeninfo': 'Token introspection (document 001)',
  '/oauth/introspect': 'Token introspection (RFC 7662)',
}

for (const path of ['/mcg/v1/tokeninfo', '/oauth/introspect'] as const) {
  const route = createRoute({
    method: 'post',
    path,
    tags: ['Tokens'],
    summary: SUMMARIES[path],
    description:
      'The caller needs `tokens:introspect`. It sees the claims only of a token issued to it, ' +
      'naming it in `aud`, or with `tokens:introspect:any`; any other answer is exactly ' +
      '`{"active": false}`. A `token` that is not one Portero signed (malformed, bad signature) ' +
      'counts as a failed attempt of the caller from its address, as a wrong secret does: over ' +
      'the limit, 429.',
    security: SECURITY.introspection,
    request: { body: formBody(TokenForm, EXAMPLES.tokeninfo) },
    responses: {
      200: json("The token's state as this caller may see it.", IntrospectionResponse),
      ...oauthProblems(400, 401, 403, 413, 415, 429),
    },
  })
  introspection.openapi(route, async (c) => {
    const form = c.req.valid('form')
    const { caller, subject } = await authenticateIntrospectionCaller(c, form, path)
    const answer = await introspectionAnswer(throttleDeps(c), caller, subject)
    c.header('cache-control', 'no-store')
    return c.json(answer)
  })
}
