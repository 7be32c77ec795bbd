// Client credentials on OAuth endpoints: client_secret_basic or client_secret_post
// (RFC 6749 §2.3.1).
import type { Context } from 'hono'
import * as z from 'zod'
import { AppError } from '../errors.ts'

export type ClientCredentials = { clientId: string; clientSecret: string }

const MAX_CREDENTIAL_LENGTH = 256

/**
 * The form of the endpoints where a client hands in a token: introspection (RFC 7662 §2.1) and
 * revocation (RFC 7009 §2.1), with client_secret_post's credentials.
 */
export const TokenForm = z.object({
  token: z.string({ error: 'token is required' }).min(1, 'token must not be empty'),
  // Document 001: an unknown hint is ignored and the token checked anyway.
  token_type_hint: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
})

function invalidClient(detail: string): AppError {
  return new AppError('invalid_client', detail)
}

/** RFC 6749 §2.3.1: the id and secret are form-urlencoded before base64. */
function decodeBasic(header: string): ClientCredentials {
  let decoded: string
  try {
    decoded = atob(header.slice(6).trim())
  } catch {
    throw invalidClient('The Basic credentials are not valid base64.')
  }
  const colon = decoded.indexOf(':')
  if (colon < 0) throw invalidClient('The Basic credentials are not "client_id:client_secret".')
  try {
    const unescape = (s: string) => decodeURIComponent(s.replaceAll('+', ' '))
    return {
      clientId: unescape(decoded.slice(0, colon)),
      clientSecret: unescape(decoded.slice(colon + 1)),
    }
  } catch {
    throw invalidClient(
      'The Basic credentials are not form-urlencoded as RFC 6749 §2.3.1 requires.',
    )
  }
}

/**
 * The client's credentials from the Authorization header or the form body.
 * Throws 401 `invalid_client` when none or malformed, 400 when both methods are used.
 */
export function readClientCredentials(
  c: Context,
  form: { client_id?: string; client_secret?: string },
): ClientCredentials {
  const authorization = c.req.header('authorization')
  const basic = authorization && /^basic /i.test(authorization) ? decodeBasic(authorization) : null
  const posted = form.client_secret !== undefined
  if (basic && (posted || (form.client_id !== undefined && form.client_id !== basic.clientId))) {
    // RFC 6749 §2.3: a client must not use more than one authentication method per request.
    const detail = 'Authenticate with the Authorization header or the body, not both.'
    throw new AppError('invalid_request', detail)
  }
  const credentials =
    basic ?? (posted ? { clientId: form.client_id ?? '', clientSecret: form.client_secret! } : null)
  if (!credentials) {
    throw invalidClient(
      'Authenticate with HTTP Basic (client_secret_basic) or client_id and client_secret ' +
        'in the body.',
    )
  }
  const { clientId, clientSecret } = credentials
  if (
    !clientId ||
    !clientSecret ||
    clientId.length > MAX_CREDENTIAL_LENGTH ||
    clientSecret.length > MAX_CREDENTIAL_LENGTH
  ) {
    throw invalidClient('The client id or secret is empty or too long.')
  }
  return credentials
}

/** The caller's address as Cloudflare reports it; null when not behind Cloudflare. */
export function clientIp(c: Context): string | null {
  return c.req.header('cf-connecting-ip') ?? null
}
