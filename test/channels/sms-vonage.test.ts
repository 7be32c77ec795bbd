import { describe, expect, it } from 'vitest'
import type { OutboundMessage } from '../../src/channels/notifier.ts'
import {
  createVonageNotifier,
  readVonageReceipt,
  verifyVonageCallbackToken,
} from '../../src/channels/sms-vonage.ts'

const SECRET = 'vonage-secret-0123'
const MESSAGE: OutboundMessage = {
  id: '7d0c5e0a-3b7c-4f4e-9a53-2f7b1c9e8d61',
  channel: 'sms',
  to: '+34600111222',
  title: 'Cita confirmada',
  body: 'Su cita es el lunes a las 10:00.',
  shard: 'provider:42',
}

/** The notifier, its requests kept, answering each with `respond`. */
function notifier(respond: () => Response | Promise<Response>) {
  const seen: { url: string; type: string | null; form: URLSearchParams }[] = []
  const send = createVonageNotifier({
    baseUrl: 'https://rest.nexmo.test/',
    apiKey: 'key123',
    apiSecret: SECRET,
    from: 'Portero',
    callbackUrl: 'https://portero.test/callbacks/sms/vonage',
    fetch: async (input, init) => {
      const request = new Request(input, init)
      seen.push({
        url: request.url,
        type: request.headers.get('content-type'),
        form: new URLSearchParams(await request.text()),
      })
      return respond()
    },
  })
  return { send: (m = MESSAGE) => send.send(m), seen }
}

const answer = (message: Record<string, string>) =>
  Response.json({ 'message-count': '1', messages: [message] })

describe('the secondary SMS route (Vonage SMS API)', () => {
  it('posts the form Vonage reads, the number without "+", and a callback URL with a token', async () => {
    const { send, seen } = notifier(() => answer({ status: '0', 'message-id': '0A00000012345678' }))
    expect(await send()).toEqual({ ok: true, providerMessageId: '0A00000012345678' })
    const [request] = seen
    expect(request!.url).toBe('https://rest.nexmo.test/sms/json')
    expect(request!.type).toBe('application/x-www-form-urlencoded')
    expect(Object.fromEntries(request!.form)).toMatchObject({
      api_key: 'key123',
      api_secret: SECRET,
      from: 'Portero',
      to: '34600111222',
      text: 'Cita confirmada\nSu cita es el lunes a las 10:00.',
      'client-ref': MESSAGE.id,
    })
    const callback = new URL(request!.form.get('callback')!)
    expect(callback.pathname).toBe('/callbacks/sms/vonage')
    expect(callback.searchParams.get('shard')).toBe('provider:42')
    const token = callback.searchParams.get('token')!
    expect(await verifyVonageCallbackToken(SECRET, 'provider:42', token)).toBe(true)
    expect(await verifyVonageCallbackToken(SECRET, 'provider:43', token)).toBe(false)
    expect(await verifyVonageCallbackToken('another', 'provider:42', token)).toBe(false)
  })

  it.each([
    ['1', { retryable: true }],
    ['5', { retryable: true }],
    ['4', { retryable: false, operatorFault: true }],
    ['9', { retryable: false, operatorFault: true }],
    ['29', { retryable: false, operatorFault: true }],
    ['3', { retryable: false, errorCode: 'vonage-3' }],
    ['7', { retryable: false, errorCode: 'vonage-7', permanent: 'invalid_destination' }],
  ])('reads status %s of a 200 answer as a refusal', async (status, expected) => {
    const { send } = notifier(() => answer({ status, 'error-text': 'Nope' }))
    const result = await send()
    expect(result).toMatchObject({ ok: false, ...expected })
  })

  it('reads HTTP errors: 5xx retryable, 401 and 404 the operator’s, never echoing the secret', async () => {
    expect(await notifier(() => new Response(null, { status: 503 })).send()).toMatchObject({
      ok: false,
      retryable: true,
    })
    for (const status of [401, 404]) {
      expect(await notifier(() => new Response(null, { status })).send()).toMatchObject({
        ok: false,
        retryable: false,
        operatorFault: true,
      })
    }
    const echoed = await notifier(() => {
      throw new Error(`refused ${SECRET}`)
    }).send()
    expect(echoed).toMatchObject({ ok: false, retryable: true })
    expect(JSON.stringify(echoed)).not.toContain(SECRET)
  })

  it.each([
    ['delivered', 'delivered', null],
    ['expired', 'undelivered', 'vonage-1'],
    ['failed', 'undelivered', 'vonage-2'],
    ['rejected', 'failed', 'vonage-6'],
    ['accepted', 'progress', null],
    ['buffered', 'progress', null],
  ])('reads the receipt status %s as %s', (status, outcome, errorCode) => {
    const code = errorCode ? errorCode.slice('vonage-'.length) : '0'
    expect(readVonageReceipt({ messageId: 'AB', status, errCode: code })).toMatchObject({
      messageSid: 'AB',
      outcome,
      errorCode,
    })
  })
})
