// GET /healthz: the process answers. Deliberately touches no binding (it is the benchmark ceiling).
import { createRoute } from '@hono/zod-openapi'
import { OpenApiApp } from '../http/openapi-app.ts'
import { json, SECURITY } from '../openapi/operations.ts'
import { Health } from '../openapi/responses.ts'

export const health = new OpenApiApp()

const liveness = createRoute({
  method: 'get',
  path: '/',
  tags: ['Service'],
  summary: 'Liveness',
  security: SECURITY.none,
  responses: { 200: json('Alive.', Health) },
})

health.openapi(liveness, (c) => c.json({ status: 'ok' }))
