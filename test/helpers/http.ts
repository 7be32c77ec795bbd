// Requests to the Worker under test, through its real fetch handler.
import { env, exports } from 'cloudflare:workers'
import { smsSignature } from '../../src/channels/sms-signature.ts'

export const ORIGIN = 'https://portero.test'

/** One answer the Worker gave through `call`, for test/setup/declared-answers.ts. */
export type Answer = { method: string; path: string; status: number; code: string | null }

/** Every answer `call` got in the current test file; the setup file checks and empties it. */
export const ANSWERS: Answer[] = []

export async function call(path: string, init?: RequestInit): Promise<Response> {
  const request = new Request(ORIGIN + path, init)
  const response = await exports.default.fetch(request)
  ANSWERS.push({
    method: request.method,
    path: new URL(request.url).pathname,
    status: response.status,
    code: response.headers.get('content-type')?.includes('json') ? await codeOf(response) : null,
  })
  return response
}

/** The problem `code` of an error answer, read from a copy so the test can still read the body. */
async function codeOf(response: Response): Promise<string | null> {
  if (response.status < 400) return null
  try {
    const body = (await response.clone().json()) as { code?: unknown }
    return typeof body.code === 'string' ? body.code : null
  } catch {
    return null
  }
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

export function postForm(
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  })
}

/** A POST of `fields` to `url` (absolute), signed as the SMS API signs its webhooks. */
export async function signedSmsPost(
  url: string,
  fields: Record<string, string>,
  authToken = env.SMS_AUTH_TOKEN,
): Promise<RequestInit> {
  const form = new URLSearchParams(fields)
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': await smsSignature(authToken, url, form),
    },
    body: form.toString(),
  }
}

export function basicAuth(clientId: string, clientSecret: string): string {
  const encode = (s: string) => encodeURIComponent(s).replaceAll('%20', '+')
  return `Basic ${btoa(`${encode(clientId)}:${encode(clientSecret)}`)}`
}

/** A fresh caller address, so rate-limit counters of one test never touch another's. */
export function freshIp(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(3))
  return `10.${bytes[0]}.${bytes[1]}.${bytes[2]}`
}

/** A fresh IPv6 /64 (its first four hextets, no trailing colon): append the host part. */
export function freshIpv6Prefix(): string {
  const [a, b] = crypto.getRandomValues(new Uint16Array(2))
  return `2001:db8:${a!.toString(16)}:${b!.toString(16)}`
}

/**
 * A test body for bursts the rate limiters count, which they do per minute of the clock
 * (wrangler.toml): a burst that straddles two minutes is counted in halves and may never reach a
 * limit. The body runs, and runs once more when the minute changed while it ran, whatever the
 * first run found: the second starts right after the turn of the minute, with all of it ahead.
 * The body must use fresh clients and addresses.
 */
export function inOneLimiterMinute<T>(burst: () => Promise<T>): () => Promise<T> {
  return async function inOneLimiterMinute() {
    const minute = () => Math.floor(Date.now() / 60_000)
    const start = minute()
    try {
      const result = await burst()
      if (minute() === start) return result
    } catch (error) {
      if (minute() === start) throw error
    }
    return burst()
  }
}

export async function expectProblem(
  response: Response,
  status: number,
  code: string,
  contentType = 'application/problem+json',
): Promise<Record<string, unknown>> {
  const { expect } = await import('vitest')
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toBe(contentType)
  const body = (await response.json()) as Record<string, unknown>
  expect(body).toMatchObject({ status, code })
  expect(typeof body.detail).toBe('string')
  expect(JSON.stringify(body)).not.toMatch(/at \w+ \(|stack|SELECT|INSERT/)
  return body
}
