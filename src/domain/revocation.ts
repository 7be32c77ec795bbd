// RFC 7009 revocation of one token, and the wait that lets a client's new tokens outlive the end of
// its old ones.
import { AppError } from '../errors.ts'
import { verifyAccessToken } from './tokens.ts'
import type { SigningKeySet } from './signing-keys.ts'
import { insertRevokedToken, listUntombstoned, markTombstoned } from '../storage/revoked-tokens.ts'
import { writeTombstone } from '../storage/token-tombstones.ts'

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
    claims = (await verifyAccessToken(deps.keys, token, { issuer: deps.issuer, now: deps.now }))
      .claims
  } catch (err) {
    return err instanceof AppError && err.code === 'token_expired' ? 'expired' : 'not_a_token'
  }
  if (claims.client_id !== callerId) return 'not_owner'
  // D1 is the record; the tombstone is what token checks read, in the same bulk read as the
  // token's cached claims, so no cache fill racing this revocation can make the token active again.
  await Promise.all([
    insertRevokedToken(deps.db, {
      jti: claims.jti,
      clientId: claims.client_id,
      expiresAt: claims.exp,
    }),
    writeTombstone(deps.cache, claims.jti, claims.exp, deps.now),
  ])
  return 'revoked'
}

/** Tombstones the scheduled backfill writes in one run: well under a Worker's subrequest limit. */
export const TOMBSTONE_BACKFILL_BATCH = 200

/**
 * Writes the tombstones of revocations whose tombstone is not confirmed yet (made before
 * tombstones existed, or whose write failed), then marks them; returns how many. Run by the
 * scheduled clean-up: a revocation's tombstone is certain within one run of it.
 */
export async function backfillTombstones(
  deps: Pick<RevocationDeps, 'db' | 'cache' | 'now'>,
): Promise<number> {
  const rows = await listUntombstoned(deps.db, deps.now, TOMBSTONE_BACKFILL_BATCH)
  await Promise.all(rows.map((r) => writeTombstone(deps.cache, r.jti, r.expiresAt, deps.now)))
  await markTombstoned(
    deps.db,
    rows.map((r) => r.jti),
  )
  return rows.length
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
