// POST /acks/{token}: the app's acknowledgement that a push reached it (decisions.md D46). Each
// push carries its URL in its FCM data payload (`portero_ack`); the token is the credential, so
// the request needs no other and carries no body.
import * as z from 'zod'
import { acknowledgePush } from '../domain/push-acks.ts'
import { loadConfig } from '../config.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { NO_CONTENT, problem, SECURITY } from '../openapi/operations.ts'
import { shardDatabaseOf } from '../http/deps.ts'

export const acks = new OpenApiApp()

const acknowledge = createRoute({
  method: 'post',
  path: '/{token}',
  operationId: 'acknowledgePush',
  tags: ['Callbacks'],
  summary: "The app's acknowledgement of a push",
  description:
    'Every push carries this URL in its FCM data as `portero_ack`; the app POSTs to it, no body, ' +
    'once it has the push, which then reads `delivered`. Idempotent. A fallback SMS already ' +
    'made is not cancelled. Valid 28 days.',
  security: SECURITY.none,
  request: {
    params: z.object({ token: z.string() }),
  },
  responses: {
    204: NO_CONTENT,
    403: problem('`invalid_signature`: forged or expired; nothing changes.'),
  },
})

acks.openapi(acknowledge, async (c) => {
  const { ackKey } = await loadConfig(c.env)
  await acknowledgePush(
    {
      key: ackKey,
      shards: (name) => shardDatabaseOf(c.env, name),
      metrics: c.env.METRICS,
      now: new Date(),
    },
    c.req.valid('param').token,
  )
  c.header('cache-control', 'no-store')
  return c.body(null, 204)
})
