import { describe, expect, it, vi } from 'vitest'
import {
  checkImportedSecret,
  digestClientSecret,
  generateClientSecret,
  generatePepper,
  importPepper,
  isLocalIssuer,
  secretMatches,
} from '../../src/domain/secrets.ts'
import { createClient } from '../helpers/clients.ts'
import { freshIp, postJson } from '../helpers/http.ts'

describe('client secrets', () => {
  it('generates 256-bit base64url secrets, never the same twice', () => {
    const secrets = new Set(Array.from({ length: 100 }, generateClientSecret))
    expect(secrets.size).toBe(100)
    for (const secret of secrets) expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('stores a keyed digest that depends on the pepper', async () => {
    const [a, b] = await Promise.all([
      importPepper(generatePepper()),
      importPepper(generatePepper()),
    ])
    const secret = generateClientSecret()
    const digest = await digestClientSecret(a, secret)
    expect(digest).toMatch(/^[0-9a-f]{64}$/)
    expect(digest).not.toContain(secret)
    expect(await digestClientSecret(a, secret)).toBe(digest)
    expect(await digestClientSecret(b, secret)).not.toBe(digest)
  })

  it('digests with the pepper’s own bytes as the HMAC key, so stored digests keep verifying', async () => {
    // A known answer (Python: hmac.new(bytes(32), secret, sha256)): the key of stored digests must
    // never change, whatever else is derived from the pepper.
    const pepper = await importPepper('A'.repeat(43)) // 32 zero bytes
    expect(await digestClientSecret(pepper, 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709')).toBe(
      'a578d4c4f7f7d4b15dd39793052e0c7e4da6cedf474bcce5c69f3029b108c1c7',
    )
  })

  it('matches the right secret only', async () => {
    const pepper = await importPepper(generatePepper())
    const digest = await digestClientSecret(pepper, 'right-secret')
    expect(await secretMatches(pepper, 'right-secret', [digest])).toBe(true)
    expect(await secretMatches(pepper, 'wrong-secret', [digest])).toBe(false)
    expect(await secretMatches(pepper, 'right-secret', [])).toBe(false)
  })

  it('matches either digest during a rotation grace period', async () => {
    const pepper = await importPepper(generatePepper())
    const [old, current] = await Promise.all([
      digestClientSecret(pepper, 'old'),
      digestClientSecret(pepper, 'new'),
    ])
    expect(await secretMatches(pepper, 'old', [current, old])).toBe(true)
    expect(await secretMatches(pepper, 'new', [current, old])).toBe(true)
    expect(await secretMatches(pepper, 'other', [current, old])).toBe(false)
  })

  it('refuses imported secrets shorter than 32 characters', () => {
    const deployed = { local: false }
    expect(checkImportedSecret('x'.repeat(31), deployed)).toMatch(/at least 32/)
    expect(checkImportedSecret('0B9C2625DC21EF05F6AD4DDF47C5F203837AA32C', deployed)).toBeNull()
    expect(checkImportedSecret('x'.repeat(257), deployed)).toMatch(/at most 256/)
  })

  it('refuses document 003’s example secret, in any case, unless the deployment is local', () => {
    const example = 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709'
    expect(checkImportedSecret(example, { local: false })).toMatch(
      /example printed in the source documents/,
    )
    expect(checkImportedSecret(example.toLowerCase(), { local: false })).toMatch(/example/)
    expect(checkImportedSecret(example, { local: true })).toBeNull()
  })

  it('counts only localhost, 127.0.0.1 and [::1] as local issuers', () => {
    for (const issuer of [
      'http://localhost:8787',
      'http://127.0.0.1:8787',
      'http://[::1]:8787',
      'https://localhost',
    ]) {
      expect(isLocalIssuer(issuer)).toBe(true)
    }
    for (const issuer of [
      'https://portero.test',
      'https://localhost.example.com',
      'https://127.0.0.1.nip.io',
      'not a url',
    ]) {
      expect(isLocalIssuer(issuer)).toBe(false)
    }
  })
})

describe('equal work for unknown clients (decisions.md D6)', () => {
  async function cryptoCallsFor(clientId: string): Promise<[number, number]> {
    const sign = vi.spyOn(crypto.subtle, 'sign')
    const compare = vi.spyOn(crypto.subtle, 'timingSafeEqual')
    const response = await postJson(
      '/auth/login',
      { clientId, clientSecret: 'not-the-secret' },
      { 'cf-connecting-ip': freshIp() },
    )
    expect(response.status).toBe(401)
    const counts: [number, number] = [sign.mock.calls.length, compare.mock.calls.length]
    sign.mockRestore()
    compare.mockRestore()
    return counts
  }

  it('hashes and compares in constant time for an unknown client as for a wrong secret', async () => {
    const { clientId } = await createClient()
    const wrongSecret = await cryptoCallsFor(clientId)
    const unknownClient = await cryptoCallsFor(`unknown-${crypto.randomUUID()}`)
    expect(wrongSecret).toEqual([1, 1])
    expect(unknownClient).toEqual(wrongSecret)
  })
})
