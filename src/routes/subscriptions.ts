// GET /subscriptions: a provider lists its own subscriptions and their service tokens.
import { Hono } from 'hono'
import type { AppEnv } from '../http/app-env.ts'
import { AppError } from '../errors.ts'
import { SCOPES } from '../domain/scopes.ts'
import { requireScope } from '../http/auth.ts'
import { PageQuery } from '../http/paging.ts'
import { subscriptionPage } from '../http/subscriptions.ts'
import { validate } from '../http/validate.ts'

export const subscriptions = new Hono<AppEnv>()

subscriptions.get('/', requireScope(SCOPES.send), validate('query', PageQuery), async (c) => {
  const { providerId } = c.get('auth')
  if (!providerId) throw new AppError(403, 'forbidden', 'This token does not belong to a provider.')
  const { limit, cursor } = c.req.valid('query')
  return c.json(await subscriptionPage(c.env.DB, providerId, limit, cursor, new URL(c.req.url)))
})
