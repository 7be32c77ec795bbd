// FCM access tokens without a key (decisions.md D39): Portero signs a short-lived JWT about itself
// with its own token signing key (its keys are published at /.well-known/jwks.json), trades it at
// Google's Security Token Service (RFC 8693 token exchange) for a federated token of its workload
// identity pool, and trades that at the IAM Credentials API for an access token of the service
// account allowed to send through FCM. Cached as the service-account flow's tokens are.
import { SignJWT } from 'jose'
import {
  createCachedTokenSource,
  FCM_SCOPE,
  isPositive,
  postForGoogle,
  ProviderAuthError,
  type GoogleTokenSource,
} from './google-token.ts'
import { field } from './http.ts'
import type { ProviderToken } from '../storage/provider-tokens.ts'
import { epochSeconds } from '../utils/time.ts'

export const DEFAULT_STS_URL = 'https://sts.googleapis.com/v1/token'
/** The subject of the JWT Portero signs about itself: what the pool's binding names. */
export const WORKLOAD_SUBJECT = 'portero-fcm'
/** Google accepts subject tokens of at most a day; this one is used at once. */
const SUBJECT_TOKEN_LIFETIME_SECONDS = 300
/** The longest access token generateAccessToken gives without an organisation policy. */
const ACCESS_TOKEN_LIFETIME_SECONDS = 3600
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform'

/** What FCM_WORKLOAD_IDENTITY holds: the fields of Google's external account configuration used. */
export type WorkloadIdentity = {
  /** `//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER` */
  audience: string
  /** `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken` */
  serviceAccountImpersonationUrl: string
  /** Google's STS; the stand-in's locally. */
  tokenUrl: string
}

/** Portero's own signing key and issuer: the JWT it signs about itself. */
export type WorkloadSigner = {
  issuer: string
  signing: { kid: string; alg: string; key: CryptoKey }
}

export type WorkloadIdentityTokenSourceConfig = WorkloadIdentity & {
  /** Loaded when a token is needed (config.ts's loadConfig). */
  signer: () => Promise<WorkloadSigner>
  cache: KVNamespace
  fetch?: typeof globalThis.fetch
  now?: () => Date
  timeoutMs?: number
}

export function createWorkloadIdentityTokenSource({
  audience,
  serviceAccountImpersonationUrl,
  tokenUrl,
  signer,
  cache,
  fetch = globalThis.fetch,
  now = () => new Date(),
  timeoutMs = 10_000,
}: WorkloadIdentityTokenSourceConfig): GoogleTokenSource {
  async function requestToken(): Promise<ProviderToken> {
    const issuedAt = epochSeconds(now())
    const http = { fetch, timeoutMs, now: now() }
    const { issuer, signing } = await signer()
    // The provider's default allowed audience is its resource name as an https URL.
    const subjectToken = await new SignJWT({})
      .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(WORKLOAD_SUBJECT)
      .setAudience(`https:${audience}`)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + SUBJECT_TOKEN_LIFETIME_SECONDS)
      .setJti(crypto.randomUUID())
      .sign(signing.key)
    const exchanged = await postForGoogle(
      http,
      'Google STS',
      tokenUrl,
      {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE,
          audience,
          scope: CLOUD_PLATFORM_SCOPE,
          requested_token_type: ACCESS_TOKEN_TYPE,
          subject_token: subjectToken,
          subject_token_type: JWT_TOKEN_TYPE,
        }).toString(),
      },
      "refused Portero's token",
    )
    const federated = field(exchanged, 'access_token')
    if (typeof federated !== 'string' || federated === '') {
      throw new ProviderAuthError('Google STS answered without a token', { retryable: false })
    }
    const generated = await postForGoogle(
      http,
      'Google IAM Credentials',
      serviceAccountImpersonationUrl,
      {
        headers: { 'content-type': 'application/json', authorization: `Bearer ${federated}` },
        body: JSON.stringify({
          scope: [FCM_SCOPE],
          lifetime: `${ACCESS_TOKEN_LIFETIME_SECONDS}s`,
        }),
      },
      'refused to impersonate the service account',
    )
    const accessToken = field(generated, 'accessToken')
    const expireTime = Date.parse(String(field(generated, 'expireTime')))
    const expiresIn = Math.floor(expireTime / 1000) - issuedAt
    if (typeof accessToken !== 'string' || accessToken === '' || !isPositive(expiresIn)) {
      throw new ProviderAuthError('Google IAM Credentials answered without a usable token', {
        retryable: false,
      })
    }
    return { accessToken, expiresAt: issuedAt + expiresIn }
  }

  const cacheId = `workload-identity ${audience} ${serviceAccountImpersonationUrl}`
  return createCachedTokenSource({ cacheId, cache, now, requestToken })
}
