// What /auth/me and introspection say about a token: the two places a token's state shows.
import { decodeJwt } from 'jose'
import { expect } from 'vitest'
import { json } from './admin.ts'
import { createClient } from './clients.ts'
import { call, expectProblem, postForm } from './http.ts'
import { tokenFor } from './tokens.ts'

export function me(token: string): Promise<Response> {
  return call('/auth/me', { method: 'POST', headers: { authorization: `Bearer ${token}` } })
}

let auditor: Promise<string> | undefined

/** What RFC 7662 introspection says about `token` to a caller allowed to see any token. */
export async function introspect(token: string): Promise<Record<string, unknown>> {
  auditor ??= createClient({ providerId: null, allowedScopes: ['tokens:introspect:any'] }).then(
    (c) => tokenFor(c),
  )
  const response = await postForm(
    '/mcg/v1/tokeninfo',
    { token },
    { authorization: `Bearer ${await auditor}` },
  )
  return json<Record<string, unknown>>(response)
}

/** Active for /auth/me and for introspection, which names its client. */
export async function expectActive(token: string): Promise<void> {
  expect(await json(await me(token))).toMatchObject({ ack: 0, active: true })
  const { client_id } = decodeJwt(token)
  expect(await introspect(token)).toMatchObject({ active: true, client_id })
}

/** Refused by /auth/me, and `{"active":false}` to introspection. */
export async function expectInactive(token: string): Promise<void> {
  await expectProblem(await me(token), 401, 'invalid_token')
  expect(await introspect(token)).toEqual({ active: false })
}
