// Reading the access token a caller sent: `Authorization: Bearer` (RFC 6750 §2.1), `Authorization:
// DPoP` (RFC 9449 §7.1) or Bridge's `x-access-token` header (document 003).
import type { Context } from 'hono'
import { AppError } from '../errors.ts'

const SCHEME = /^(Bearer|DPoP)[ ]+(\S+)\s*$/i

/** The token and its scheme: x-access-token counts as Bearer, unless sent with a DPoP header. */
export type PresentedToken = { token: string; scheme: 'Bearer' | 'DPoP' }

/** The token from the request. Throws 401 `token_missing`, or 400 when two different are sent. */
export function readPresentedToken(c: Context): PresentedToken {
  const authorization = c.req.header('authorization')
  const fromHeader = c.req.header('x-access-token')?.trim() || undefined
  const match = authorization ? SCHEME.exec(authorization) : null
  const fromAuthorization = match?.[2]
  if (fromHeader && fromAuthorization && fromHeader !== fromAuthorization) {
    // RFC 6750 §2: a client must not send the token by more than one method.
    const detail = 'Send the token in one header only: Authorization or x-access-token.'
    throw new AppError('invalid_request', detail)
  }
  const token = fromHeader ?? fromAuthorization
  if (!token) {
    const detail = authorization
      ? 'The Authorization header is not "Bearer <token>" or "DPoP <token>".'
      : 'Send the token in the x-access-token header or as "Authorization: Bearer <token>".'
    throw new AppError('token_missing', detail)
  }
  const scheme = match?.[1]?.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
  return { token, scheme }
}
