import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { app } from '../../src/app.ts'
import { parseServicesRequest } from '../../src/domain/dispatch-request.ts'
import { call } from '../helpers/http.ts'

type Document = { openapi: string; servers: { url: string }[]; paths: Record<string, Record<string, unknown>> }

async function served(): Promise<Document> {
  const response = await call('/openapi.json')
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('application/json')
  return (await response.json()) as Document
}

describe('GET /openapi.json', () => {
  it('serves OpenAPI 3.1 with this deployment as the server', async () => {
    const document = await served()
    expect(document.openapi).toMatch(/^3\.1\./)
    expect(document.servers).toEqual([{ url: env.ISSUER }])
  })

  it('describes exactly the routes the app serves', async () => {
    const document = await served()
    const routed = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    )
    const described = new Set(
      Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)),
    )
    expect([...described].sort()).toEqual([...routed].sort())
  })

  it('gives /Services examples that the endpoint accepts as they are', async () => {
    const document = await served()
    type Post = { requestBody: { content: Record<string, { examples: Record<string, { value: unknown }> }> } }
    const { examples } = (document.paths['/Services']!.post as Post).requestBody.content['application/json']!
    expect(Object.keys(examples).length).toBeGreaterThanOrEqual(2)
    for (const [name, { value }] of Object.entries(examples)) {
      expect(() => parseServicesRequest(value, new Date('2026-11-22T00:00:00Z')), name).not.toThrow()
    }
  })

  it('documents the error media type each operation really answers with', async () => {
    const document = await served()
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item as Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400) continue
          // OAuth endpoints answer application/json, which OAuth client libraries require.
          const type = /^\/(oauth|mcg)\//.test(path) ? 'application/json' : 'application/problem+json'
          expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual([type])
        }
      }
    }
  })
})
