// A resource server's view: jose verifies Portero's tokens against the published key set only,
// and keeps doing so across a signing-key rotation and a restart.
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { currentSigningKeys, rotateSigningKeys } from './dev-vars.ts'
import { readCredentials, restartServer, seededClient } from './server.ts'

const { base } = readCredentials()
const issuer = base
// The demo client has no configured audiences, so its tokens name the issuer.
const audience = base
// jose refetches the set on an unknown kid, but not within `cooldownDuration` (30 s by default) of
// its last fetch. A restart here takes about 15 s; a production resource server meets a new kid
// minutes after its last fetch. So the cooldown is shortened, nothing else.
const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', base), { cooldownDuration: 1000 })
const verify = (token: string, expected = audience) =>
  jwtVerify(token, jwks, { issuer, audience: expected, algorithms: ['ES256'], typ: 'at+jwt' })

async function demoToken(): Promise<string> {
  const { id, secret } = seededClient('demo-client')
  const response = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${id}:${secret}`)}` },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { access_token: string }).access_token
}

describe('jose createRemoteJWKSet + jwtVerify', () => {
  it('verifies an issued token: ES256, at+jwt, issuer, audience, the kid of the set', async () => {
    const token = await demoToken()
    const { payload, protectedHeader } = await verify(token)
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' })
    expect(currentSigningKeys().keys.map((k) => k.kid)).toContain(protectedHeader.kid)
    expect(payload).toMatchObject({
      iss: issuer,
      aud: audience,
      sub: 'demo-client',
      client_id: 'demo-client',
      provider_id: '1001',
    })
    expect(payload.exp! - payload.iat!).toBe(3600)
  })

  it('refuses a token for another audience with a claim validation error on aud', async () => {
    const token = await demoToken()
    const error = await verify(token, 'https://api.example.com').catch((err: unknown) => err)
    expect(error).toBeInstanceOf(errors.JWTClaimValidationFailed)
    expect(error).toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'aud',
      reason: 'check_failed',
    })
  })

  it(
    'verifies old and new tokens after a key rotation and a restart',
    { timeout: 90_000 },
    async () => {
      const old = await demoToken()
      const oldKid = decodeProtectedHeader(old).kid
      await verify(old) // the set is now cached

      // docs/operations.md "Rotating the signing key": keys:generate --rotate appends a key to the set.
      let newKid = ''
      await restartServer(async () => {
        newKid = await rotateSigningKeys()
      })
      expect(currentSigningKeys().keys.map((k) => k.kid)).toEqual([oldKid, newKid])

      // The last key of the set signs; the cached set does not know it, so jose refetches.
      const fresh = await demoToken()
      expect(decodeProtectedHeader(fresh).kid).toBe(newKid)
      expect((await verify(fresh)).protectedHeader.kid).toBe(newKid)
      // Checked against the refetched set: the old key is still published.
      expect((await verify(old)).protectedHeader.kid).toBe(oldKid)
      // And Portero itself still accepts the token signed before the restart.
      const me = await fetch(`${base}/auth/me`, {
        method: 'POST',
        headers: { authorization: `Bearer ${old}` },
      })
      expect(me.status).toBe(200)
      expect(await me.json()).toMatchObject({ ack: 0, active: true })
    },
  )
})
