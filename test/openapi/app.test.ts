// OpenApiApp (src/http/openapi-app.ts): routes declared with createRoute check requests as every
// Portero route always has, and are described by the generated document.
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { onError } from '../../src/http/errors.ts'
import { createRoute, documentedOnly, OpenApiApp } from '../../src/http/openapi-app.ts'
import { generateOpenApiDocument } from '../../src/openapi/document.ts'
import { formBody, jsonBody } from '../../src/openapi/operations.ts'
import { expectProblem } from '../helpers/http.ts'

const Thing = z.strictObject({ name: z.string().min(1) })
const ok = { 200: { description: 'ok' } }

const app = new OpenApiApp()
app.openapi(
  createRoute({
    method: 'post',
    path: '/things',
    request: { body: jsonBody(Thing) },
    responses: ok,
  }),
  (c) => c.json({ got: c.req.valid('json') }),
)
app.openapi(
  createRoute({
    method: 'post',
    path: '/raw',
    request: { body: { content: { 'application/json': { schema: documentedOnly(Thing) } } } },
    responses: ok,
  }),
  async (c) => c.json({ got: await c.req.json() }),
)
app.openapi(
  createRoute({
    method: 'post',
    path: '/form',
    request: { body: formBody(z.object({ token: z.string() })) },
    responses: ok,
  }),
  (c) => c.json({ got: c.req.valid('form') }),
)
app.openapi(
  createRoute({
    method: 'get',
    path: '/things/{id}',
    request: {
      params: z.object({ id: z.string().regex(/^\d+$/, 'No thing with that id.') }),
      query: z.object({ limit: z.coerce.number().int().max(10).optional() }),
    },
    responses: ok,
  }),
  (c) => c.json({ id: c.req.valid('param').id, limit: c.req.valid('query').limit ?? null }),
)
app.openapi(createRoute({ method: 'get', path: '/hidden', hide: true, responses: ok }), (c) =>
  c.text('hidden'),
)
app.onError(onError)

const post = (path: string, type: string, body: string) =>
  app.request(path, { method: 'POST', headers: { 'content-type': type }, body })

describe('OpenApiApp', () => {
  it('validates a JSON body with the shared hook: 400 invalid_request, field errors', async () => {
    const body = await expectProblem(
      await post('/things', 'application/json', '{"name":""}'),
      400,
      'invalid_request',
    )
    expect(body.errors).toEqual([{ path: 'name', message: expect.any(String) }])
    const accepted = await post('/things', 'application/json; charset=utf-8', '{"name":"a"}')
    expect(await accepted.json()).toEqual({ got: { name: 'a' } })
  })

  it('takes every JSON media type requireJson takes, vendor types with digits too', async () => {
    const response = await post('/things', 'application/vnd.portero.v2+json', '{"name":"a"}')
    expect(response.status).toBe(200)
  })

  it("answers other media types with requireJson's 415 and Accept-Post", async () => {
    const response = await post('/things', 'text/plain', '{"name":"a"}')
    await expectProblem(response, 415, 'unsupported_media_type')
    expect(response.headers.get('accept-post')).toBe('application/json')
  })

  it('refuses malformed JSON with 400 invalid_json', async () => {
    await expectProblem(await post('/things', 'application/json', '{"name":'), 400, 'invalid_json')
  })

  it('leaves a documented-only body to its handler, after the media type check', async () => {
    const response = await post('/raw', 'application/json', '{"other":1}')
    expect(await response.json()).toEqual({ got: { other: 1 } })
    await expectProblem(await post('/raw', 'text/plain', '{}'), 415, 'unsupported_media_type')
  })

  it('reads a form with validateForm: a repeated field is an array, refused', async () => {
    const form = 'application/x-www-form-urlencoded'
    expect(await (await post('/form', form, 'token=a')).json()).toEqual({ got: { token: 'a' } })
    await expectProblem(await post('/form', form, 'token=a&token=b'), 400, 'invalid_request')
    const response = await post('/form', 'application/json', '{"token":"a"}')
    await expectProblem(response, 415, 'unsupported_media_type')
    expect(response.headers.get('accept-post')).toBe(form)
  })

  it('validates the query, and path parameters with the one hook: 404 for a malformed one', async () => {
    expect(await (await app.request('/things/7?limit=3')).json()).toEqual({ id: '7', limit: 3 })
    const missing = await expectProblem(await app.request('/things/x?limit=3'), 404, 'not_found')
    expect(missing.detail).toBe('No thing with that id.')
    const body = await expectProblem(
      await app.request('/things/1?limit=11'),
      400,
      'invalid_request',
    )
    expect(body.errors).toEqual([{ path: 'limit', message: expect.any(String) }])
  })

  it('describes its routes, bodies included, and not hidden ones', () => {
    const document = generateOpenApiDocument(app, {
      openapi: '3.1.1',
      info: { title: 't', version: '1' },
    })
    expect(Object.keys(document.paths ?? {}).sort()).toEqual([
      '/form',
      '/raw',
      '/things',
      '/things/{id}',
    ])
    const body = document.paths!['/things']!.post!.requestBody as {
      content: Record<string, unknown>
    }
    expect(body.content['application/json']).toMatchObject({
      schema: {
        type: 'object',
        properties: { name: { type: 'string', minLength: 1 } },
        required: ['name'],
      },
    })
  })
})
