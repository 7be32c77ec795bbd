// The client's behaviour around the generated calls, against a fake server at the HTTP boundary:
// token caching and renewal, Retry-After on 429 and 503, DPoP nonces, and webhook verification.
import { decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose'
import { describe, expect, it, vi } from 'vitest'
import { createPorteroClient, retryAfterSeconds, verifyWebhook } from '../src/index.ts'
import { TokenSource } from '../src/token.ts'

const BASE = 'https://portero.test'
const auth = { clientId: 'demo-client', clientSecret: 'a secret+/' }

/** A server that issues tokens `tok-1`, `tok-2`… and answers other requests with `answers`. */
function fakeServer(answers: Array<(request: Request) => Response> = [], expiresIn = 3600) {
  const requests: Request[] = []
  let issued = 0
  const fetch = vi.fn(async (request: Request) => {
    requests.push(request.clone())
    if (new URL(request.url).pathname === '/oauth/token') {
      const dpop = request.headers.has('dpop')
      return Response.json({
        access_token: `tok-${++issued}`,
        token_type: dpop ? 'DPoP' : 'Bearer',
        expires_in: expiresIn,
        scope: 'services:send',
      })
    }
    const answer = answers.shift()
    return answer ? answer(request) : Response.json({ items: [] })
  })
  return { fetch, requests, apiRequests: () => requests.filter((r) => !r.url.endsWith('/token')) }
}

describe('tokens', () => {
  it('authenticates with client_secret_basic, form-encoded (RFC 6749 §2.3.1)', async () => {
    const server = fakeServer()
    await new TokenSource({ baseUrl: BASE, auth, fetch: server.fetch }).get()
    const [request] = server.requests
    expect(request!.headers.get('authorization')).toBe(
      `Basic ${btoa('demo-client:a+secret%2B%2F')}`,
    )
    expect(await request!.text()).toBe('grant_type=client_credentials')
  })

  it('keeps a token until a tenth of its life (at most 60 s) is left, then renews it', async () => {
    let now = 0
    const server = fakeServer([], 3600)
    const tokens = new TokenSource({ baseUrl: BASE, auth, fetch: server.fetch, now: () => now })
    const [a, b] = await Promise.all([tokens.get(), tokens.get()])
    expect(a!.value).toBe('tok-1')
    expect(b).toBe(a)
    now = 3539_000
    expect((await tokens.get()).value).toBe('tok-1')
    now = 3541_000
    expect((await tokens.get()).value).toBe('tok-2')
    expect(server.fetch).toHaveBeenCalledTimes(2)
  })

  it('asks for a new token once when the API answers 401', async () => {
    const server = fakeServer([() => new Response(null, { status: 401 })])
    const client = createPorteroClient({ baseUrl: BASE, auth, fetch: server.fetch })
    const { response } = await client.GET('/subscriptions')
    expect(response.status).toBe(200)
    expect(server.apiRequests().map((r) => r.headers.get('authorization'))).toEqual([
      'Bearer tok-1',
      'Bearer tok-2',
    ])
  })

  it('signs a private_key_jwt assertion for the token endpoint', async () => {
    const { privateKey } = await generateKeyPair('ES256')
    const server = fakeServer()
    await new TokenSource({
      baseUrl: BASE,
      auth: { method: 'private_key_jwt', clientId: 'holder', privateKey, kid: 'k1' },
      fetch: server.fetch,
    }).get()
    const form = new URLSearchParams(await server.requests[0]!.text())
    expect(server.requests[0]!.headers.has('authorization')).toBe(false)
    const assertion = form.get('client_assertion')!
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: 'k1' })
    expect(decodeJwt(assertion)).toMatchObject({
      iss: 'holder',
      sub: 'holder',
      aud: `${BASE}/oauth/token`,
      jti: expect.any(String),
    })
  })
})

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterSeconds('3')).toBe(3)
    expect(retryAfterSeconds(new Date(10_000).toUTCString(), 4_000)).toBe(6)
    expect(retryAfterSeconds('soon')).toBeUndefined()
  })

  it.each([429, 503])('waits as a %i asks, then sends again', async (status) => {
    vi.useFakeTimers()
    try {
      const server = fakeServer([
        () => new Response(null, { status, headers: { 'retry-after': '2' } }),
      ])
      const client = createPorteroClient({ baseUrl: BASE, auth, fetch: server.fetch })
      const pending = client.GET('/subscriptions')
      await vi.advanceTimersByTimeAsync(1900)
      expect(server.apiRequests()).toHaveLength(1)
      await vi.advanceTimersByTimeAsync(200)
      expect((await pending).response.status).toBe(200)
      expect(server.apiRequests()).toHaveLength(2)
    } finally {
      vi.useRealTimers()
    }
  })

  it('sends a retried POST /Services with one Idempotency-Key, its own unless given', async () => {
    vi.useFakeTimers()
    try {
      const server = fakeServer([
        () => new Response(null, { status: 503, headers: { 'retry-after': '1' } }),
      ])
      const client = createPorteroClient({ baseUrl: BASE, auth, fetch: server.fetch })
      const pending = client.POST('/Services', { body: {} as never })
      await vi.advanceTimersByTimeAsync(1100)
      await pending
      const keys = server.apiRequests().map((r) => r.headers.get('idempotency-key'))
      expect(keys).toHaveLength(2)
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
      expect(keys[1]).toBe(keys[0])
      await client.POST('/Services', { body: {} as never, headers: { 'Idempotency-Key': 'mine' } })
      expect(server.apiRequests().at(-1)!.headers.get('idempotency-key')).toBe('mine')
    } finally {
      vi.useRealTimers()
    }
  })

  it('gives the answer back when the wait is longer than it accepts', async () => {
    const server = fakeServer([
      () => new Response(null, { status: 429, headers: { 'retry-after': '3600' } }),
    ])
    const client = createPorteroClient({ baseUrl: BASE, auth, fetch: server.fetch })
    expect((await client.GET('/subscriptions')).response.status).toBe(429)
  })
})

describe('DPoP', () => {
  it('sends a proof bound to the token, and retries once with the nonce asked for', async () => {
    const keyPair = await generateKeyPair('ES256')
    const server = fakeServer([
      () =>
        new Response(null, {
          status: 401,
          headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' },
        }),
    ])
    const client = createPorteroClient({
      baseUrl: BASE,
      auth,
      fetch: server.fetch,
      dpop: { keyPair },
    })
    expect((await client.GET('/subscriptions')).response.status).toBe(200)
    const [first, second] = server.apiRequests()
    expect(second!.headers.get('authorization')).toBe('DPoP tok-1')
    const proof = decodeJwt(second!.headers.get('dpop')!)
    expect(proof).toMatchObject({ htm: 'GET', htu: `${BASE}/subscriptions`, nonce: 'n-1' })
    expect(proof.ath).toEqual(expect.any(String))
    expect(decodeJwt(first!.headers.get('dpop')!).nonce).toBeUndefined()
    expect(decodeProtectedHeader(second!.headers.get('dpop')!)).toMatchObject({ typ: 'dpop+jwt' })
  })
})

describe('verifyWebhook', () => {
  const secret = `whsec_${btoa('k'.repeat(32))}`
  async function signed(body: string, timestamp = Math.floor(Date.now() / 1000)) {
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode('k'.repeat(32)),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    const mac = await crypto.subtle.sign(
      'HMAC',
      key,
      new TextEncoder().encode(`msg_1.${timestamp}.${body}`),
    )
    const signature = btoa(String.fromCharCode(...new Uint8Array(mac)))
    return {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': `v1,bm90IGl0 v1,${signature}`,
    }
  }
  const body = '{"type":"message.sent","timestamp":"2026-11-22T09:15:02.117Z","data":{}}'

  it('returns the event when one signature matches', async () => {
    expect(await verifyWebhook(secret, body, await signed(body))).toMatchObject({
      type: 'message.sent',
    })
    expect(
      await verifyWebhook(
        [`whsec_${btoa('x'.repeat(32))}`, secret],
        body,
        new Headers(await signed(body)),
      ),
    ).toBeTruthy()
  })

  it('refuses another body, another secret, an old timestamp and a missing header', async () => {
    const headers = await signed(body)
    await expect(verifyWebhook(secret, `${body} `, headers)).rejects.toThrow(
      'no matching signature',
    )
    await expect(verifyWebhook(`whsec_${btoa('x'.repeat(32))}`, body, headers)).rejects.toThrow()
    const old = await signed(body, Math.floor(Date.now() / 1000) - 301)
    await expect(verifyWebhook(secret, body, old)).rejects.toThrow('timestamp')
    await expect(
      verifyWebhook(secret, body, { ...headers, 'webhook-id': undefined }),
    ).rejects.toThrow('missing webhook-id')
  })
})
