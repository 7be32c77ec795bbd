// Request bodies are UTF-8 (RFC 8259 §8.1): a JSON body that is not is refused by every endpoint
// that reads JSON, never decoded with replacement characters and then read as other values.
import { describe, expect, it } from 'vitest'
import { app } from '../../src/app.ts'
import { createClient } from '../helpers/clients.ts'
import { call, expectProblem } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'

/** Every route whose middleware reads a JSON body, with unknown ids in its path. */
const JSON_ROUTES = [
  ...new Set(
    app.routes
      .filter((r) => r.handler.name === 'requireJson')
      .map((r) => `${r.method} ${r.path.replace(/:\w+/g, `x-${crypto.randomUUID()}`)}`),
  ),
]

const encoder = new TextEncoder()

/** `{"<field>":"<0xFF 0xFE>", …}`: valid JSON only once the two bytes are replaced by U+FFFD. */
function notUtf8(fields: Record<string, string>): Uint8Array {
  const [head, tail] = JSON.stringify({ ...fields, note: '#' }).split('#') as [string, string]
  return new Uint8Array([...encoder.encode(head), 0xff, 0xfe, ...encoder.encode(tail)])
}

describe('JSON bodies that are not UTF-8', () => {
  it('finds the JSON endpoints', () => {
    expect(JSON_ROUTES).toEqual(
      expect.arrayContaining([
        'POST /auth/login',
        'POST /Services',
        'POST /recipients',
        'POST /admin/clients',
      ]),
    )
  })

  it.each(JSON_ROUTES)('%s answers 400 invalid_request', async (route) => {
    const [method, path] = route.split(' ') as [string, string]
    const token = await tokenFor(
      await createClient({
        allowedScopes: ['admin', 'services:send', 'recipients:manage', 'tokens:introspect'],
      }),
    )
    const response = await call(path!, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: notUtf8({ name: 'n' }),
    })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(body.detail).toBe('The request body is not valid UTF-8 JSON.')
  })

  it('does not log in with such a body, even around valid credentials', async () => {
    const client = await createClient()
    const response = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: notUtf8({ clientId: client.clientId, clientSecret: client.clientSecret }),
    })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(body.detail).toMatch(/UTF-8/)
  })

  it('still reads UTF-8 text, a byte order mark included', async () => {
    const client = await createClient()
    const text = JSON.stringify({ clientId: client.clientId, clientSecret: client.clientSecret })
    const response = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode(text)]),
    })
    expect(response.status).toBe(200)
    await response.body?.cancel()
  })
})
