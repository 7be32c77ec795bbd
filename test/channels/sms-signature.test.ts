import { describe, expect, it } from 'vitest'
import { smsSignature, verifySmsSignature } from '../../src/channels/sms-signature.ts'

// The worked example of Twilio's "Webhooks security" page: its URL, parameters and auth token.
const TOKEN = '12345'
const URL_SIGNED = 'https://mycompany.com/myapp.php?foo=1&bar=2'
const PARAMS = new URLSearchParams({
  CallSid: 'CA1234567890ABCDE',
  Caller: '+14158675310',
  Digits: '1234',
  From: '+14158675310',
  To: '+18005551212',
})
const EXPECTED = 'GvWf1cFY/Q7PnoempGyD5oXAezc='

describe('the SMS API request signature', () => {
  it('matches the API documentation’s worked example', async () => {
    expect(await smsSignature(TOKEN, URL_SIGNED, PARAMS)).toBe(EXPECTED)
    expect(await verifySmsSignature(TOKEN, URL_SIGNED, PARAMS, EXPECTED)).toBe(true)
  })

  it('does not depend on the order the parameters arrive in', async () => {
    const shuffled = new URLSearchParams([...PARAMS].reverse())
    expect(await verifySmsSignature(TOKEN, URL_SIGNED, shuffled, EXPECTED)).toBe(true)
  })

  it('accepts the URL with the default port written out or left out', async () => {
    const withPort = 'https://mycompany.com:443/myapp.php?foo=1&bar=2'
    expect(await verifySmsSignature(TOKEN, withPort, PARAMS, EXPECTED)).toBe(true)
    const signedWithPort = await smsSignature(TOKEN, withPort, PARAMS)
    expect(await verifySmsSignature(TOKEN, URL_SIGNED, PARAMS, signedWithPort)).toBe(true)
  })

  it.each([
    ['another auth token', { token: '54321' }],
    ['another URL', { url: 'https://mycompany.com/myapp.php?foo=1&bar=3' }],
    ['another host', { url: 'https://attacker.example/myapp.php?foo=1&bar=2' }],
    ['a changed parameter', { params: { Digits: '1235' } }],
    ['an added parameter', { params: { MessageStatus: 'delivered' } }],
  ])('refuses %s', async (_, change: { token?: string; url?: string; params?: object }) => {
    const params = new URLSearchParams(PARAMS)
    for (const [name, value] of Object.entries(change.params ?? {})) params.set(name, value)
    const ok = await verifySmsSignature(
      change.token ?? TOKEN,
      change.url ?? URL_SIGNED,
      params,
      EXPECTED,
    )
    expect(ok).toBe(false)
  })

  it.each([
    ['no signature', null],
    ['an empty one', ''],
    ['one that is not base64', '!!!!'],
    ['one of the wrong length', btoa('short')],
    ['a SHA-256 one', btoa('x'.repeat(32))],
  ])('refuses %s', async (_, signature) => {
    expect(await verifySmsSignature(TOKEN, URL_SIGNED, PARAMS, signature)).toBe(false)
  })

  it('verifies nothing with an empty auth token', async () => {
    expect(await verifySmsSignature('', URL_SIGNED, PARAMS, EXPECTED)).toBe(false)
  })
})
