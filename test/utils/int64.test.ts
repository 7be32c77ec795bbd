// Provider ids: decimal spellings of 1 to 2^63 − 1, nothing else.
import { describe, expect, it } from 'vitest'
import { isPositiveInt64 } from '../../src/utils/int64.ts'

describe('isPositiveInt64', () => {
  it.each(['1', '42', '9007199254740993', '9223372036854775807'])('accepts %s', (text) => {
    expect(isPositiveInt64(text)).toBe(true)
  })

  it.each(['', '0', '01', '-1', '+1', '1.0', '1e3', ' 1', '9223372036854775808', '1'.repeat(20)])(
    'refuses %j',
    (text) => {
      expect(isPositiveInt64(text)).toBe(false)
    },
  )
})
