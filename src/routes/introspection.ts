// POST /mcg/v1/tokeninfo (document 001) and POST /oauth/introspect (RFC 7662): one handler.
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../http/app-env.ts'
import { introspectionAnswer } from '../domain/introspection.ts'
import { authenticateIntrospectionCaller } from '../http/caller.ts'
import { throttleDeps } from '../http/deps.ts'
import { validateForm } from '../http/validate.ts'

export const introspection = new Hono<AppEnv>()

export const TokenForm = z.object({
  token: z.string({ error: 'token is required' }).min(1, 'token must not be empty'),
  // Document 001: an unknown hint is ignored and the token checked anyway.
  token_type_hint: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
})

for (const path of ['/mcg/v1/tokeninfo', '/oauth/introspect']) {
  introspection.post(path, validateForm(TokenForm), async (c) => {
    const form = c.req.valid('form')
    const { caller, subject } = await authenticateIntrospectionCaller(c, form, path)
    const answer = await introspectionAnswer(throttleDeps(c), caller, subject)
    c.header('cache-control', 'no-store')
    return c.json(answer)
  })
}
