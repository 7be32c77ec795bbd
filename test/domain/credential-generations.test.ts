// The rule of decisions.md D34: a token minted under a generation that had already ended.
import { describe, expect, it } from 'vitest'
import {
  currentGeneration,
  mintedUnderEndedGeneration,
} from '../../src/domain/credential-generations.ts'
import type { Client } from '../../src/storage/clients.ts'

const T1 = 1_800_000_000_000
const T2 = T1 + 30_000
const T3 = T2 + 30_000
const second = (ms: number) => Math.floor(ms / 1000)

function client(credentialGenerations?: number[]): Client {
  return { credentialGenerations } as Client
}

describe('mintedUnderEndedGeneration', () => {
  const record = client([T3, T2, T1])

  it('passes a token of the current generation, and of one newer than the record knows', () => {
    expect(currentGeneration(record)).toBe(T3)
    expect(mintedUnderEndedGeneration(record, { gen: T3, iat: second(T3) + 100 })).toBe(false)
    expect(mintedUnderEndedGeneration(record, { gen: T3 + 5, iat: second(T3) + 100 })).toBe(false)
  })

  it('passes a token minted before the next generation began, or in its second', () => {
    expect(mintedUnderEndedGeneration(record, { gen: T1, iat: second(T2) - 1 })).toBe(false)
    expect(mintedUnderEndedGeneration(record, { gen: T1, iat: second(T2) })).toBe(false)
  })

  it('refuses a token minted after the next generation began, even before the newest', () => {
    expect(mintedUnderEndedGeneration(record, { gen: T1, iat: second(T2) + 1 })).toBe(true)
    expect(mintedUnderEndedGeneration(record, { gen: T2, iat: second(T3) + 1 })).toBe(true)
  })

  it('refuses a generation the record does not know (another incarnation, or forgotten)', () => {
    expect(mintedUnderEndedGeneration(record, { gen: T1 - 1, iat: second(T1) - 10 })).toBe(true)
  })

  it('reads a record or token from before generations as generation 0', () => {
    expect(currentGeneration(client())).toBe(0)
    expect(mintedUnderEndedGeneration(client(), { iat: second(T1) })).toBe(false)
    const changed = client([T1, 0])
    expect(mintedUnderEndedGeneration(changed, { iat: second(T1) - 1 })).toBe(false)
    expect(mintedUnderEndedGeneration(changed, { iat: second(T1) + 1 })).toBe(true)
  })
})
