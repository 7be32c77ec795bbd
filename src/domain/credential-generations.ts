// Credential generations (decisions.md D34): a token minted from a stale edge record (an old secret
// or key, a removed scope or audience, before DPoP was required) is inactive once its location's
// record catches up, whatever its `iat` says.
import type { Client } from '../storage/clients.ts'
import type { AccessTokenClaims } from '../token-claims.ts'

/** Records published before generations existed, and tokens minted from them, are in 0. */
const GENERATION_ZERO = [0]

/** The generation a token minted from this record is in: its newest (a time, in ms). */
export function currentGeneration(client: Client): number {
  return Math.max(...(client.credentialGenerations ?? GENERATION_ZERO))
}

/**
 * Whether a token was minted under a generation of its client that had already ended: in a second
 * after the one the next generation began in (`iat` has whole seconds only: a token of the very
 * second a change was made counts as made with it; a change that ends tokens ends that second's
 * too, by `tokensValidAfter`), or one the record no longer remembers (a client deleted and created
 * again, or more than MAX_CREDENTIAL_GENERATIONS changes since). A token from a newer generation
 * than this record knows is not stale: this record is.
 */
export function mintedUnderEndedGeneration(
  client: Client,
  claims: Pick<AccessTokenClaims, 'gen' | 'iat'>,
): boolean {
  const generations = client.credentialGenerations ?? GENERATION_ZERO
  const minted = claims.gen ?? 0
  if (minted >= Math.max(...generations)) return false
  if (!generations.includes(minted)) return true
  const next = Math.min(...generations.filter((generation) => generation > minted))
  return claims.iat > Math.floor(next / 1000)
}
