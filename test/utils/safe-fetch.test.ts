// fetchJsonSafely: where a trusted issuer's documents may be fetched from, and the limits of the
// fetch (decisions.md D38). The outside world is a fake fetch passed in.
import { describe, expect, it } from 'vitest'
import { fetchJsonSafely, refusedUrl } from '../../src/utils/safe-fetch.ts'

const LIMITS = { allowLocalhost: false, timeoutMs: 200, maxBytes: 1024 }

describe('refusedUrl', () => {
  it.each([
    ['https://issuer.example/path', null],
    ['http://issuer.example', 'is not https'],
    ['ftp://issuer.example', 'is not https'],
    ['https://10.1.2.3', 'is a special-use address'],
    ['https://127.0.0.1', 'names this machine'],
    ['https://[::1]', 'names this machine'],
    ['https://[fd00::1]', 'is a special-use address'],
    ['https://169.254.169.254', 'is a special-use address'],
    ['https://[::ffff:10.0.0.1]', 'is a special-use address'],
    ['https://localhost', 'names this machine'],
    ['https://api.localhost', 'names this machine'],
    ['https://u:p@issuer.example', 'has credentials'],
    ['not a url', 'not a URL'],
  ])('%s: %s', (url, reason) => {
    expect(refusedUrl(url, false)).toBe(reason)
  })

  it('lets localhost through only when allowed, over http too', () => {
    expect(refusedUrl('http://localhost:8788/issuers/x', true)).toBeNull()
    expect(refusedUrl('http://127.0.0.1:8788', true)).toBeNull()
    expect(refusedUrl('http://10.0.0.1', true)).toBe('is not https')
  })
})

describe('fetchJsonSafely', () => {
  const answering = (response: () => Response) => async () => response()

  it('answers the JSON of a 200', async () => {
    const fetch = answering(() => Response.json({ keys: [] }))
    expect(await fetchJsonSafely('https://issuer.example/jwks', { ...LIMITS, fetch })).toEqual({
      ok: true,
      json: { keys: [] },
    })
  })

  it('refuses a redirect instead of following it, and never fetches a refused URL', async () => {
    const calls: RequestInit[] = []
    const fetch = async (_: unknown, init?: RequestInit) => {
      calls.push(init!)
      return new Response(null, { status: 302, headers: { location: 'https://10.0.0.1/' } })
    }
    const answer = await fetchJsonSafely('https://issuer.example/jwks', { ...LIMITS, fetch })
    expect(answer).toEqual({ ok: false, reason: 'answered 302' })
    expect(calls[0]!.redirect).toBe('manual')
    expect(await fetchJsonSafely('https://10.0.0.1/jwks', { ...LIMITS, fetch })).toEqual({
      ok: false,
      reason: 'url is a special-use address',
    })
    expect(calls).toHaveLength(1)
  })

  it('refuses an answer over the size limit, declared or streamed', async () => {
    const big = 'x'.repeat(2048)
    const declared = answering(() => new Response(big, { headers: { 'content-length': '2048' } }))
    const streamed = answering(
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(big))
              controller.close()
            },
          }),
        ),
    )
    for (const fetch of [declared, streamed]) {
      expect(await fetchJsonSafely('https://issuer.example/', { ...LIMITS, fetch })).toEqual({
        ok: false,
        reason: 'answer too large',
      })
    }
  })

  it('gives up on a slow answer at the deadline, and on garbage or a network error', async () => {
    const never = () => new Promise<Response>(() => {})
    const started = Date.now()
    expect(await fetchJsonSafely('https://issuer.example/', { ...LIMITS, fetch: never })).toEqual({
      ok: false,
      reason: 'no answer within 200 ms',
    })
    expect(Date.now() - started).toBeLessThan(2000)
    const garbage = answering(() => new Response('<html>'))
    expect(await fetchJsonSafely('https://issuer.example/', { ...LIMITS, fetch: garbage })).toEqual(
      { ok: false, reason: 'answer is not JSON' },
    )
    const down = async () => {
      throw new Error('connection refused')
    }
    expect(await fetchJsonSafely('https://issuer.example/', { ...LIMITS, fetch: down })).toEqual({
      ok: false,
      reason: 'unreachable',
    })
  })
})
