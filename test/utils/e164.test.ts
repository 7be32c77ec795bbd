// The canonical form of a phone number: every spelling the SMS API delivers to one phone is one
// string, and no two phones become one.
import { describe, expect, it } from 'vitest'
import { canonicalPhone, E164 } from '../../src/utils/e164.ts'
import { LEFT_AS_GIVEN, RESPELLED } from '../helpers/phone-spellings.ts'

describe('canonicalPhone', () => {
  it.each(RESPELLED)('writes %s as %s', (given, canonical) => {
    expect(canonicalPhone(given)).toBe(canonical)
    expect(canonicalPhone(canonical)).toBe(canonical)
  })

  it.each(LEFT_AS_GIVEN)('leaves %s as given', (given) => {
    expect(given).toMatch(E164)
    expect(canonicalPhone(given)).toBe(given)
  })

  it.each(['00447700900123', 'paciente-42', '+44 7700 900123'])(
    'leaves %j, which is not E.164, as given',
    (given) => {
      expect(canonicalPhone(given)).toBe(given)
    },
  )

  it('answers E.164 for E.164', () => {
    for (const [given] of RESPELLED) expect(canonicalPhone(given)).toMatch(E164)
  })
})
