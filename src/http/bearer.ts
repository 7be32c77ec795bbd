// Reading the access token a caller sent: `Authorization: Bearer` (RFC 6750 §2.1) or Bridge's
// `x-access-token` header (document 003).
import type { Context } from 'hono'
import { AppError } from '../errors.ts'

const BEARER = /^Bearer[ ]+(\S+)\s*$/i

/** The token from the request. Throws 401 `token_missing`, or 400 when two different are sent. */
export function readAccessToken(c: Context): string {
  const authorization = c.req.header('authorization')
  const fromHeader = c.req.header('x-access-token')?.trim() || undefined
  const fromBearer = authorization ? BEARER.exec(authorization)?.[1] : undefined
  if (fromHeader && fromBearer && fromHeader !== fromBearer) {
    // RFC 6750 §2: a client must not send the token by more than one method.
    const detail = 'Send the token in one header only: Authorization or x-access-token.'
    throw new AppError('invalid_request', detail)
  }
  const token = fromHeader ?? fromBearer
  if (!token) {
    const detail = authorization
      ? 'The Authorization header is not "Bearer <token>".'
      : 'Send the token in the x-access-token header or as "Authorization: Bearer <token>".'
    throw new AppError('token_missing', detail)
  }
  return token
}
