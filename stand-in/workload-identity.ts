// Google's Security Token Service (token exchange for a workload identity pool) and the IAM
// Credentials API's generateAccessToken, checking what the real ones check: the request's shape,
// the subject token's signature against its issuer's JWK set, its issuer and audience, and the
// federated token and service account at impersonation. Independent of Portero's code.
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload } from 'jose'

export type WorkloadIdentityOptions = {
  /** `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/R` */
  audience: string
  /** The OIDC provider's issuer: Portero's ISSUER. */
  issuer: string
  /** Where the issuer's keys are (Portero's /.well-known/jwks.json). */
  jwksUrl: string
  /** The service account the pool's principals may impersonate. */
  serviceAccountEmail: string
}

/** What an endpoint answers: status and JSON body (the caller logs and sends it). */
export type WorkloadAnswer = { status: number; body: unknown; logged?: unknown }

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_TYPES = [
  'urn:ietf:params:oauth:token-type:jwt',
  'urn:ietf:params:oauth:token-type:id_token',
]
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const LIFETIME_SECONDS = 3600

function stsError(error: string, description: string): WorkloadAnswer {
  return { status: 400, body: { error, error_description: description } }
}

function rpcError(status: number, code: string, message: string): WorkloadAnswer {
  return { status, body: { error: { code: status, message, status: code } } }
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
}

export function createWorkloadIdentity(
  options: WorkloadIdentityOptions,
  fetch: (request: Request) => Promise<Response>,
  /** Access tokens FCM accepts: token → expiry (epoch ms). */
  accessTokens: Map<string, number>,
) {
  const federatedTokens = new Map<string, { expiresAt: number; subject: string }>()
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
    [customFetch]: (url: string, init: RequestInit) => fetch(new Request(url, init)),
    cooldownDuration: 0,
  })

  /** POST /v1/token (https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token). */
  async function exchange(form: URLSearchParams | undefined): Promise<WorkloadAnswer> {
    if (!form) return stsError('invalid_request', 'The request body must be a form or JSON.')
    for (const name of ['grant_type', 'audience', 'subject_token', 'subject_token_type']) {
      if (!form.get(name)) return stsError('invalid_request', `Missing required field: ${name}.`)
    }
    if (form.get('grant_type') !== TOKEN_EXCHANGE) {
      return stsError('unsupported_grant_type', `Invalid value for "grant_type".`)
    }
    const requested = form.get('requested_token_type')
    if (requested && requested !== ACCESS_TOKEN_TYPE) {
      return stsError('invalid_request', 'Invalid value for "requested_token_type".')
    }
    if (!JWT_TYPES.includes(form.get('subject_token_type')!)) {
      return stsError('invalid_request', 'Invalid value for "subject_token_type".')
    }
    if (form.get('audience') !== options.audience) {
      return stsError(
        'invalid_target',
        'The target service indicated by the "audience" parameters is invalid.',
      )
    }
    let claims: JWTPayload
    try {
      ;({ payload: claims } = await jwtVerify(form.get('subject_token')!, jwks, {
        issuer: options.issuer,
        // The provider's default allowed audience.
        audience: `https:${options.audience}`,
        requiredClaims: ['iat', 'exp', 'sub'],
        maxTokenAge: '24h',
      }))
    } catch (error) {
      const { code, claim } = error as { code?: string; claim?: string }
      const what = claim
        ? `The "${claim}" claim is invalid`
        : `The subject token is invalid (${code})`
      return stsError('invalid_grant', `${what}.`)
    }
    const token = `ya29.d.${randomHex(40)}`
    federatedTokens.set(token, {
      expiresAt: Date.now() + LIFETIME_SECONDS * 1000,
      subject: claims.sub!,
    })
    const body = {
      access_token: token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: LIFETIME_SECONDS,
    }
    return { status: 200, body, logged: { ...body, access_token: 'ya29.d.(redacted)' } }
  }

  /**
   * POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken
   * (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken).
   */
  function impersonate(request: Request, email: string, body: unknown): WorkloadAnswer {
    const bearer = /^Bearer (\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]
    const federated = bearer === undefined ? undefined : federatedTokens.get(bearer)
    if (!federated || federated.expiresAt <= Date.now()) {
      return rpcError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')
    }
    if (email !== options.serviceAccountEmail) {
      return rpcError(
        403,
        'PERMISSION_DENIED',
        `Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`,
      )
    }
    if (request.headers.get('content-type')?.split(';')[0] !== 'application/json') {
      return rpcError(400, 'INVALID_ARGUMENT', 'The request body must be JSON.')
    }
    const { scope, lifetime } = (body ?? {}) as { scope?: unknown; lifetime?: unknown }
    if (!Array.isArray(scope) || scope.length === 0) {
      return rpcError(400, 'INVALID_ARGUMENT', 'Scope required.')
    }
    if (
      !scope.includes(FCM_SCOPE) &&
      !scope.includes('https://www.googleapis.com/auth/cloud-platform')
    ) {
      return rpcError(400, 'INVALID_ARGUMENT', 'The scopes do not allow FCM.')
    }
    const seconds =
      lifetime === undefined ? LIFETIME_SECONDS : Number(/^(\d+)s$/.exec(String(lifetime))?.[1])
    if (!(seconds > 0 && seconds <= LIFETIME_SECONDS)) {
      return rpcError(400, 'INVALID_ARGUMENT', 'lifetime must be at most 3600s.')
    }
    const accessToken = `ya29.c.${randomHex(40)}`
    const expiresAt = Date.now() + seconds * 1000
    accessTokens.set(accessToken, expiresAt)
    const answer = { accessToken, expireTime: new Date(expiresAt).toISOString() }
    return { status: 200, body: answer, logged: { ...answer, accessToken: 'ya29.c.(redacted)' } }
  }

  return { exchange, impersonate, federatedTokens }
}
