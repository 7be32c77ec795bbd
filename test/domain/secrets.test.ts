import { describe, expect, it, vi } from 'vitest'
import {
  checkImportedSecret,
  digestClientSecret,
  generateClientSecret,
  generatePepper,
  importPepper,
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
    const [a, b] = await Promise.all([importPepper(generatePepper()), importPepper(generatePepper())])
    const secret = generateClientSecret()
    const digest = await digestClientSecret(a, secret)
    expect(digest).toMatch(/^[0-9a-f]{64}$/)
    expect(digest).not.toContain(secret)
    expect(await digestClientSecret(a, secret)).toBe(digest)
    expect(await digestClientSecret(b, secret)).not.toBe(digest)
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
    const [old, current] = await Promise.all([digestClientSecret(pepper, 'old'), digestClientSecret(pepper, 'new')])
    expect(await secretMatches(pepper, 'old', [current, old])).toBe(true)
    expect(await secretMatches(pepper, 'new', [current, old])).toBe(true)
    expect(await secretMatches(pepper, 'other', [current, old])).toBe(false)
  })

  it('refuses imported secrets shorter than 32 characters', () => {
    expect(checkImportedSecret('x'.repeat(31))).toMatch(/at least 32/)
    expect(checkImportedSecret('DA39A3EE5E6B4B0D3255BFEF95601890AFD80709')).toBeNull()
    expect(checkImportedSecret('x'.repeat(257))).toMatch(/at most 256/)
  })
})

describe('equal work for unknown clients (SPEC 6)', () => {
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
