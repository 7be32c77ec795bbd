// Workload identity for tests: tokens from the stand-in's platform issuers (stand-in/issuers.ts),
// federated clients made through the admin API, and the two ways of handing a token in.
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import type { JWTPayload } from 'jose'
import type { StandIn } from '../../stand-in/app.ts'
import type { Shape } from '../../stand-in/issuers.ts'
import { adminCall, adminToken } from './admin.ts'
import { createProvider } from './clients.ts'
import { freshIp, postForm } from './http.ts'
import { STAND_IN_ORIGIN } from './stand-in.ts'

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** A fresh issuer of the stand-in: its URL, as its tokens' `iss`. */
export function freshIssuer(): { name: string; url: string } {
  const name = `platform-${crypto.randomUUID()}`
  return { name, url: `${STAND_IN_ORIGIN}/issuers/${name}` }
}

export type TokenRequest = {
  shape?: Shape
  sub: string
  aud?: string
  claims?: JWTPayload
  header?: Record<string, unknown>
  /** Signed with a key the issuer does not publish. */
  unpublished?: boolean
}

/** A token the issuer `name` mints for its workload (aud: Portero's issuer unless given). */
export async function platformToken(
  standIn: StandIn,
  name: string,
  request: TokenRequest,
): Promise<string> {
  const response = await standIn.fetch(
    new Request(`${STAND_IN_ORIGIN}/_control/issuers/${name}/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ aud: env.ISSUER, ...request }),
    }),
  )
  if (response.status !== 200) throw new Error(`no token: ${await response.text()}`)
  return ((await response.json()) as { token: string }).token
}

/** Changes how the issuer `name` answers; returns its counters. */
export async function controlIssuer(
  standIn: StandIn,
  name: string,
  change: { slow_ms?: number; garbage?: boolean; rotate?: boolean },
): Promise<{ kids: string[]; discovery_requests: number; jwks_requests: number }> {
  const response = await standIn.fetch(
    new Request(`${STAND_IN_ORIGIN}/_control/issuers/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(change),
    }),
  )
  return response.json()
}

/** A client with no secret and no key, trusting `issuers` (the admin API's spelling). */
export async function createFederatedClient(
  issuers: Record<string, unknown>[],
): Promise<{ clientId: string; admin: string }> {
  const admin = await adminToken()
  const clientId = `ci-${crypto.randomUUID()}`
  const response = await adminCall(admin, 'POST', '/admin/clients', {
    id: clientId,
    provider_id: await createProvider(),
    name: clientId,
    allowed_scopes: ['services:send', 'tokens:introspect'],
    with_secret: false,
    trusted_issuers: issuers,
  })
  if (response.status !== 201) throw new Error(`client refused: ${await response.text()}`)
  const body = (await response.json()) as { client_secret: string | null }
  expect(body.client_secret).toBeNull()
  return { clientId, admin }
}

export type Way = 'client_assertion' | 'jwt-bearer grant'

/** The form fields of each way to hand a platform's token in. */
export function federatedFields(way: Way, clientId: string, token: string): Record<string, string> {
  return way === 'client_assertion'
    ? {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: token,
      }
    : { grant_type: JWT_BEARER, client_id: clientId, assertion: token }
}

/** POST /oauth/token with a platform's token, from a fresh address unless given. */
export function federatedLogin(
  way: Way,
  clientId: string,
  token: string,
  ip = freshIp(),
): Promise<Response> {
  return postForm('/oauth/token', federatedFields(way, clientId, token), { 'cf-connecting-ip': ip })
}
