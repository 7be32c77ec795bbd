// POST /mcg/v1/tokeninfo (document 001) and POST /oauth/introspect (RFC 7662): one handler.
import { Hono } from 'hono'
import type { AppEnv } from '../http/app-env.ts'
import { introspectionAnswer } from '../domain/introspection.ts'
import { authenticateIntrospectionCaller } from '../http/caller.ts'
import { TokenForm } from '../http/client-auth.ts'
import { throttleDeps } from '../http/deps.ts'
import { validateForm } from '../http/validate.ts'

export const introspection = new Hono<AppEnv>()

// For src/openapi/document.ts, which lists the operations by hand.
export { TokenForm }

for (const path of ['/mcg/v1/tokeninfo', '/oauth/introspect']) {
  introspection.post(path, validateForm(TokenForm), async (c) => {
    const form = c.req.valid('form')
    const { caller, subject } = await authenticateIntrospectionCaller(c, form, path)
    const answer = await introspectionAnswer(throttleDeps(c), caller, subject)
    c.header('cache-control', 'no-store')
    return c.json(answer)
  })
}
