// GET /openapi.json: the OpenAPI 3.1 description of Portero, built from the app's routes at build
// time (scripts/docs-assets.ts) and read from the static assets; GET /docs: the interactive
// reference for it (Swagger UI, served from this Worker's static assets).
import * as z from 'zod'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { DOCS_CSP, DOCS_PAGE } from '../openapi/docs-page.ts'
import { json, SECURITY } from '../openapi/operations.ts'

/** Where scripts/docs-assets.ts writes the document, under the assets directory. */
export const OPENAPI_PATH = '/openapi.json'

const description = createRoute({
  method: 'get',
  path: OPENAPI_PATH,
  operationId: 'getOpenApiDocument',
  tags: ['Service'],
  summary: 'This description',
  security: SECURITY.none,
  responses: { 200: json('OpenAPI 3.1.', z.record(z.string(), z.unknown())) },
})

const reference = createRoute({
  method: 'get',
  path: '/docs',
  operationId: 'getApiReference',
  tags: ['Service'],
  summary: 'Interactive API reference',
  description: 'Swagger UI on `/openapi.json`; its scripts and styles come from this origin only.',
  security: SECURITY.none,
  responses: {
    200: { description: 'The HTML page.', content: { 'text/html': { schema: z.string() } } },
  },
})

export const docs = new OpenApiApp()

// The file built from the routes (scripts/docs-assets.ts), read from the assets binding with the
// headers of public/_headers. The Worker runs first for this path (wrangler.toml [assets]
// run_worker_first), so the answer has everything the middleware gives every public read.
docs.openapi(description, async (c) => {
  const asset = await c.env.ASSETS.fetch(new URL(OPENAPI_PATH, c.req.url))
  if (!asset.ok) throw new Error(`${OPENAPI_PATH} is not among the assets: npm run docs:assets`)
  // Through the context, which carries the headers the middleware set before the handler ran.
  for (const [name, value] of asset.headers) c.header(name, value)
  return c.body(await asset.arrayBuffer(), 200)
})

docs.openapi(reference, (c) => {
  // The page's own policy, looser than the API's: a route-set CSP wins over the global default.
  c.header('content-security-policy', DOCS_CSP)
  c.header('cache-control', 'public, max-age=300')
  return c.html(DOCS_PAGE)
})
