// The subject patterns of trusted issuers (docs/tokens.md "Federated clients").
import { describe, expect, it } from 'vitest'
import { subjectMatches } from '../../src/domain/federation.ts'

describe('subjectMatches', () => {
  it.each([
    ['repo:org/app:ref:refs/heads/main', 'repo:org/app:ref:refs/heads/main', true],
    ['repo:org/app:ref:refs/heads/*', 'repo:org/app:ref:refs/heads/release/1.2', true],
    ['repo:org/app:ref:refs/heads/*', 'repo:org/app:ref:refs/heads/', false],
    ['repo:org/*:ref:refs/heads/main', 'repo:org/app:ref:refs/heads/main', true],
    // A wildcard never crosses a colon.
    ['repo:org/*', 'repo:org/app:ref:refs/heads/main', false],
    ['repo:org/app:environment:*', 'repo:org/app:environment:prod', true],
    ['repo:org/app:environment:*', 'repo:org/app:environment:prod:extra', false],
    ['system:serviceaccount:billing:*', 'system:serviceaccount:billing:notifier', true],
    ['system:serviceaccount:billing:*', 'system:serviceaccount:other:notifier', false],
    // Everything else stands for itself: no regular-expression syntax.
    ['repo:org/a.p:ref', 'repo:org/axp:ref', false],
    ['repo:org/(a|b):ref', 'repo:org/(a|b):ref', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'abc', false],
  ])('%s ~ %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected)
  })

  it('takes time in proportion to the lengths, whatever the pattern', () => {
    const started = Date.now()
    expect(subjectMatches('*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(4000))).toBe(false)
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
