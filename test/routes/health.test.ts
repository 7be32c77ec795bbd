import { describe, expect, it } from 'vitest'
import { call, expectProblem } from '../helpers/http.ts'

describe('GET /healthz', () => {
  it('answers 200 ok with a request id', async () => {
    const response = await call('/healthz')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe('unknown paths and methods', () => {
  it('answers 404 not_found as problem JSON for an unknown path', async () => {
    await expectProblem(await call('/nope'), 404, 'not_found')
  })

  it('answers OPTIONS on a known path with 204 and Allow', async () => {
    const response = await call('/oauth/token', { method: 'OPTIONS' })
    expect(response.status).toBe(204)
    expect(response.headers.get('allow')).toBe('POST, OPTIONS')
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
  })
})
