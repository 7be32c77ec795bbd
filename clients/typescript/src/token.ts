// Access tokens from POST /oauth/token (RFC 6749 §4.4), cached and renewed before they expire.
import { importJWK, SignJWT, type JWK } from 'jose'
import type { DpopSigner } from './dpop.ts'
import { retryDelay, sleep, type RetryOptions } from './retry.ts'
import type { components } from './schema.d.ts'

type TokenResponse = components['schemas']['TokenResponse']

/** How the client authenticates at the token endpoint. */
export type ClientAuth =
  | {
      /** client_secret_basic (RFC 6749 §2.3.1). */
      method?: 'client_secret_basic'
      clientId: string
      clientSecret: string
    }
  | {
      /** private_key_jwt (RFC 7523 §2.2): an assertion signed with one of the client's keys. */
      method: 'private_key_jwt'
      clientId: string
      /** The private key, as a CryptoKey or a private JWK. */
      privateKey: CryptoKey | JWK
      /** The key's `kid` as registered (recommended: without it every key is tried). */
      kid?: string
      /** ES256 (default), EdDSA or RS256. */
      alg?: string
    }

export type TokenOptions = {
  baseUrl: string
  auth: ClientAuth
  /** Space-separated scopes to ask for (default: the client's own). */
  scope?: string
  dpop?: DpopSigner
  retry?: RetryOptions
  fetch: (request: Request) => Promise<Response>
  now?: () => number
}

export type AccessToken = { value: string; type: 'Bearer' | 'DPoP'; expiresAt: number }

/** The token endpoint's refusal, with its OAuth `error` (RFC 6749 §5.2). */
export class TokenError extends Error {
  readonly status: number
  readonly error: string | undefined

  constructor(status: number, error: string | undefined, description: string | undefined) {
    super(`token request failed (${status} ${error ?? ''}): ${description ?? ''}`.trim())
    this.name = 'TokenError'
    this.status = status
    this.error = error
  }
}

/**
 * Holds one token at a time: the same token for every request until a tenth of its life (at most
 * 60 s) is left, then a new one; concurrent requests share one renewal.
 */
export class TokenSource {
  readonly #options: TokenOptions
  #current: AccessToken | undefined
  #renewAt = 0
  #pending: Promise<AccessToken> | undefined

  constructor(options: TokenOptions) {
    this.#options = options
  }

  get #now() {
    return (this.#options.now ?? Date.now)()
  }

  /** A token good for at least a while longer. */
  async get(): Promise<AccessToken> {
    if (this.#current && this.#now < this.#renewAt) return this.#current
    this.#pending ??= this.#request().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  /** Forgets the token (the server refused it): the next get() asks for a new one. */
  invalidate(token?: AccessToken): void {
    if (!token || token === this.#current) this.#current = undefined
  }

  async #request(): Promise<AccessToken> {
    const url = new URL('/oauth/token', this.#options.baseUrl).href
    const { dpop } = this.#options
    let nonceRetried = false
    for (let retries = 0; ;) {
      const request = await this.#tokenRequest(url)
      if (dpop) request.headers.set('dpop', await dpop.proof('POST', url))
      const response = await this.#options.fetch(request)
      if (dpop && !nonceRetried && (await dpop.heard(response))) {
        nonceRetried = true
        continue
      }
      const wait = retryDelay(response, retries, this.#options.retry)
      if (wait !== null) {
        await response.body?.cancel()
        await sleep(wait)
        retries++
        continue
      }
      const body = (await response.json().catch(() => ({}))) as Partial<TokenResponse> & {
        error?: string
        error_description?: string
      }
      if (!response.ok || !body.access_token) {
        throw new TokenError(response.status, body.error, body.error_description)
      }
      const obtained = this.#now
      const lifetime = (body.expires_in ?? 0) * 1000
      this.#current = {
        value: body.access_token,
        type: body.token_type === 'DPoP' ? 'DPoP' : 'Bearer',
        expiresAt: obtained + lifetime,
      }
      this.#renewAt = obtained + lifetime - Math.min(60_000, lifetime / 10)
      return this.#current
    }
  }

  async #tokenRequest(url: string): Promise<Request> {
    const { auth, scope } = this.#options
    const form = new URLSearchParams({ grant_type: 'client_credentials' })
    if (scope) form.set('scope', scope)
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' })
    if (auth.method === 'private_key_jwt') {
      form.set('client_id', auth.clientId)
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      form.set('client_assertion', await assertion(auth, url))
    } else {
      // RFC 6749 §2.3.1: each part form-urlencoded before the Basic encoding.
      const user = `${formEncode(auth.clientId)}:${formEncode(auth.clientSecret)}`
      headers.set('authorization', `Basic ${btoa(user)}`)
    }
    return new Request(url, { method: 'POST', headers, body: form.toString() })
  }
}

const formEncode = (text: string) => new URLSearchParams({ t: text }).toString().slice(2)

/** The client assertion: `iss` and `sub` the client, `aud` the token endpoint, 60 s of life. */
async function assertion(
  auth: Extract<ClientAuth, { method: 'private_key_jwt' }>,
  tokenEndpoint: string,
): Promise<string> {
  const alg = auth.alg ?? 'ES256'
  const key =
    auth.privateKey instanceof CryptoKey ? auth.privateKey : await importJWK(auth.privateKey, alg)
  return new SignJWT({})
    .setProtectedHeader({ alg, ...(auth.kid ? { kid: auth.kid } : {}) })
    .setIssuer(auth.clientId)
    .setSubject(auth.clientId)
    .setAudience(tokenEndpoint)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key)
}
