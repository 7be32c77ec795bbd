// Google OAuth access tokens for FCM (decisions.md D12): the service account signs a JWT-bearer
// assertion (RFC 7523) and trades it at the token endpoint. Tokens are cached in KV, shared across
// isolates, and memoized per source, so a batch of pushes reads KV once.
import { importPKCS8, SignJWT } from 'jose'
import { log } from '../log.ts'
import {
  deleteProviderToken,
  providerTokenKey,
  readProviderToken,
  REFRESH_MARGIN_SECONDS,
  writeProviderToken,
  type ProviderToken,
} from '../storage/provider-tokens.ts'
import { fetchWithTimeout, field, parseRetryAfter, readJson, truncate } from './http.ts'
import { memoize } from '../utils/memo.ts'
import { epochSeconds } from '../utils/time.ts'

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
export const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/** Google accepts assertions that live at most an hour. */
const ASSERTION_LIFETIME_SECONDS = 3600

/** The members of a service-account JSON key that are used. */
export type ServiceAccount = {
  client_email: string
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as in the JSON key file. */
  private_key: string
  token_uri?: string
}

export type GoogleTokenSourceConfig = {
  serviceAccount: ServiceAccount
  /** Overrides `serviceAccount.token_uri`; the assertion's `aud` is the URL actually used. */
  tokenUrl?: string
  cache: KVNamespace
  fetch?: typeof globalThis.fetch
  now?: () => Date
  timeoutMs?: number
}

export type GoogleTokenSource = {
  /** Throws ProviderAuthError, and nothing else, when no token can be had. */
  getAccessToken(): Promise<string>
  /** Forgets the token (memo and KV), after the API refused it. */
  invalidate(): Promise<void>
}

/** The token endpoint refused or failed. The message is safe to store: no key, no assertion. */
export class ProviderAuthError extends Error {
  readonly retryable: boolean
  readonly retryAfterSeconds: number | undefined

  constructor(
    message: string,
    options: { retryable: boolean; retryAfterSeconds?: number | undefined; cause?: unknown },
  ) {
    super(message, { cause: options.cause })
    this.name = 'ProviderAuthError'
    this.retryable = options.retryable
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

// Imported once per isolate per key: RSA key import is the slow part of signing. A few are kept:
// an isolate may sign with the keys from before and after a rotation.
const importPrivateKey = memoize(String, (pem: string) => importPKCS8(pem, 'RS256'), 4)

export function createGoogleTokenSource({
  serviceAccount,
  tokenUrl,
  cache,
  fetch = globalThis.fetch,
  now = () => new Date(),
  timeoutMs = 10_000,
}: GoogleTokenSourceConfig): GoogleTokenSource {
  const { client_email: clientEmail, private_key: privateKey } = serviceAccount
  const audience = tokenUrl ?? serviceAccount.token_uri ?? DEFAULT_TOKEN_URL

  async function requestToken(): Promise<ProviderToken> {
    const issuedAt = epochSeconds(now())
    let signingKey: CryptoKey
    try {
      signingKey = await importPrivateKey(privateKey)
    } catch (cause) {
      throw new ProviderAuthError('The FCM service account private_key is not a PKCS#8 RSA key', {
        retryable: false,
        cause,
      })
    }
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(clientEmail)
      .setAudience(audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
      .sign(signingKey)
    const body = await postForGoogle(
      { fetch, timeoutMs, now: now() },
      'Google token endpoint',
      audience,
      {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
      },
      'refused the service account',
    )
    const accessToken = field(body, 'access_token')
    const expiresIn = field(body, 'expires_in')
    if (typeof accessToken !== 'string' || accessToken === '' || !isPositive(expiresIn)) {
      throw new ProviderAuthError('Google token endpoint answered without a usable token', {
        retryable: false,
      })
    }
    // Counted from before the request, so the token is never believed to live longer than it does.
    return { accessToken, expiresAt: issuedAt + Math.floor(expiresIn) }
  }

  return createCachedTokenSource({ cacheId: clientEmail, cache, now, requestToken })
}

/**
 * A token source that keeps what `requestToken` gets in memory and in KV (under `cacheId`), until
 * REFRESH_MARGIN_SECONDS before it expires; concurrent callers share one KV read and at most one
 * request. Shared by the service-account and the workload identity flows.
 */
export function createCachedTokenSource({
  cacheId,
  cache,
  now,
  requestToken,
}: {
  cacheId: string
  cache: KVNamespace
  now: () => Date
  requestToken: () => Promise<ProviderToken>
}): GoogleTokenSource {
  let cacheKey: Promise<string> | undefined
  let memo: ProviderToken | undefined
  let pending: Promise<string> | undefined

  const key = () => (cacheKey ??= providerTokenKey(cacheId))
  const isFresh = (token: ProviderToken) =>
    token.expiresAt - REFRESH_MARGIN_SECONDS > epochSeconds(now())

  async function load(): Promise<string> {
    const cached = await readCached()
    if (cached && isFresh(cached)) {
      memo = cached
      return cached.accessToken
    }
    const fresh = await requestToken()
    memo = fresh
    try {
      await writeProviderToken(cache, await key(), fresh, now())
    } catch (cause) {
      // The cache only saves token requests; KV also refuses a second write to a key within a
      // second, which concurrent isolates refreshing together can hit.
      log('warn', 'google token not cached', { error: String(cause) })
    }
    return fresh.accessToken
  }

  async function readCached(): Promise<ProviderToken | null> {
    try {
      return await readProviderToken(cache, await key())
    } catch (cause) {
      log('warn', 'google token cache unreadable', { error: String(cause) })
      return null
    }
  }

  return {
    getAccessToken() {
      if (memo && isFresh(memo)) return Promise.resolve(memo.accessToken)
      pending ??= load().finally(() => {
        pending = undefined
      })
      return pending
    },
    async invalidate() {
      memo = undefined
      try {
        await deleteProviderToken(cache, await key())
      } catch (cause) {
        log('warn', 'google token not uncached', { error: String(cause) })
      }
    },
  }
}

/**
 * POSTs to one of Google's token APIs (`name` in messages) and answers the parsed body of a 2xx.
 * Throws ProviderAuthError: retryable for a network error, 429 or 5xx (with Retry-After), not for
 * another refusal, which is described with `refused` ("refused the service account").
 */
export async function postForGoogle(
  http: { fetch: typeof globalThis.fetch; timeoutMs: number; now: Date },
  name: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
  refused: string,
): Promise<unknown> {
  const outcome = await fetchWithTimeout(
    http.fetch,
    url,
    { method: 'POST', headers: { accept: 'application/json', ...init.headers }, body: init.body },
    http.timeoutMs,
  )
  if (!outcome.ok) throw new ProviderAuthError(`${name} ${outcome.reason}`, { retryable: true })
  const { response } = outcome
  const body = await readJson(response)
  if (!response.ok) throw refusal(name, refused, response, body, http.now)
  return body
}

export function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
}

/**
 * RFC 6749 §5.2 error body (`error`, `error_description`), or google.rpc.Status's `error.status`
 * and `error.message`: safe to repeat.
 */
function refusal(
  name: string,
  refused: string,
  response: Response,
  body: unknown,
  now: Date,
): ProviderAuthError {
  const { status } = response
  const rpc = field(body, 'error')
  const error = typeof rpc === 'object' ? field(rpc, 'status') : rpc
  const description = field(body, 'error_description') ?? field(rpc, 'message')
  let detail = `HTTP ${status}`
  if (typeof error === 'string' && error !== '') detail += ` ${truncate(error, 60)}`
  if (typeof description === 'string' && description !== '') detail += `: ${truncate(description)}`
  if (status === 429 || status >= 500) {
    return new ProviderAuthError(`${name} is unavailable (${detail})`, {
      retryable: true,
      retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after'), now),
    })
  }
  return new ProviderAuthError(`${name} ${refused} (${detail})`, {
    retryable: false,
  })
}
