// A typed client for Portero's API, generated from its OpenAPI description (schema.d.ts, made by
// openapi-typescript) and sent with openapi-fetch, with what every caller needs around it: an
// access token, cached and renewed before it expires, bound with DPoP when asked; Retry-After
// honoured on 429 and 503; and the verification of the webhooks Portero sends.
import createClient, { type Client } from 'openapi-fetch'
import { DpopSigner, type DpopOptions } from './dpop.ts'
import { retryDelay, sleep, type RetryOptions } from './retry.ts'
import type { paths } from './schema.d.ts'
import { TokenSource, type AccessToken, type ClientAuth } from './token.ts'

export type { components, operations, paths, webhooks } from './schema.d.ts'
export { retryAfterSeconds, type RetryOptions } from './retry.ts'
export { TokenError, TokenSource, type AccessToken, type ClientAuth } from './token.ts'
export { type DpopOptions } from './dpop.ts'
export {
  verifyWebhook,
  WebhookVerificationError,
  type VerifyOptions,
  type WebhookEvent,
} from './webhooks.ts'

export type PorteroClientOptions = {
  /** Portero's origin, such as https://portero.example.com or http://localhost:8787. */
  baseUrl: string
  /** The client's credentials: a secret, or a private key (private_key_jwt). */
  auth: ClientAuth
  /** Scopes to ask for (default: the client's own). */
  scope?: string
  /** Bind the tokens to this key pair (RFC 9449): each request then carries a DPoP proof. */
  dpop?: DpopOptions
  retry?: RetryOptions
  /** The fetch to send with (default globalThis.fetch). */
  fetch?: (request: Request) => Promise<Response>
}

export type PorteroClient = Client<paths> & {
  /** The token source the client uses: `await client.tokens.get()` for the token itself. */
  readonly tokens: TokenSource
}

/**
 * A client whose methods are Portero's operations by path: `client.POST('/Services', { body })`,
 * `client.GET('/Services/messages/{id}', { params: { path: { id } } })`, each typed from the
 * description. Every request carries a current token.
 */
export function createPorteroClient(options: PorteroClientOptions): PorteroClient {
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request))
  const dpop = options.dpop ? new DpopSigner(options.dpop) : undefined
  const tokens = new TokenSource({
    baseUrl: options.baseUrl,
    auth: options.auth,
    scope: options.scope,
    dpop,
    retry: options.retry,
    fetch: send,
  })

  async function authorized(request: Request, token: AccessToken): Promise<Request> {
    const signed = new Request(request)
    signed.headers.set('authorization', `${token.type} ${token.value}`)
    if (dpop && token.type === 'DPoP') {
      signed.headers.set('dpop', await dpop.proof(request.method, request.url, token.value))
    }
    return signed
  }

  async function fetchWithToken(request: Request): Promise<Response> {
    // A send retried (Retry-After, a renewed token) must not send twice: the same key makes the
    // server answer the first message again (Idempotency-Key, docs/sending.md).
    if (request.method === 'POST' && new URL(request.url).pathname.endsWith('/Services')) {
      if (!request.headers.has('idempotency-key')) {
        request.headers.set('idempotency-key', crypto.randomUUID())
      }
    }
    let renewed = false
    let nonceRetried = false
    for (let retries = 0; ;) {
      const token = await tokens.get()
      const response = await send(await authorized(request.clone(), token))
      if (dpop && !nonceRetried && (await dpop.heard(response))) {
        nonceRetried = true
        continue
      }
      // A token revoked or ended before its time (its client's secret rotated): one new token.
      if (response.status === 401 && !renewed) {
        renewed = true
        tokens.invalidate(token)
        await response.body?.cancel()
        continue
      }
      const wait = retryDelay(response, retries, options.retry)
      if (wait === null) return response
      await response.body?.cancel()
      await sleep(wait)
      retries++
    }
  }

  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: fetchWithToken })
  return Object.assign(client, { tokens })
}
