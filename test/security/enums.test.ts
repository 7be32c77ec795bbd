// One rule for every enumerated value in the API: matched as sent, never trimmed. Channel names are
// the one enum matched in any case, wherever they are accepted.
import { describe, expect, it } from 'vitest'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { call, expectProblem } from '../helpers/http.ts'

// The /Services channel, never trimmed either, is checked on its parser:
// test/domain/dispatch-request.test.ts.
describe('enumerated values', () => {
  const SPACED = 'with a trailing space'
  const admin = (method: string, path: string, body?: unknown) => async () =>
    adminCall(await adminToken(), method, path, body)
  const cases: [string, () => Promise<Response>, string][] = [
    [
      'an admin service’s allowed_channels',
      admin('POST', '/admin/services', {
        name: `s-${crypto.randomUUID()}`,
        allowed_channels: ['sms '],
      }),
      'allowed_channels.0',
    ],
    [
      'an admin service’s required_parameters',
      admin('POST', '/admin/services', {
        name: `s-${crypto.randomUUID()}`,
        allowed_channels: ['sms'],
        required_parameters: ['destination '],
      }),
      'required_parameters.0',
    ],
    [
      'a client’s status',
      admin('PATCH', `/admin/clients/c-${crypto.randomUUID()}`, { status: 'disabled ' }),
      'status',
    ],
    [
      'a client’s allowed_scopes',
      admin('POST', '/admin/clients', { provider_id: null, name: 'n', allowed_scopes: ['admin '] }),
      'allowed_scopes.0',
    ],
    ['a provider’s status', admin('PATCH', '/admin/providers/1', { status: 'active ' }), 'status'],
    ['the audit outcome filter', admin('GET', '/admin/audit?outcome=success%20'), 'outcome'],
    ['the message status filter', admin('GET', '/admin/messages?status=sent%20'), 'status'],
    ['the cascade flag', admin('DELETE', '/admin/providers/1?cascade=true%20'), 'cascade'],
  ]

  it.each(cases)(`refuses %s ${SPACED}`, async (_, send, path) => {
    const body = await expectProblem(await send(), 400, 'invalid_request')
    expect((body.errors as { path: string }[]).map((e) => e.path)).toContain(path)
  })

  it('reads admin channel names in any case, as /Services does', async () => {
    const token = await adminToken()
    const response = await adminCall(token, 'POST', '/admin/services', {
      name: `s-${crypto.randomUUID()}`,
      allowed_channels: ['SMS', 'Fcm'],
    })
    expect(response.status).toBe(201)
    const service = (await response.json()) as { allowed_channels: string[] }
    expect(service.allowed_channels).toEqual(['sms', 'fcm'])
  })

  it('does not match other enums in another case', async () => {
    const token = await adminToken()
    const response = await adminCall(token, 'PATCH', `/admin/clients/c-${crypto.randomUUID()}`, {
      status: 'Disabled',
    })
    await expectProblem(response, 400, 'invalid_request')
    await expectProblem(
      await call('/admin/audit?outcome=SUCCESS', { headers: { authorization: `Bearer ${token}` } }),
      400,
      'invalid_request',
    )
  })
})
