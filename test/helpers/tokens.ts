// Tokens obtained the way a client would: through POST /oauth/token.
import { expect } from 'vitest'
import type { TestClient } from './clients.ts'
import { basicAuth, postForm } from './http.ts'

export async function tokenFor(
  client: TestClient,
  params: Record<string, string> = {},
): Promise<string> {
  const response = await postForm(
    '/oauth/token',
    { grant_type: 'client_credentials', ...params },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  )
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

/**
 * Polls until `check` holds or `timeoutMs` has passed, and returns the last value read: for work
 * the Worker defers past its response (waitUntil) or hands to a queue.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  { timeoutMs = 5_000, intervalMs = 10 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
    value = await read()
  }
  return value
}
