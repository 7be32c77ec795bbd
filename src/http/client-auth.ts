// Client credentials on OAuth endpoints: client_secret_basic or client_secret_post
// (RFC 6749 §2.3.1), private_key_jwt or a trusted issuer's token (RFC 7523 §2.2, decisions.md
// D38), and the JWT bearer grant's assertion (RFC 7523 §2.1).
import type { Context } from 'hono'
import * as z from 'zod'
import { AppError, fieldError } from '../errors.ts'
import { CLIENT_ASSERTION_TYPE, claimedClient } from '../domain/client-assertions.ts'

export type ClientCredentials =
  { clientId: string; clientSecret: string } | { clientId: string; clientAssertion: string }

/** The form fields of client authentication, on every endpoint that takes it. */
export type CredentialFields = {
  client_id?: string
  client_secret?: string
  client_assertion_type?: string
  client_assertion?: string
}

const described = (description: string) => z.string().optional().meta({ description })

/** private_key_jwt's form fields (RFC 7523 §2.2), for the forms' schemas. */
export const AssertionFields = {
  client_assertion_type: described(`private_key_jwt: \`${CLIENT_ASSERTION_TYPE}\`.`),
  client_assertion: described(
    "private_key_jwt: a JWT signed with one of the client's registered keys (docs/tokens.md " +
      '"private_key_jwt"), or a token one of its trusted issuers gave its workload, with ' +
      'client_id ("Federated clients"). Not with client_secret nor HTTP Basic.',
  ),
}

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
  ...AssertionFields,
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
 * Throws 401 `invalid_client` when none or malformed, 400 when more than one method is used.
 * An assertion is only taken here: every check of it is the login's, with one answer for all.
 */
export function readClientCredentials(c: Context, form: CredentialFields): ClientCredentials {
  const authorization = c.req.header('authorization')
  const basic = authorization && /^basic /i.test(authorization) ? decodeBasic(authorization) : null
  const posted = form.client_secret !== undefined
  const asserted = form.client_assertion !== undefined || form.client_assertion_type !== undefined
  if (
    (basic &&
      (posted ||
        asserted ||
        (form.client_id !== undefined && form.client_id !== basic.clientId))) ||
    (posted && asserted)
  ) {
    // RFC 6749 §2.3: a client must not use more than one authentication method per request.
    const detail = asserted
      ? 'Authenticate with client_assertion, client_secret or HTTP Basic: only one of them.'
      : 'Authenticate with the Authorization header or the body, not both.'
    throw new AppError('invalid_request', detail)
  }
  if (asserted) return readAssertion(form)
  const credentials =
    basic ?? (posted ? { clientId: form.client_id ?? '', clientSecret: form.client_secret! } : null)
  if (!credentials) {
    throw invalidClient(
      'Authenticate with HTTP Basic (client_secret_basic) or client_id and client_secret ' +
        'in the body.',
    )
  }
  const { clientId, clientSecret } = credentials as { clientId: string; clientSecret: string }
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

/**
 * The JWT bearer grant (RFC 7523 §2.1): the `assertion` authenticates the client named by
 * `client_id` (or, self-signed, by its own `sub`), so no other client authentication may come with
 * it. Throws 400 `invalid_request` when one does or the assertion is missing.
 */
export function readBearerGrant(
  c: Context,
  form: CredentialFields & { assertion?: string },
): ClientCredentials {
  const authorization = c.req.header('authorization')
  if (
    (authorization && /^basic /i.test(authorization)) ||
    form.client_secret !== undefined ||
    form.client_assertion !== undefined ||
    form.client_assertion_type !== undefined
  ) {
    const detail = 'The assertion authenticates the client: send client_id and nothing else.'
    throw new AppError('invalid_request', detail)
  }
  if (!form.assertion) throw fieldError('assertion', 'required', 'assertion is required.')
  const clientId = form.client_id ?? claimedClient(form.assertion) ?? ''
  return { clientId, clientAssertion: form.assertion }
}

function readAssertion(form: CredentialFields): ClientCredentials {
  if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE || !form.client_assertion) {
    const detail =
      `private_key_jwt takes client_assertion_type=${CLIENT_ASSERTION_TYPE} and a ` +
      'client_assertion.'
    throw new AppError('invalid_request', detail, {
      errors: [{ path: 'client_assertion_type', message: `must be ${CLIENT_ASSERTION_TYPE}` }],
    })
  }
  const assertion = form.client_assertion
  // A client_id sent beside the assertion must be the one it names (RFC 7521 §4.2): the login
  // verifies the assertion for this id, so a mismatch fails there with the same 401 as any other.
  const clientId = form.client_id ?? claimedClient(assertion) ?? ''
  return { clientId, clientAssertion: assertion }
}

/** The caller's address as Cloudflare reports it; null when not behind Cloudflare. */
export function clientIp(c: Context): string | null {
  return c.req.header('cf-connecting-ip') ?? null
}
