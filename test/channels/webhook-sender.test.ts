// The webhook sender's own guard: an endpoint whose address is not public is never fetched, even
// one stored before its range was refused at registration.
import { describe, expect, it, vi } from 'vitest'
import { sendWebhook, type WebhookRequest } from '../../src/channels/webhook-sender.ts'

const SECRET = `whsec_${btoa('k'.repeat(32))}`
const request = (url: string): WebhookRequest => ({
  url,
  id: 'msg_1',
  body: '{}',
  secrets: [SECRET],
  timeoutMs: 5000,
})
const NOW = new Date('2026-01-01T00:00:00Z')

describe('sendWebhook', () => {
  it.each([
    ['https://[::ffff:10.0.0.8]/hook', 'ipv4Mapped'],
    ['https://[64:ff9b::a9fe:a9fe]/hook', 'rfc6052'],
    ['https://169.254.169.254/latest/meta-data', 'linkLocal'],
    ['https://10.0.0.8/hook', 'private'],
  ])('does not send to %s', async (url, range) => {
    const fetchFn = vi.fn<typeof fetch>()
    const result = await sendWebhook(request(url), NOW, fetchFn)
    expect(fetchFn).not.toHaveBeenCalled()
    expect(result).toEqual({
      ok: false,
      status: null,
      error: `the endpoint's address is not public (${range}): not sent`,
      durationMs: 0,
    })
  })

  it('sends to a public endpoint, and to loopback (registered in development only)', async () => {
    for (const url of ['https://hooks.example.com/x', 'http://localhost:8788/x']) {
      const fetchFn = vi.fn<typeof fetch>().mockResolvedValue(new Response(null, { status: 204 }))
      const result = await sendWebhook(request(url), NOW, fetchFn)
      expect(fetchFn).toHaveBeenCalledOnce()
      expect(result).toMatchObject({ ok: true, status: 204 })
    }
  })

  it('does not follow a redirect: a 3xx is a failure', async () => {
    const fetchFn = vi
      .fn<typeof fetch>()
      .mockResolvedValue(
        new Response(null, { status: 307, headers: { location: 'https://10.0.0.8/' } }),
      )
    const result = await sendWebhook(request('https://hooks.example.com/x'), NOW, fetchFn)
    expect(fetchFn.mock.calls[0]![1]!.redirect).toBe('manual')
    expect(result).toMatchObject({ ok: false, status: 307 })
  })
})
