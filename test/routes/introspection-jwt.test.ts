// RFC 9701: introspection answers as a signed JWT when the caller asks for one with Accept, and in
// JSON otherwise. The JWT verifies with the published key set.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { createClient } from '../helpers/clients.ts'
import { basicAuth, call, ORIGIN, postForm } from '../helpers/http.ts'
import { tokenFor } from '../helpers/tokens.ts'

const MEDIA_TYPE = 'application/token-introspection+jwt'

async function jwks() {
  return createLocalJWKSet(await (await call('/.well-known/jwks.json')).json())
}

describe('JWT introspection responses (RFC 9701)', () => {
  for (const path of ['/oauth/introspect', '/mcg/v1/tokeninfo']) {
    it(`${path}: a signed JWT with typ, iss, aud, iat and token_introspection`, async () => {
      const caller = await createClient()
      const token = await tokenFor(caller)
      const response = await postForm(
        path,
        { token },
        { authorization: basicAuth(caller.clientId, caller.clientSecret), accept: MEDIA_TYPE },
      )
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe(MEDIA_TYPE)
      expect(response.headers.get('cache-control')).toBe('no-store')
      const jwt = await response.text()
      expect(decodeProtectedHeader(jwt).typ).toBe('token-introspection+jwt')
      const { payload } = await jwtVerify(jwt, await jwks(), {
        issuer: ORIGIN,
        audience: caller.clientId,
        typ: 'token-introspection+jwt',
      })
      expect(typeof payload.iat).toBe('number')
      expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(60)
      expect(payload.token_introspection).toMatchObject({
        active: true,
        client_id: caller.clientId,
        token_type: 'Bearer',
      })
    })
  }

  it('signs an inactive answer too; JSON when Accept does not ask (or q=0)', async () => {
    const caller = await createClient()
    const auth = basicAuth(caller.clientId, caller.clientSecret)
    const inactive = await postForm(
      '/oauth/introspect',
      { token: 'not-a-token' },
      { authorization: auth, accept: `application/json;q=0.5, ${MEDIA_TYPE}` },
    )
    const { payload } = await jwtVerify(await inactive.text(), await jwks(), {
      audience: caller.clientId,
    })
    expect(payload.token_introspection).toEqual({ active: false })

    for (const accept of [undefined, 'application/json', `${MEDIA_TYPE};q=0`]) {
      const response = await postForm(
        '/oauth/introspect',
        { token: await tokenFor(caller) },
        { authorization: auth, ...(accept ? { accept } : {}) },
      )
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await response.json()).toMatchObject({ active: true })
    }
  })
})
