// An operator: a client with no provider and the admin scope, and requests made with its token.
import { createClient } from './clients.ts'
import { call } from './http.ts'
import { tokenFor } from './tokens.ts'

export async function adminToken(): Promise<string> {
  const operator = await createClient({ providerId: null, allowedScopes: ['admin'] })
  return tokenFor(operator)
}

/** A request to the management API with `token`; `body` is sent as JSON. */
export function adminCall(token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return call(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
}
