// Dialects (decisions.md D3): the envelope a route answers in, and for /auth/login the body's field
// names say which source document a client follows.
import type { MiddlewareHandler } from 'hono'
import * as z from 'zod'
import type { AppEnv } from './app-env.ts'
import { fieldError, type Dialect } from '../errors.ts'
import { MAX_SECRET_LENGTH } from '../domain/secrets.ts'

const credential = (name: string) =>
  z
    .string({ error: `${name} is required and must be a string` })
    .min(1, `${name} must not be empty`)
    .max(MAX_SECRET_LENGTH, `${name} must be at most ${MAX_SECRET_LENGTH} characters`)

/** Document 003 (Bridge): {clientId, clientSecret} → {ack, token}. */
export const BridgeLogin = z.object({
  clientId: credential('clientId'),
  clientSecret: credential('clientSecret'),
})
/** Document 002 (Yativo): {account_id, app_secret} → {status, status_code, message, data}. */
export const YativoLogin = z.object({
  account_id: credential('account_id'),
  app_secret: credential('app_secret'),
})

export type LoginDialect = 'bridge' | 'yativo'

/**
 * The envelope a login's errors are answered in, from its field names alone: a body with fields of
 * both dialects gets the members of both, so that every client finds its own (Bridge its `ack`,
 * document 003); one with neither gets plain problem details.
 */
export function loginEnvelope(body: unknown): Dialect {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'problem'
  const bridge = 'clientId' in body || 'clientSecret' in body
  const yativo = 'account_id' in body || 'app_secret' in body
  return bridge && yativo ? 'bridge+yativo' : bridge ? 'bridge' : yativo ? 'yativo' : 'problem'
}

/**
 * The dialect a login body's field names pick. A body with fields of both is refused rather than
 * read as either: which pair the client meant cannot be known, and guessing could log it in with
 * credentials it did not mean to send, or answer in an envelope it does not read.
 */
export function detectLoginDialect(body: unknown): LoginDialect {
  const envelope = loginEnvelope(body)
  if (envelope === 'bridge' || envelope === 'yativo') return envelope
  if (envelope === 'bridge+yativo') {
    throw fieldError(
      '(body)',
      'fields of both login dialects',
      'The login is ambiguous: send either {"clientId", "clientSecret"} or ' +
        '{"account_id", "app_secret"}, not fields of both.',
    )
  }
  throw fieldError(
    '(body)',
    'no known credential fields',
    'Send {"clientId", "clientSecret"} or {"account_id", "app_secret"}; ' +
      'for OAuth 2.0 use POST /oauth/token.',
  )
}

/** Sets the envelope errors of the routes below are answered in. */
export function useDialect(dialect: Dialect): MiddlewareHandler<AppEnv> {
  return async function useDialect(c, next) {
    c.set('dialect', dialect)
    await next()
  }
}
