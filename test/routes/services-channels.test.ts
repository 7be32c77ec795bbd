// POST /Services on a deployment that has no credentials for a channel: a permanent state, so
// 501 channel_not_configured (RFC 9110 §15.6.2), not a 503 that invites a retry.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import { example001, freshSender, outboxRows } from '../helpers/dispatch.ts'
import { ORIGIN } from '../helpers/http.ts'

/** This Worker with SMS turned off the way docs/configuration.md says: every SMS setting empty. */
const WITHOUT_SMS: Env = {
  ...env,
  SMS_ACCOUNT_SID: '',
  SMS_AUTH_TOKEN: '',
  SMS_FROM: '',
  // WhatsApp goes through the SMS account (decisions.md D47): off with it.
  TWILIO_WHATSAPP_FROM: '',
}

async function postWithoutSms(path: string, body: unknown, token: string): Promise<Response> {
  const ctx = createExecutionContext()
  const request = new Request(ORIGIN + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })
  const response = await worker.fetch(request, WITHOUT_SMS, ctx)
  await waitOnExecutionContext(ctx)
  return response
}

describe('POST /Services to a channel this deployment is not configured for', () => {
  it('accepts it from a sandbox provider, whose messages go to no channel', async () => {
    const sender = await freshSender()
    const admin = await adminToken()
    const path = `/admin/providers/${sender.providerId}`
    expect((await adminCall(admin, 'PATCH', path, { sandbox: true })).status).toBe(204)
    const response = await postWithoutSms('/Services', example001(sender), sender.token)
    expect(response.status).toBe(201)
    expect(((await response.json()) as { sandbox: boolean }).sandbox).toBe(true)
  })

  it('answers 501 channel_not_configured without Retry-After, storing nothing', async () => {
    const sender = await freshSender()
    const body = example001(sender)
    const response = await postWithoutSms('/Services', body, sender.token)
    expect(response.status).toBe(501)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(response.headers.get('retry-after')).toBeNull()
    const problem = (await response.json()) as Record<string, unknown>
    expect(problem).toMatchObject({
      status: 501,
      title: 'Not Implemented',
      code: 'channel_not_configured',
      type: 'urn:portero:error:channel_not_configured',
    })
    expect(problem.detail).toMatch(/SMS/)
    expect(await outboxRows(sender.providerId)).toBe(0)
  })
})
