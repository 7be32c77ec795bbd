// Requests to the Worker under test, through its real fetch handler.
import { exports } from 'cloudflare:workers'

export const ORIGIN = 'https://portero.test'

export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(ORIGIN + path, init))
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

export function postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  })
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
 * The rate limiters count per minute of the clock, so a burst that straddles two minutes is
 * counted in halves: waits for the next minute when less than `seconds` of this one are left.
 * Give the test a timeout above `seconds`.
 */
export async function inOneLimiterMinute(seconds = 15): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < seconds * 1000) await new Promise((resolve) => setTimeout(resolve, left + 100))
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
