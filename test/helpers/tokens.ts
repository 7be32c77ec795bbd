// Tokens obtained the way a client would: through POST /oauth/token.
import { expect } from 'vitest'
import type { TestClient } from './clients.ts'
import { basicAuth, postForm } from './http.ts'

export async function tokenFor(client: TestClient, params: Record<string, string> = {}): Promise<string> {
  const response = await postForm(
    '/oauth/token',
    { grant_type: 'client_credentials', ...params },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  )
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

/** Polls until `check` holds: for work the Worker defers past its response (waitUntil). */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  let value = await read()
  for (let i = 0; i < 100 && !check(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    value = await read()
  }
  return value
}
