// The check of test/setup/declared-answers.ts, on answers made up here: it must be able to fail.
import { describe, expect, it } from 'vitest'
import { undeclaredAnswers } from '../setup/declared-answers.ts'

describe('undeclaredAnswers', () => {
  it('reports a status the operation does not declare, with its code', async () => {
    const answers = [
      { method: 'POST', path: '/Services', status: 201, code: null },
      { method: 'POST', path: '/Services', status: 429, code: 'quota_exceeded' },
      { method: 'POST', path: '/Services', status: 402, code: 'payment_required' },
      { method: 'GET', path: '/webhooks/ep_1', status: 418, code: 'teapot' },
    ]
    expect(await undeclaredAnswers(answers)).toEqual([
      'GET ^\\/webhooks\\/[^/]+$ answered 418 teapot',
      'POST ^\\/Services$ answered 402 payment_required',
    ])
  })

  it('leaves out requests no operation takes: unknown paths and other methods', async () => {
    const answers = [
      { method: 'GET', path: '/nowhere', status: 404, code: 'not_found' },
      { method: 'DELETE', path: '/Services', status: 405, code: 'method_not_allowed' },
      { method: 'OPTIONS', path: '/Services', status: 204, code: null },
    ]
    expect(await undeclaredAnswers(answers)).toEqual([])
  })
})
