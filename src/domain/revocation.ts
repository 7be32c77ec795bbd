// RFC 7009 revocation of one token, and revocation of all of a client's tokens.
import { AppError } from '../errors.ts'
import { verifyAccessToken } from './tokens.ts'
import type { SigningKeySet } from './signing-keys.ts'
import { insertRevokedToken } from '../storage/revoked-tokens.ts'
import { deleteCachedTokenState, tokenCacheKey } from '../storage/token-cache.ts'
import { setTokensValidAfter, type Client } from '../storage/clients.ts'
import { writeClientTokenMarker, type ClientTokenMarker } from '../storage/client-token-markers.ts'

export type RevocationDeps = {
  db: D1Database
  cache: KVNamespace
  keys: SigningKeySet
  issuer: string
  now: Date
}

/** `expired`: a token of ours, already useless; `not_a_token`: not a token this issuer signed. */
export type RevocationOutcome = 'revoked' | 'not_owner' | 'not_a_token' | 'expired'

/**
 * Revokes `token` if `callerId` owns it. Never throws for a bad token: RFC 7009 §2.2 answers 200
 * for invalid and unknown tokens, and §2.1 says a client revokes only its own tokens.
 */
export async function revokeToken(
  deps: RevocationDeps,
  callerId: string,
  token: string,
): Promise<RevocationOutcome> {
  let claims
  try {
    claims = (await verifyAccessToken(deps.keys, token, { issuer: deps.issuer, now: deps.now })).claims
  } catch (err) {
    return err instanceof AppError && err.code === 'token_expired' ? 'expired' : 'not_a_token'
  }
  if (claims.client_id !== callerId) return 'not_owner'
  await insertRevokedToken(deps.db, { jti: claims.jti, clientId: claims.client_id, expiresAt: claims.exp })
  // D1 first, then the cache: a check between the two reads the old entry at worst, never
  // re-caches the token as active (the miss path reads the revocation row).
  await deleteCachedTokenState(deps.cache, await tokenCacheKey(token))
  return 'revoked'
}

/**
 * Makes every token these clients hold now inactive at the next check, including cached states
 * (through their KV markers). Used when a client is disabled, deleted, or its secret rotated with
 * "revoke existing tokens", and for all of a provider's clients when the provider is disabled.
 * `status` is what the markers say about the clients from now on.
 */
export async function invalidateClientTokens(
  deps: Pick<RevocationDeps, 'db' | 'cache' | 'now'>,
  clientIds: string[],
  status: ClientTokenMarker['status'],
): Promise<void> {
  // Tokens issued in this very second are included: their iat is below the next second.
  const tokensValidAfter = Math.floor(deps.now.getTime() / 1000) + 1
  await setTokensValidAfter(deps.db, clientIds, tokensValidAfter)
  await Promise.all(clientIds.map((id) => writeClientTokenMarker(deps.cache, id, { status, tokensValidAfter })))
}

/**
 * After a client or its provider is enabled again: its marker says active again, so its new
 * tokens pass; tokens from before it was disabled stay inactive (`tokensValidAfter` is kept).
 * Returns once a token issued now would pass (see waitOutRevocationSecond).
 */
export async function reactivateClientTokens(
  deps: Pick<RevocationDeps, 'cache' | 'now'>,
  clients: Pick<Client, 'id' | 'tokensValidAfter' | 'status'>[],
): Promise<void> {
  await Promise.all(
    clients.map((c) =>
      writeClientTokenMarker(deps.cache, c.id, {
        status: c.status === 'active' ? 'active' : 'disabled',
        tokensValidAfter: c.tokensValidAfter,
      }),
    ),
  )
  await waitOutRevocationSecond(deps.now, Math.max(0, ...clients.map((c) => c.tokensValidAfter)))
}

/**
 * Tokens carry their issue time in whole seconds (iat), and those issued before a client's
 * `tokensValidAfter` are inactive for good. When that second has not begun yet (the client's tokens
 * were ended in this very second), a token issued now would be ended with them: this waits it out,
 * at most a second, before a new secret or a re-enabled client or provider is handed back.
 */
export async function waitOutRevocationSecond(now: Date, tokensValidAfter: number): Promise<void> {
  const wait = Math.min(tokensValidAfter * 1000 - now.getTime(), 1000)
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
}
