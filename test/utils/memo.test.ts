// memoize: once per key, the most recent keys kept, failures never kept.
import { describe, expect, it, vi } from 'vitest'
import { memoize } from '../../src/utils/memo.ts'

describe('memoize', () => {
  it('computes once per key and keeps the most recent `size` keys', () => {
    const compute = vi.fn((key: string) => ({ key }))
    const memoized = memoize(String, compute, 2)
    const a = memoized('a')
    expect(memoized('a')).toBe(a)
    memoized('b')
    memoized('c') // drops a, the oldest
    expect(memoized('c')).toEqual({ key: 'c' })
    expect(memoized('a')).not.toBe(a)
    expect(compute.mock.calls.map(([key]) => key)).toEqual(['a', 'b', 'c', 'a'])
  })

  it('keeps nothing for a call that throws', () => {
    let fail = true
    const memoized = memoize(String, (key: string) => {
      if (fail) throw new Error('misconfigured')
      return key
    })
    expect(() => memoized('x')).toThrow('misconfigured')
    fail = false
    expect(memoized('x')).toBe('x')
  })

  it('forgets a promise once it rejects, so the next call tries again', async () => {
    let attempt = 0
    const memoized = memoize(String, async (key: string) => {
      attempt++
      if (attempt === 1) throw new Error('not yet')
      return key
    })
    await expect(memoized('x')).rejects.toThrow('not yet')
    const settled = memoized('x')
    expect(memoized('x')).toBe(settled)
    await expect(settled).resolves.toBe('x')
    expect(attempt).toBe(2)
  })
})
