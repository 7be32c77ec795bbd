// GET /openapi.json: the OpenAPI 3.1 description of this deployment.
import { Hono } from 'hono'
import { loadConfig, type AppEnv } from '../config.ts'
import { buildOpenApiDocument } from '../openapi/document.ts'

export const docs = new Hono<AppEnv>()

let cached: { issuer: string; body: string } | undefined

docs.get('/openapi.json', async (c) => {
  const { issuer } = await loadConfig(c.env)
  if (cached?.issuer !== issuer) cached = { issuer, body: JSON.stringify(buildOpenApiDocument(issuer)) }
  c.header('cache-control', 'public, max-age=300')
  return c.body(cached.body, 200, { 'content-type': 'application/json' })
})
