import { describe, expect, it } from 'vitest'
import { createClient } from '../helpers/clients.ts'
import { expectProblem, freshIp, postForm, postJson } from '../helpers/http.ts'

// wrangler.toml: 10 failures per client id and 20 per IP per minute, then a 60 s lock.
const CLIENT_LIMIT = 10
const IP_LIMIT = 20

function login(clientId: string, clientSecret: string, ip: string) {
  return postJson('/auth/login', { clientId, clientSecret }, { 'cf-connecting-ip': ip })
}

describe('failed login rate limiting', () => {
  it('locks a client id after too many failures, with 429 and Retry-After', async () => {
    const victim = await createClient()
    const other = await createClient()
    const attackerIp = freshIp()
    for (let i = 0; i < CLIENT_LIMIT; i++) {
      // Spread over several addresses so only the client id counter fills up.
      expect((await login(victim.clientId, `guess-${i}`, freshIp())).status).toBe(401)
    }
    const locked = await login(victim.clientId, 'one-more-guess', attackerIp)
    const body = await expectProblem(locked, 429, 'rate_limited')
    expect(locked.headers.get('retry-after')).toBe('60')
    expect(body.ack).toBe(899)

    // Documented policy: while locked, the client id is refused even with its right secret...
    await expectProblem(await login(victim.clientId, victim.clientSecret, freshIp()), 429, 'rate_limited')
    // ...and other clients are unaffected, even from the attacker's address.
    expect((await login(other.clientId, other.clientSecret, attackerIp)).status).toBe(200)
  })

  it('locks an address after too many failures across client ids', async () => {
    const ip = freshIp()
    for (let i = 0; i < IP_LIMIT; i++) {
      expect((await login(`unknown-${crypto.randomUUID()}`, 'guess', ip)).status).toBe(401)
    }
    await expectProblem(await login(`unknown-${crypto.randomUUID()}`, 'guess', ip), 429, 'rate_limited')

    const client = await createClient()
    await expectProblem(await login(client.clientId, client.clientSecret, ip), 429, 'rate_limited')
    expect((await login(client.clientId, client.clientSecret, freshIp())).status).toBe(200)
  })

  it('counts failures at /oauth/token too, answering in the OAuth shape', async () => {
    const client = await createClient()
    const ip = freshIp()
    const attempt = (secret: string) =>
      postForm(
        '/oauth/token',
        { grant_type: 'client_credentials', client_id: client.clientId, client_secret: secret },
        { 'cf-connecting-ip': ip },
      )
    for (let i = 0; i < CLIENT_LIMIT; i++) expect((await attempt(`guess-${i}`)).status).toBe(401)
    const body = await expectProblem(await attempt('guess'), 429, 'rate_limited', 'application/json')
    expect(body.error).toBe('rate_limited')
  })

  it('does not count successful logins', async () => {
    const client = await createClient()
    const ip = freshIp()
    for (let i = 0; i < CLIENT_LIMIT + 5; i++) {
      expect((await login(client.clientId, client.clientSecret, ip)).status).toBe(200)
    }
  })
})
