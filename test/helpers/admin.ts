// An operator: a client with no provider and the admin scope, and requests made with its token.
import { expect } from 'vitest'
import { createClient } from './clients.ts'
import { call } from './http.ts'
import { tokenFor } from './tokens.ts'

export async function adminToken(): Promise<string> {
  const operator = await createClient({ providerId: null, allowedScopes: ['admin'] })
  return tokenFor(operator)
}

/** A request to the management API with `token`; `body` is sent as JSON. */
export function adminCall(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return call(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** One page of any list in the management API (decisions.md D21). */
export type Page<T> = {
  items: T[]
  page_size: number
  next_cursor: string | null
  links: { next: string | null }
}

/** The JSON body of `response`, once its status and content type are checked. */
export async function json<T>(response: Response, status = 200): Promise<T> {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  return (await response.json()) as T
}

/**
 * Follows links.next from `first` to the end with `token`, keeping every page and its body as sent;
 * fails on a loop.
 */
export async function walkPages<T>(
  token: string,
  first: string,
): Promise<{ pages: Page<T>[]; bodies: string[] }> {
  const pages: Page<T>[] = []
  const bodies: string[] = []
  let next: string | null = first
  while (next !== null) {
    expect(pages.length).toBeLessThan(100)
    const response = await adminCall(token, 'GET', next)
    expect(response.status).toBe(200)
    const body = await response.text()
    bodies.push(body)
    const page = JSON.parse(body) as Page<T>
    pages.push(page)
    next = page.links.next
  }
  return { pages, bodies }
}
