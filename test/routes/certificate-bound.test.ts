// Certificate-bound tokens (RFC 8705 §3): a token issued over a client certificate Cloudflare
// verified carries its SHA-256 in cnf["x5t#S256"], and works only over that certificate.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { base64url, decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { basicAuth, expectProblem, ORIGIN } from '../helpers/http.ts'

const DEV_HEADER = 'x-portero-dev-client-cert-sha256'

function fingerprint(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

function x5t(hex: string): string {
  return base64url.encode(Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)))
}

/** The fields Cloudflare's mTLS puts in request.cf.tlsClientAuth (placeholder when none). */
function tlsClientAuth(hex: string | null, verified = 'SUCCESS') {
  return hex === null
    ? { certPresented: '0', certVerified: 'NONE', certRevoked: '0', certFingerprintSHA256: '' }
    : {
        certPresented: '1',
        certVerified: verified,
        certRevoked: '0',
        certFingerprintSHA256: hex.toUpperCase(),
      }
}

function send(path: string, init: RequestInit, certificate: string | null, verified?: string) {
  const cf = { tlsClientAuth: tlsClientAuth(certificate, verified) }
  return exports.default.fetch(new Request(ORIGIN + path, { ...init, cf } as RequestInit))
}

function tokenRequest(client: TestClient, certificate: string | null, verified?: string) {
  return send(
    '/oauth/token',
    {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(client.clientId, client.clientSecret),
      },
      body: 'grant_type=client_credentials',
    },
    certificate,
    verified,
  )
}

type TokenBody = { access_token: string; token_type: string }

describe('certificate-bound tokens', () => {
  it('bind a token issued over a verified certificate, usable only with it', async () => {
    const client = await createClient()
    const certificate = fingerprint()
    const response = await tokenRequest(client, certificate)
    expect(response.status).toBe(200)
    const body = (await response.json()) as TokenBody
    expect(body.token_type).toBe('Bearer')
    expect(decodeJwt(body.access_token).cnf).toEqual({ 'x5t#S256': x5t(certificate) })

    const use = (cert: string | null) =>
      send('/subscriptions', { headers: { authorization: `Bearer ${body.access_token}` } }, cert)
    expect((await use(certificate)).status).toBe(200)
    await expectProblem(await use(null), 401, 'invalid_token')
    await expectProblem(await use(fingerprint()), 401, 'invalid_token')
  })

  it('are not issued over a certificate that failed verification', async () => {
    const client = await createClient()
    const response = await tokenRequest(client, fingerprint(), 'FAILED:self signed certificate')
    const body = (await response.json()) as TokenBody
    expect(decodeJwt(body.access_token).cnf).toBeUndefined()
  })

  it('ignore the development header while ISSUER is not localhost', async () => {
    const client = await createClient()
    const response = await send(
      '/oauth/token',
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(client.clientId, client.clientSecret),
          [DEV_HEADER]: fingerprint(),
        },
        body: 'grant_type=client_credentials',
      },
      null,
    )
    const body = (await response.json()) as TokenBody
    expect(decodeJwt(body.access_token).cnf).toBeUndefined()
  })

  it('honour the development header while ISSUER is localhost', async () => {
    const local = { ...env, ISSUER: 'http://localhost:8787', API_RESOURCE: '' }
    const fetchLocal = async (path: string, init: RequestInit) => {
      const ctx = createExecutionContext()
      const request = new Request(`http://localhost:8787${path}`, init)
      const response = await worker.fetch(request as never, local, ctx)
      await waitOnExecutionContext(ctx)
      return response
    }
    const client = await createClient()
    const certificate = fingerprint()
    const response = await fetchLocal('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(client.clientId, client.clientSecret),
        [DEV_HEADER]: certificate,
      },
      body: 'grant_type=client_credentials',
    })
    expect(response.status).toBe(200)
    const { access_token } = (await response.json()) as TokenBody
    expect(decodeJwt(access_token).cnf).toEqual({ 'x5t#S256': x5t(certificate) })
    const use = (headers: Record<string, string>) =>
      fetchLocal('/subscriptions', {
        headers: { authorization: `Bearer ${access_token}`, ...headers },
      })
    expect((await use({ [DEV_HEADER]: certificate })).status).toBe(200)
    expect((await use({})).status).toBe(401)
  })
})
