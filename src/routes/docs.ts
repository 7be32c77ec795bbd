// GET /openapi.json: the OpenAPI 3.1 description of this deployment, generated from the app's
// routes; GET /docs: the interactive reference for it (Swagger UI, served from this Worker's
// static assets).
import { createRoute } from '@hono/zod-openapi'
import * as z from 'zod'
import { loadConfig } from '../config.ts'
import { OpenApiApp } from '../http/openapi-app.ts'
import { DOCS_CSP, DOCS_PAGE } from '../openapi/docs-page.ts'
import { json, SECURITY } from '../openapi/operations.ts'
import { memoize } from '../utils/memo.ts'

const description = createRoute({
  method: 'get',
  path: '/openapi.json',
  tags: ['Service'],
  summary: 'This description',
  security: SECURITY.none,
  responses: { 200: json('OpenAPI 3.1.', z.record(z.string(), z.unknown())) },
})

const reference = createRoute({
  method: 'get',
  path: '/docs',
  tags: ['Service'],
  summary: 'Interactive API reference',
  description: 'Swagger UI on `/openapi.json`; its scripts and styles come from this origin only.',
  security: SECURITY.none,
  responses: {
    200: { description: 'The HTML page.', content: { 'text/html': { schema: z.string() } } },
  },
})

/**
 * The two routes, given how to describe the app for a server URL: the document is built on the
 * first request (every route is registered by then) and again only if the issuer changes.
 */
export function createDocs(describe: (serverUrl: string) => object): OpenApiApp {
  const docs = new OpenApiApp()
  const documentFor = memoize(String, (issuer: string) => JSON.stringify(describe(issuer)))

  docs.openapi(description, async (c) => {
    const { issuer } = await loadConfig(c.env)
    c.header('cache-control', 'public, max-age=300')
    return c.body(documentFor(issuer), 200, { 'content-type': 'application/json' })
  })

  docs.openapi(reference, (c) => {
    // The page's own policy, looser than the API's: a route-set CSP wins over the global default.
    c.header('content-security-policy', DOCS_CSP)
    c.header('cache-control', 'public, max-age=300')
    return c.html(DOCS_PAGE)
  })

  return docs
}
