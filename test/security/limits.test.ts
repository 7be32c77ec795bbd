// Limits checked before anything is parsed: header size, credential header length, JSON depth and
// per-route body size (SECURITY.md "Input limits").
import { describe, expect, it } from 'vitest'
import { AUTHENTICATED_BODY_LIMITS, BODY_LIMITS, MAX_BODY_BYTES } from '../../src/app.ts'
import { DISPATCH_BODY_BYTES } from '../../src/routes/services.ts'
import { MAX_CREDENTIAL_HEADER_LENGTH, MAX_HEADER_BYTES } from '../../src/http/security.ts'
import { jsonDepth, MAX_JSON_DEPTH } from '../../src/http/validate.ts'
import { createClient } from '../helpers/clients.ts'
import { createSender, example001 } from '../helpers/dispatch.ts'
import { basicAuth, call, expectProblem, postForm, postJson } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { tokenFor } from '../helpers/tokens.ts'

const QUEUE_TIMEOUT = { timeout: 20_000 }

/** Headers adding up to about `bytes`, in 4 KB pieces (no single header is unusually long). */
function padding(bytes: number): Record<string, string> {
  const headers: Record<string, string> = {}
  for (let i = 0; bytes > 0; i++, bytes -= 4096)
    headers[`x-padding-${i}`] = 'p'.repeat(Math.min(4096, bytes))
  return headers
}

function nested(depth: number, inner = '1'): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth)
}

describe('request header size', () => {
  it('answers 431 headers_too_large for headers over 16 KiB in all', async () => {
    const response = await call('/healthz', { headers: padding(MAX_HEADER_BYTES + 1) })
    const body = await expectProblem(response, 431, 'headers_too_large')
    expect(body.title).toBe('Request Header Fields Too Large')
  })

  it('answers 431 before authentication or routing', async () => {
    const client = await createClient()
    const token = await tokenFor(client)
    await expectProblem(
      await call('/auth/me', {
        method: 'POST',
        headers: { 'x-access-token': token, ...padding(20_000) },
      }),
      431,
      'headers_too_large',
    )
    await expectProblem(
      await call('/no/such/path', { headers: padding(20_000) }),
      431,
      'headers_too_large',
    )
  })

  it('answers 431 in the OAuth envelope on /oauth/*', async () => {
    const response = await postForm(
      '/oauth/token',
      { grant_type: 'client_credentials' },
      padding(20_000),
    )
    const body = await expectProblem(response, 431, 'headers_too_large', 'application/json')
    expect(body.error).toBe('headers_too_large')
  })

  it('serves a request just under the limit', async () => {
    const response = await call('/healthz', { headers: padding(MAX_HEADER_BYTES - 2048) })
    expect(response.status).toBe(200)
  })
})

describe('credential header length', () => {
  const long = 'a'.repeat(MAX_CREDENTIAL_HEADER_LENGTH + 1)

  it('answers 401 invalid_token with ack 898 for an x-access-token over 8 KiB', async () => {
    const response = await call('/auth/me', { method: 'POST', headers: { 'x-access-token': long } })
    const body = await expectProblem(response, 401, 'invalid_token')
    expect(body.ack).toBe(898)
    expect(body.detail).toMatch(/longer than 8192/)
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="portero", error="invalid_token"/,
    )
  })

  it('answers 401 invalid_token for a Bearer header over 8 KiB anywhere, even on an unknown path', async () => {
    for (const path of ['/Services', '/recipients', '/admin/clients', '/no/such/path']) {
      const response = await call(path, { headers: { authorization: `Bearer ${long}` } })
      const body = await expectProblem(response, 401, 'invalid_token')
      expect(body.detail).toMatch(/authorization header is longer than 8192/)
    }
  })

  it('answers 401 invalid_client for a Basic header over 8 KiB', async () => {
    const response = await postForm(
      '/oauth/token',
      { grant_type: 'client_credentials' },
      { authorization: `Basic ${long}` },
    )
    const body = await expectProblem(response, 401, 'invalid_client', 'application/json')
    expect(body.error).toBe('invalid_client')
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="portero"')
  })

  it('leaves an 8 KiB header to the token check', async () => {
    const response = await call('/auth/me', {
      method: 'POST',
      headers: { 'x-access-token': 'a'.repeat(MAX_CREDENTIAL_HEADER_LENGTH) },
    })
    const body = await expectProblem(response, 401, 'invalid_token')
    expect(body.detail).not.toMatch(/header is longer/)
  })
})

describe('JSON depth', () => {
  it('counts nesting without parsing, ignoring brackets in strings', () => {
    expect(jsonDepth('1')).toBe(0)
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3)
    expect(jsonDepth('"[[[[" ')).toBe(0)
    expect(jsonDepth('{"a":"\\"[[["}')).toBe(1)
    expect(jsonDepth(nested(40))).toBe(40)
  })

  it(`answers 400 invalid_request for a body nested deeper than ${MAX_JSON_DEPTH} at /auth/login`, async () => {
    const body = await expectProblem(
      await postJson('/auth/login', nested(MAX_JSON_DEPTH + 1)),
      400,
      'invalid_request',
    )
    expect(body.detail).toMatch(/nested deeper than 32/)
  })

  it('answers 400 for deep nesting inside an otherwise valid /Services request', async () => {
    const sender = await createSender()
    const deep = JSON.parse(nested(MAX_JSON_DEPTH)) as unknown
    const request = { ...example001(sender), extra: deep }
    const response = await postJson('/Services', request, {
      authorization: `Bearer ${sender.token}`,
    })
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(body.detail).toMatch(/nested deeper than 32/)
  })

  it('answers 400, not 500, for nesting a thousand deep', async () => {
    const body = await expectProblem(
      await postJson('/auth/login', nested(1000)),
      400,
      'invalid_request',
    )
    expect(body.detail).toMatch(/nested deeper/)
  })

  it('lets exactly 32 levels through to validation', async () => {
    const body = await expectProblem(
      await postJson('/auth/login', nested(MAX_JSON_DEPTH)),
      400,
      'invalid_request',
    )
    expect(body.detail).not.toMatch(/nested deeper/)
  })
})

describe('body size per route', () => {
  it('keeps 16 KiB as the default', () => {
    expect(MAX_BODY_BYTES).toBe(16 * 1024)
  })

  const smaller = [...BODY_LIMITS].filter(([, limit]) => limit < MAX_BODY_BYTES)
  const larger = [...BODY_LIMITS].filter(([, limit]) => limit > MAX_BODY_BYTES)

  it('gives the credential endpoints a smaller limit', () => {
    expect(smaller.map(([path]) => path)).toEqual(
      expect.arrayContaining(['/auth/login', '/oauth/token']),
    )
  })

  it.each(smaller)('refuses a body over %s’s own limit of %i bytes', async (path, limit) => {
    const client = await createClient()
    const filler = 'x'.repeat(limit)
    const response =
      path === '/auth/login'
        ? await postJson(path, {
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            filler,
          })
        : await postForm(
            path,
            { grant_type: 'client_credentials', filler },
            { authorization: basicAuth(client.clientId, client.clientSecret) },
          )
    const body = await expectProblem(
      response,
      413,
      'payload_too_large',
      path.startsWith('/oauth/') ? 'application/json' : undefined,
    )
    expect(body.detail).toContain(`${limit} bytes`)
  })

  it('gives no route a larger limit before authentication', () => {
    expect(larger).toEqual([])
    expect([...AUTHENTICATED_BODY_LIMITS]).toEqual([['/Services', DISPATCH_BODY_BYTES]])
  })
  it('refuses a body over 16 KiB on a route without its own limit, before authentication', async () => {
    const response = await postJson('/recipients', { padding: 'x'.repeat(MAX_BODY_BYTES) })
    const body = await expectProblem(response, 413, 'payload_too_large')
    expect(body.detail).toContain(`${MAX_BODY_BYTES} bytes`)
  })

  it('reads a body of 8 KiB on a route without its own limit', async () => {
    const sender = await createSender()
    const request = { user_id: `u-${crypto.randomUUID()}`, padding: 'x'.repeat(8 * 1024) }
    const response = await postJson('/recipients', request, {
      authorization: `Bearer ${sender.token}`,
    })
    // Refused for the unknown field by validation, which means the body was read.
    const body = await expectProblem(response, 400, 'invalid_request')
    expect(JSON.stringify(body.errors)).toMatch(/padding/)
  })

  it('refuses a streamed body over the limit without Content-Length', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 5) controller.enqueue(chunk)
        else controller.close()
      },
    })
    const response = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
    })
    await expectProblem(response, 413, 'payload_too_large')
  })
})

/** A body of `total` bytes of JSON whitespace in 1 KiB chunks, sent without Content-Length. */
function countedStream(total: number): {
  stream: ReadableStream<Uint8Array>
  pulled: () => number
} {
  const chunk = new TextEncoder().encode(' '.repeat(1024))
  let pulled = 0
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close()
      pulled += chunk.length
      controller.enqueue(chunk)
    },
  })
  return { stream, pulled: () => pulled }
}

describe('body size at /Services: the large limit only once the token is checked', () => {
  const HUNDRED_KIB = 100 * 1024

  it('answers an anonymous 100 KiB body sent with Content-Length 401 without reading it', async () => {
    const response = await postJson('/Services', ' '.repeat(HUNDRED_KIB) + '{}')
    await expectProblem(response, 401, 'token_missing')
  })

  it('answers an anonymous streamed 100 KiB body 401, reading at most the 16 KiB default', async () => {
    const { stream, pulled } = countedStream(HUNDRED_KIB)
    const response = await call('/Services', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
    })
    await expectProblem(response, 401, 'token_missing')
    // 64 KiB: what the runtime's pipe may buffer ahead
    expect(pulled()).toBeLessThanOrEqual(MAX_BODY_BYTES + 64 * 1024)
    expect(pulled()).toBeLessThan(HUNDRED_KIB)
  })

  it('answers a streamed body with a wrong token 401 without reading it as the large limit allows', async () => {
    const { stream, pulled } = countedStream(HUNDRED_KIB)
    const headers = { 'content-type': 'application/json', authorization: 'Bearer not-a-token' }
    const response = await call('/Services', { method: 'POST', headers, body: stream })
    await expectProblem(response, 401, 'invalid_token')
    expect(pulled()).toBeLessThan(HUNDRED_KIB)
  })

  it(
    'accepts a 100 KiB body from an authenticated sender, with Content-Length or streamed',
    QUEUE_TIMEOUT,
    async () => {
      useStandIn()
      const sender = await createSender()
      const json = JSON.stringify(example001(sender))
      const padded = json + ' '.repeat(HUNDRED_KIB - json.length)
      const sized = await postJson('/Services', padded, { authorization: `Bearer ${sender.token}` })
      expect(sized.status).toBe(201)
      await sized.body?.cancel()
      const bytes = new TextEncoder().encode(padded)
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 1024) controller.enqueue(bytes.slice(i, i + 1024))
          controller.close()
        },
      })
      const headers = {
        'content-type': 'application/json',
        authorization: `Bearer ${sender.token}`,
      }
      const streamed = await call('/Services', { method: 'POST', headers, body: stream })
      expect(streamed.status).toBe(201)
      await streamed.body?.cancel()
    },
  )

  it(`refuses an authenticated body over ${DISPATCH_BODY_BYTES} bytes with 413`, async () => {
    const sender = await createSender()
    const response = await postJson('/Services', ' '.repeat(DISPATCH_BODY_BYTES) + '{}', {
      authorization: `Bearer ${sender.token}`,
    })
    const body = await expectProblem(response, 413, 'payload_too_large')
    expect(body.detail).toContain(`${DISPATCH_BODY_BYTES} bytes`)
  })

  it('refuses an authenticated streamed body over the limit with 413', async () => {
    const sender = await createSender()
    const { stream } = countedStream(DISPATCH_BODY_BYTES + 1024)
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${sender.token}` }
    await expectProblem(
      await call('/Services', { method: 'POST', headers, body: stream }),
      413,
      'payload_too_large',
    )
  })
})
