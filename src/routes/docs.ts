// GET /openapi.json: the OpenAPI 3.1 description of this deployment; GET /docs: the interactive
// reference for it (Swagger UI, served from this Worker's static assets).
import { Hono } from 'hono'
import { loadConfig } from '../config.ts'
import type { AppEnv } from '../http/app-env.ts'
import { DOCS_CSP, DOCS_PAGE } from '../openapi/docs-page.ts'
import { buildOpenApiDocument } from '../openapi/document.ts'

export const docs = new Hono<AppEnv>()

let cached: { issuer: string; body: string } | undefined

docs.get('/openapi.json', async (c) => {
  const { issuer } = await loadConfig(c.env)
  if (cached?.issuer !== issuer) cached = { issuer, body: JSON.stringify(buildOpenApiDocument(issuer)) }
  c.header('cache-control', 'public, max-age=300')
  return c.body(cached.body, 200, { 'content-type': 'application/json' })
})

docs.get('/docs', (c) => {
  // The page's own policy, looser than the API's: a route-set CSP wins over the global default.
  c.header('content-security-policy', DOCS_CSP)
  c.header('cache-control', 'public, max-age=300')
  return c.html(DOCS_PAGE)
})
