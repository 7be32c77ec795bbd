// Key pairs for private_key_jwt clients, and assertions signed the way a client signs them.
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose'
import { adminCall, adminToken } from './admin.ts'
import { createClient, type TestClient } from './clients.ts'
import { ORIGIN } from './http.ts'

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

export type TestKey = { kid: string; alg: string; privateKey: CryptoKey; publicJwk: JWK }

export async function generateClientKey(
  alg: 'ES256' | 'EdDSA' | 'RS256' = 'ES256',
  kid = `key-${crypto.randomUUID()}`,
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  })
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } }
}

/** A client registered with `keys` through the admin API (it keeps its secret too). */
export async function createKeyClient(
  keys: TestKey[],
  token?: string,
): Promise<TestClient & { admin: string }> {
  const client = await createClient()
  const admin = token ?? (await adminToken())
  const response = await adminCall(admin, 'POST', `/admin/clients/${client.clientId}/keys`, {
    keys: keys.map((k) => k.publicJwk),
  })
  if (response.status !== 200) throw new Error(`keys refused: ${await response.text()}`)
  return { ...client, admin }
}

/** An assertion as oauth4webapi's PrivateKeyJwt builds it (aud the issuer, exp 60 s ahead). */
export async function assertion(
  clientId: string,
  key: TestKey,
  overrides: JWTPayload = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    iss: clientId,
    sub: clientId,
    aud: ORIGIN,
    jti: crypto.randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 60,
    ...overrides,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey)
}

/** The form fields of private_key_jwt. */
export function assertionFields(jwt: string, clientId?: string): Record<string, string> {
  return {
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: jwt,
    ...(clientId === undefined ? {} : { client_id: clientId }),
  }
}
