import { decodeProtectedHeader, type JWK } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  generateSigningKey,
  parseSigningKeySet,
  type SigningKeySet,
} from '../../src/domain/signing-keys.ts'
import {
  issueAccessToken,
  verifyAccessToken,
  type IssueTokenInput,
} from '../../src/domain/tokens.ts'
import { AppError } from '../../src/errors.ts'
import { base64Url } from '../helpers/keys.ts'

const NOW = new Date('2026-03-01T12:00:00Z')
const ISSUER = 'https://portero.test'

const INPUT: IssueTokenInput = {
  issuer: ISSUER,
  clientId: 'client-a',
  providerId: '9007199254740993',
  scopes: ['services:send'],
  audiences: [ISSUER],
  lifetimeSeconds: 600,
}

type PrivateJwk = Awaited<ReturnType<typeof generateSigningKey>>

let es256: PrivateJwk
let ed25519: PrivateJwk

beforeAll(async () => {
  ;[es256, ed25519] = await Promise.all([
    generateSigningKey('ES256', NOW),
    generateSigningKey('EdDSA', NOW),
  ])
})

function keySet(...keys: unknown[]): string {
  return JSON.stringify({ keys })
}

function publicHalf(jwk: JWK): JWK {
  const { d: _private, ...rest } = jwk
  return rest
}

async function verify(keys: SigningKeySet, token: string, now = NOW) {
  return (await verifyAccessToken(keys, token, { issuer: ISSUER, now })).claims
}

async function expectRefused(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => expect.unreachable('the token was accepted'),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(AppError)
  expect(error).toMatchObject({ status: 401, code })
}

describe('generateSigningKey', () => {
  it('makes a private ES256 key with a date-sorted kid', () => {
    expect(es256).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
    expect(es256.d).toEqual(expect.any(String))
    expect(es256.kid).toMatch(/^2026-03-01-[0-9a-f]{8}$/)
  })

  it('makes a private Ed25519 key for EdDSA', () => {
    expect(ed25519).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' })
    expect(ed25519.d).toEqual(expect.any(String))
  })

  it('never gives two keys the same kid on the same day', async () => {
    const made = Array.from({ length: 10 }, () => generateSigningKey('ES256', NOW))
    const keys = await Promise.all(made)
    expect(new Set(keys.map((k) => k.kid)).size).toBe(10)
  })
})

describe('parseSigningKeySet', () => {
  it('signs with the last key and verifies with every key', async () => {
    const set = await parseSigningKeySet(keySet(es256, ed25519))
    expect(set.signing).toMatchObject({ kid: ed25519.kid, alg: 'EdDSA' })
    expect([...set.verifying.keys()]).toEqual([es256.kid, ed25519.kid])

    const reversed = await parseSigningKeySet(keySet(ed25519, es256))
    expect(reversed.signing).toMatchObject({ kid: es256.kid, alg: 'ES256' })
  })

  it('publishes only public members, never d', async () => {
    const set = await parseSigningKeySet(
      keySet({ ...es256, key_ops: ['sign'], ext: true }, ed25519),
    )
    const { x, y } = es256
    expect(set.publicJwks.keys).toEqual([
      { kid: es256.kid, alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256', x, y },
      { kid: ed25519.kid, alg: 'EdDSA', use: 'sig', kty: 'OKP', crv: 'Ed25519', x: ed25519.x },
    ])
    expect(JSON.stringify(set.publicJwks)).not.toContain('"d"')
    expect(JSON.stringify(set.publicJwks)).not.toContain(es256.d)
  })

  it('holds the private key as a non-extractable CryptoKey', async () => {
    const set = await parseSigningKeySet(keySet(es256))
    expect(set.signing.key.type).toBe('private')
    expect(set.signing.key.extractable).toBe(false)
    expect(set.verifying.get(es256.kid)!.key.type).toBe('public')
  })

  // Built lazily: the keys come from beforeAll.
  it.each<[string, () => string, RegExp]>([
    ['non-JSON', () => '{keys: [', /SIGNING_KEYS is not JSON/],
    ['an empty set', () => keySet(), /at least one key/],
    ['no keys member', () => '{}', /at least one key/],
    ['a bare array of keys', () => JSON.stringify([es256]), /at least one key/],
    ['JSON null', () => 'null', /at least one key/],
    ['a key that is not an object', () => keySet(null), /key 0 is not a JSON object/],
    ['a key without kid', () => keySet({ ...es256, kid: undefined }), /key 0 has no kid/],
    ['a key with an empty kid', () => keySet(es256, { ...ed25519, kid: '' }), /key 1 has no kid/],
    ['a key with alg HS256', () => keySet({ ...es256, alg: 'HS256' }), /alg must be ES256 or/],
    ['a key without alg', () => keySet({ ...es256, alg: undefined }), /alg must be ES256 or/],
    ['an ES256 key on P-384', () => keySet({ ...es256, crv: 'P-384' }), /wrong curve for ES256/],
    ['an EdDSA key on Ed448', () => keySet({ ...ed25519, crv: 'Ed448' }), /wrong curve for EdDSA/],
    ['a public-only key', () => keySet(publicHalf(es256)), /is not a private key/],
    ['duplicate kids', () => keySet(es256, { ...ed25519, kid: es256.kid }), /two keys with kid/],
  ])('refuses %s with a message saying what is wrong', async (_, json, message) => {
    await expect(parseSigningKeySet(json())).rejects.toThrow(message)
  })

  it.each(['ES256', 'EdDSA'] as const)(
    'refuses a %s key whose public half belongs to another key',
    async (alg) => {
      const [mine, other] = await Promise.all([
        generateSigningKey(alg, NOW),
        generateSigningKey(alg, NOW),
      ])
      const mixed = { ...mine, x: other.x, ...(alg === 'ES256' ? { y: other.y } : {}) }
      const message = `SIGNING_KEYS key ${mine.kid}`
      await expect(parseSigningKeySet(keySet(mixed))).rejects.toThrow(message)
    },
  )

  it('names the offending key by kid', async () => {
    const json = keySet({ ...es256, kid: 'old-key', alg: 'HS256' })
    await expect(parseSigningKeySet(json)).rejects.toThrow(
      'SIGNING_KEYS key old-key: alg must be ES256 or EdDSA',
    )
  })

  it('never puts key material in its messages', async () => {
    const attempts = [
      keySet({ ...es256, crv: 'P-384' }),
      keySet(publicHalf(es256), es256),
      keySet(es256, es256),
      keySet({ ...es256, y: es256.x }),
    ]
    for (const json of attempts) {
      const error = await parseSigningKeySet(json).then(
        () => expect.unreachable('the key set was accepted'),
        (e: unknown) => e as Error,
      )
      expect(error).toBeInstanceOf(Error)
      expect(error.message).not.toContain(es256.x)
      expect(error.message).not.toContain(es256.d)
    }
  })
})

describe('tokens with EdDSA keys', () => {
  it('issues and verifies an EdDSA token end to end', async () => {
    const keys = await parseSigningKeySet(keySet(ed25519))
    const { token, claims, expiresIn } = await issueAccessToken(keys, INPUT, NOW)
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: ed25519.kid, typ: 'at+jwt' })
    expect(expiresIn).toBe(600)
    const verified = await verify(keys, token)
    expect(verified).toEqual(claims)
    expect(verified).toMatchObject({
      iss: ISSUER,
      sub: 'client-a',
      aud: ISSUER,
      client_id: 'client-a',
      scope: 'services:send',
      provider_id: '9007199254740993',
      iat: NOW.getTime() / 1000,
      nbf: NOW.getTime() / 1000,
      exp: NOW.getTime() / 1000 + 600,
    })
  })

  it('expires an EdDSA token at exp', async () => {
    const keys = await parseSigningKeySet(keySet(ed25519))
    const { token } = await issueAccessToken(keys, INPUT, NOW)
    const lastSecond = new Date(NOW.getTime() + 599_000)
    const atExp = new Date(NOW.getTime() + 600_000)
    await expect(verify(keys, token, lastSecond)).resolves.toMatchObject({ client_id: 'client-a' })
    await expectRefused(verify(keys, token, atExp), 'token_expired')
  })

  it('keeps ES256 tokens valid after rotating to an EdDSA key', async () => {
    const before = await parseSigningKeySet(keySet(es256))
    const after = await parseSigningKeySet(keySet(es256, ed25519))
    const old = await issueAccessToken(before, INPUT, NOW)
    const fresh = await issueAccessToken(after, INPUT, NOW)
    expect(decodeProtectedHeader(fresh.token)).toMatchObject({ alg: 'EdDSA', kid: ed25519.kid })
    await expect(verify(after, old.token)).resolves.toEqual(old.claims)
    await expect(verify(after, fresh.token)).resolves.toEqual(fresh.claims)

    // Once the old key is dropped, its tokens stop verifying.
    const dropped = await parseSigningKeySet(keySet(ed25519))
    await expectRefused(verify(dropped, old.token), 'invalid_token')
  })

  it('refuses an EdDSA token from a key with the same kid but other material', async () => {
    const impostor = { ...(await generateSigningKey('EdDSA', NOW)), kid: ed25519.kid }
    const { token } = await issueAccessToken(await parseSigningKeySet(keySet(impostor)), INPUT, NOW)
    const keys = await parseSigningKeySet(keySet(ed25519))
    await expectRefused(verify(keys, token), 'invalid_token')
  })

  it('refuses an EdDSA signature presented under the ES256 alg for the same kid', async () => {
    const keys = await parseSigningKeySet(keySet(ed25519))
    const { token } = await issueAccessToken(keys, INPUT, NOW)
    const [, payload, signature] = token.split('.')
    const header = base64Url({ alg: 'ES256', kid: ed25519.kid, typ: 'at+jwt' })
    await expectRefused(verify(keys, `${header}.${payload}.${signature}`), 'invalid_token')
  })
})
