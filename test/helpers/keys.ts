// The signing keys the Worker under test uses, for crafting tokens it must accept or refuse.
import { env } from 'cloudflare:workers'
import { base64url, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose'

export type TestKey = JWK & { kid: string; alg: string }

export function workerSigningKey(): TestKey {
  const { keys } = JSON.parse(env.SIGNING_KEYS) as { keys: TestKey[] }
  return keys[keys.length - 1]!
}

export function publicJwk(key: TestKey): JWK {
  const { d: _private, ...rest } = key
  return rest
}

/** Standard claims of a valid token, overridable per test. */
export function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: env.ISSUER,
    sub: 'client-x',
    aud: env.ISSUER,
    client_id: 'client-x',
    scope: 'services:send',
    jti: crypto.randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 600,
    provider_id: '1',
    ...overrides,
  }
}

/** Signs `payload` with `key` (the Worker's own by default) and the given header. */
export async function signToken(
  payload: JWTPayload,
  {
    key = workerSigningKey(),
    header = {},
  }: { key?: TestKey; header?: Record<string, unknown> } = {},
): Promise<string> {
  const privateKey = await importJWK(key, key.alg)
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(privateKey)
}

export function base64Url(value: unknown): string {
  const json = typeof value === 'string' ? value : JSON.stringify(value)
  return base64url.encode(json)
}
