// Hostile tokens: forged, tampered, stale and oversized variants of a real client's token, for
// every endpoint that takes one (test/security/token-attacks.test.ts). Each variant differs from a
// token Portero would accept in one defect only, so a refusal comes from that defect.
import { env } from 'cloudflare:workers'
import {
  base64url,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type JWTPayload,
} from 'jose'
import { removeClient } from '../../src/domain/clients.ts'
import { importPepper } from '../../src/domain/secrets.ts'
import type { TestClient } from './clients.ts'
import { base64Url, publicJwk, signToken, workerSigningKey, type TestKey } from './keys.ts'

export type Attack = {
  name: string
  token: string
  /** Longer than any header or body Portero reads: refused by size before it is a token at all. */
  oversized?: boolean
}

/** An ES256 key of the attacker's, under any kid it likes. */
export async function attackerKey(kid: string): Promise<TestKey> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  return { ...(await exportJWK(privateKey)), kid, alg: 'ES256' }
}

/** `token` with its payload changed and its signature kept. */
export function withPayload(
  token: string,
  change: (payload: Record<string, unknown>) => void,
): string {
  const [header, , signature] = token.split('.')
  const decoded = decodeJwt(token)
  change(decoded)
  return `${header}.${base64Url(decoded)}.${signature}`
}

/** The bytes an attacker could use as an HMAC key from the worker's published public key. */
export function publicKeyAsSecrets(key: TestKey = workerSigningKey()): Uint8Array[] {
  const x = base64url.decode(key.x!)
  const y = base64url.decode(key.y!)
  return [
    new TextEncoder().encode(JSON.stringify(publicJwk(key))),
    new TextEncoder().encode(JSON.stringify({ kty: key.kty, crv: key.crv, x: key.x, y: key.y })),
    new Uint8Array([...x, ...y]),
    new Uint8Array([0x04, ...x, ...y]),
  ]
}

function hs256(
  payload: JWTPayload,
  secret: Uint8Array,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', kid: workerSigningKey().kid, typ: 'at+jwt', ...header })
    .sign(secret)
}

const KID_INJECTIONS = [
  '../../x',
  '../../../../../../dev/null',
  "' OR 1=1 --",
  "x' UNION SELECT kid FROM keys --",
  '',
  'https://attacker.example/key',
]

/**
 * Every way a token of the client `genuine` was issued to could be forged or bent, each named.
 * `genuine` must be a token Portero currently accepts.
 */
export async function hostileTokens(genuine: string): Promise<Attack[]> {
  const base = decodeJwt(genuine)
  const now = Math.floor(Date.now() / 1000)
  const worker = workerSigningKey()
  const attacks: Attack[] = []
  const add = (name: string, token: string, oversized = false) =>
    attacks.push({ name, token, oversized })

  const payload = base64Url(base)
  for (const alg of ['none', 'None', 'NONE']) {
    add(`alg ${alg}`, `${base64Url({ alg, kid: worker.kid, typ: 'at+jwt' })}.${payload}.`)
  }
  add(
    'alg none keeping the genuine signature',
    `${base64Url({ alg: 'none', typ: 'at+jwt' })}.${payload}.${genuine.split('.')[2]}`,
  )
  for (const [i, secret] of publicKeyAsSecrets().entries()) {
    add(`HS256 keyed with the public key (form ${i + 1})`, await hs256(base, secret))
  }
  const [header, body, signature] = genuine.split('.')
  for (const alg of ['EdDSA', 'ES384', 'PS256', 'HS256']) {
    const swapped = base64Url({ alg, kid: worker.kid, typ: 'at+jwt' })
    add(
      `the genuine signature under alg ${alg} for the worker's kid`,
      `${swapped}.${body}.${signature}`,
    )
  }
  const zeros = base64url.encode(new Uint8Array(64))
  add('an ECDSA signature of 64 zero bytes', `${header}.${body}.${zeros}`)
  const derZero = base64url.encode(new Uint8Array([0x30, 6, 2, 1, 0, 2, 1, 0]))
  add('a DER-shaped zero signature', `${header}.${body}.${derZero}`)

  const elevated = { ...base, scope: `${String(base.scope)} admin tokens:introspect:any` }
  add(
    'an extra scope, payload changed after signing',
    withPayload(genuine, (p) => (p.scope = elevated.scope)),
  )
  const attacker = await attackerKey(worker.kid)
  add(
    "an extra scope, re-signed by an attacker key under the worker's kid",
    await signToken(elevated, { key: attacker }),
  )
  const embedded = publicJwk(attacker)
  const jku = 'https://attacker.example/jwks.json'
  const x5u = 'https://attacker.example/cert.pem'
  for (const [name, extra] of [
    ['jwk', { jwk: embedded }],
    ['jku', { jku }],
    ['x5u', { x5u }],
    ['jwk, jku and x5u', { jwk: embedded, jku, x5u }],
  ] as const) {
    add(
      `a ${name} header with an attacker key`,
      await signToken(elevated, { key: attacker, header: extra }),
    )
    const stranger = await attackerKey(`attacker-${crypto.randomUUID()}`)
    add(
      `a ${name} header with a new kid`,
      await signToken(elevated, { key: stranger, header: { ...extra, jwk: publicJwk(stranger) } }),
    )
  }
  for (const kid of KID_INJECTIONS) {
    add(
      `kid ${JSON.stringify(kid)} signed by an attacker key`,
      await signToken(base, { key: await attackerKey(kid) }),
    )
    add(
      `kid ${JSON.stringify(kid)} with HS256 keyed by an empty-file byte`,
      await hs256(base, new Uint8Array([0]), { kid }),
    )
  }
  const critical = {
    alg: worker.alg,
    kid: worker.kid,
    typ: 'at+jwt',
    crit: ['x-portero'],
    'x-portero': 1,
  }
  add("a crit header the verifier doesn't know", await signRaw(critical, base))

  add(
    'expired an hour ago',
    await signToken({ ...base, iat: now - 7200, nbf: now - 7200, exp: now - 3600 }),
  )
  add(
    'expired a second ago',
    await signToken({ ...base, iat: now - 600, nbf: now - 600, exp: now - 1 }),
  )
  add(
    'not valid for another hour',
    await signToken({ ...base, iat: now + 3600, nbf: now + 3600, exp: now + 7200 }),
  )
  add('from another issuer', await signToken({ ...base, iss: 'https://evil.example' }))
  add('typ JWT', await signToken(base, { header: { typ: 'JWT' } }))
  add('no typ', await signToken(base, { header: { typ: undefined } }))
  const ghost = `ghost-${crypto.randomUUID()}`
  add('a client that never existed', await signToken({ ...base, sub: ghost, client_id: ghost }))

  // Unverified fields that reach storage keys if unchecked: long, control characters, non-ASCII.
  const strange = [
    '0'.repeat(600),
    'x'.repeat(129),
    'a\u0000b',
    'line\nbreak',
    '\u{1F600}'.repeat(200),
    '../../etc',
  ]
  for (const value of strange) {
    const label = JSON.stringify(
      value.length > 20 ? `${value.slice(0, 8)}… (${value.length})` : value,
    )
    // The review's example: an ES256 header without kid, a made-up payload, a junk signature.
    add(
      `client_id ${label} under a junk signature`,
      `${base64Url({ alg: 'ES256' })}.${base64Url({ client_id: value })}.AAAA`,
    )
    add(
      `client_id ${label}, payload changed after signing`,
      withPayload(genuine, (p) => (p.client_id = value)),
    )
    add(
      `client_id and sub ${label}, signed by the worker key`,
      await signToken({ ...base, sub: value, client_id: value }),
    )
    add(
      `kid ${label} signed by an attacker key`,
      await signToken(base, { key: await attackerKey(value) }),
    )
    add(
      `jti ${label}, payload changed after signing`,
      withPayload(genuine, (p) => (p.jti = value)),
    )
  }

  add('truncated by four characters', genuine.slice(0, -4))
  add('without its signature', genuine.slice(0, genuine.lastIndexOf('.')))
  add('cut in half', genuine.slice(0, genuine.length / 2))
  add('padded with =', `${genuine}=`)
  add('padded with ==', `${genuine}==`)
  add('with a fourth segment', `${genuine}.${body}`)
  add(
    'signed by the worker key with 100 KB of claims',
    await signToken({ ...base, filler: 'x'.repeat(100 * 1024) }),
    true,
  )
  add('100 KB of junk', 'a'.repeat(100 * 1024), true)
  return attacks
}

/** Deletes a client through the domain, as DELETE /admin/clients/{id} does. */
export async function deleteTestClient(client: TestClient): Promise<void> {
  const pepper = await importPepper(env.SECRET_PEPPER)
  await removeClient(
    { db: env.DB, cache: env.CACHE, pepper, issuer: env.ISSUER, now: new Date() },
    client.clientId,
  )
}

/** Signs any header and payload with the worker's ES256 key, past jose's own checks on headers. */
export async function signRaw(
  header: Record<string, unknown>,
  payload: JWTPayload,
): Promise<string> {
  const key = workerSigningKey()
  const privateKey = (await importJWK(key, key.alg)) as CryptoKey
  const input = `${base64Url(header)}.${base64Url(payload)}`
  const algorithm = { name: 'ECDSA', hash: 'SHA-256' }
  const signature = await crypto.subtle.sign(algorithm, privateKey, new TextEncoder().encode(input))
  return `${input}.${base64url.encode(new Uint8Array(signature))}`
}
