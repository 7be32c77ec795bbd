// The OpenAPI document, built from the app's routes as scripts/docs-assets.ts builds it, and as
// GET /openapi.json serves it.
import { beforeAll, describe, expect, it } from 'vitest'
import { app } from '../../src/app.ts'
import {
  PARAMETER_FIELDS,
  PART_FIELDS,
  parseServicesRequest,
} from '../../src/domain/dispatch-request.ts'
import { buildOpenApiDocument } from '../../src/openapi/document.ts'
import { call } from '../helpers/http.ts'

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; $ref?: string }
type Operation = {
  operationId: string
  tags: string[]
  summary: string
  responses: Record<string, { content?: Record<string, unknown> }>
  requestBody?: {
    content: Record<string, { schema: Schema; examples?: Record<string, { value: unknown }> }>
  }
}
type Document = {
  openapi: string
  servers: { url: string }[]
  tags: { name: string }[]
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> }
}

let response: Response
let document: Document
let operations: { path: string; method: string; operation: Operation }[]

beforeAll(async () => {
  response = await call('/openapi.json')
  document = structuredClone(buildOpenApiDocument(app)) as unknown as Document
  operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  )
})

function resolve(schema: Schema): Schema {
  return schema.$ref ? document.components.schemas[schema.$ref.split('/').pop()!]! : schema
}

describe('GET /openapi.json', () => {
  it('serves the document of the code, built ahead of time (npm run docs:assets)', async () => {
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^application\/json\b/)
    expect(response.headers.get('cache-control')).toBe('public, max-age=300')
    expect(await response.json(), 'public/openapi.json is stale: npm run docs:assets').toEqual(
      JSON.parse(JSON.stringify(document)),
    )
  })

  it('is OpenAPI 3.1 whose server is the origin serving it, whichever deployment', () => {
    expect(document.openapi).toMatch(/^3\.1\./)
    expect(document.servers).toEqual([{ url: '/' }])
  })

  it('describes exactly the routes the app serves', () => {
    const routed = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    )
    const described = operations.map(({ path, method }) => `${method.toUpperCase()} ${path}`)
    expect(described.sort()).toEqual([...routed].sort())
  })

  it('names every operation with a readable, unique method name, under a declared tag', () => {
    const tags = document.tags.map((t) => t.name)
    const ids = operations.map(({ operation }) => operation.operationId)
    expect(new Set(ids).size).toBe(ids.length)
    for (const { path, method, operation } of operations) {
      // A verb, then what it acts on: what a generated client calls the method.
      expect(operation.operationId, `${method} ${path}`).toMatch(/^[a-z]+(?:[A-Z][a-z0-9]*)+$/)
      expect(tags, operation.operationId).toContain(operation.tags[0])
      expect(operation.summary, operation.operationId).toBeTruthy()
    }
  })

  it('keeps the operation ids clients are generated with (docs/versioning.md)', () => {
    const ids = Object.fromEntries(
      operations.map(({ path, method, operation }) => [`${method} ${path}`, operation.operationId]),
    )
    expect(ids).toMatchObject({
      'post /oauth/token': 'issueToken',
      'post /auth/login': 'logIn',
      'post /mcg/v1/tokeninfo': 'getTokenInfo',
      'post /oauth/introspect': 'introspectToken',
      'post /oauth/revoke': 'revokeToken',
      'post /Services': 'sendService',
      'get /Services/messages/{id}': 'getMessage',
      'post /webhooks': 'createWebhookEndpoint',
      'get /admin/providers': 'listProviders',
      'post /admin/clients': 'createClient',
    })
  })

  it('resolves every reference and security scheme it uses', () => {
    const text = JSON.stringify(document)
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      expect(document.components.schemas, name).toHaveProperty([name!])
    }
    for (const { operation } of operations) {
      const security = (operation as { security?: Record<string, unknown>[] }).security ?? []
      for (const scheme of security.flatMap(Object.keys)) {
        expect(document.components.securitySchemes).toHaveProperty([scheme])
      }
    }
  })

  it('documents the error media type each operation really answers with', () => {
    for (const { path, method, operation } of operations) {
      for (const [status, answer] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue
        // OAuth endpoints answer application/json, which OAuth client libraries require.
        const type = /^\/(oauth|mcg)\//.test(path) ? 'application/json' : 'application/problem+json'
        expect(Object.keys(answer.content ?? {}), `${method} ${path} ${status}`).toEqual([type])
      }
    }
  })

  it('gives every operation the 431 of the header limit (headerLimitAnswer)', () => {
    for (const { operation } of operations) {
      expect(operation.responses, operation.operationId).toHaveProperty(['431'])
    }
  })

  it('gives every operation the 503 of a misconfigured deployment (misconfiguredAnswer)', () => {
    for (const { operation } of operations) {
      expect(operation.responses, operation.operationId).toHaveProperty(['503'])
    }
  })

  describe('POST /Services', () => {
    const body = () => document.paths['/Services']!.post!.requestBody!.content['application/json']!

    it("lists document 001's spellings of the field names (servicesFieldAliases)", () => {
      const parameters = resolve(resolve(body().schema).properties!.parameters!)
      for (const [alias, name] of Object.entries(PARAMETER_FIELDS)) {
        if (name in parameters.properties!)
          expect(parameters.properties, alias).toHaveProperty([alias])
      }
      for (const part of ['notification', 'advertisement']) {
        const schema = resolve(parameters.properties![part]!)
        for (const alias of Object.keys(PART_FIELDS))
          expect(schema.properties, alias).toHaveProperty([alias])
        // A canonical name or any of its spellings is required, not the canonical name alone.
        expect(schema.required).toBeUndefined()
        expect(schema.allOf).toContainEqual({
          anyOf: [{ required: ['message'] }, { required: ['mensaje'] }],
        })
      }
    })

    it('gives examples that the endpoint accepts as they are', () => {
      const examples = Object.entries(body().examples ?? {})
      expect(examples.length).toBeGreaterThanOrEqual(2)
      for (const [name, { value }] of examples) {
        expect(
          () => parseServicesRequest(value, new Date('2026-11-22T00:00:00Z')),
          name,
        ).not.toThrow()
      }
    })
  })
})
