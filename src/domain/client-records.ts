// Keeping clients' edge records (storage/client-records.ts) in step with D1: every admin change
// writes D1 first, then the records, read back from D1, so the isolate that made the change sees
// it at once and other locations within KV's propagation time.
import { publishClientRecord } from '../storage/client-records.ts'
import {
  beginCredentialGeneration,
  findClientsByIds,
  setTokensValidAfter,
  type Client,
} from '../storage/clients.ts'
import { epochSeconds } from '../utils/time.ts'

export type ClientRecordDeps = { db: D1Database; cache: KVNamespace; now: Date }

/**
 * Rewrites the records of these clients from D1. An id without a row gets a "no such client"
 * record that keeps `tokensValidAfter`, so a client later created with that id starts after its
 * predecessor's tokens. Returns the clients that exist.
 */
export async function publishClientRecords(
  deps: ClientRecordDeps,
  ids: readonly string[],
  tokensValidAfterIfGone = 0,
): Promise<Client[]> {
  const clients = await findClientsByIds(deps.db, ids)
  await Promise.all(
    ids.map((id) => {
      const client = clients.find((c) => c.id === id) ?? null
      const tokensValidAfter = client?.tokensValidAfter ?? tokensValidAfterIfGone
      return publishClientRecord(deps.cache, id, { client, tokensValidAfter })
    }),
  )
  return clients
}

/**
 * After a change of credentials that leaves the tokens issued until now alone (a secret or keys
 * rotated with an overlap, a key removed): a new generation begins, so that a token minted from the
 * old record at a location that has not seen the change yet dies once it has (decisions.md D32).
 */
export async function renewClientCredentials(
  deps: ClientRecordDeps,
  ids: readonly string[],
): Promise<Client[]> {
  await beginCredentialGeneration(deps.db, ids, deps.now.getTime())
  return publishClientRecords(deps, ids)
}

/**
 * Ends every token these clients hold now (disabled, deleted, narrowed, or rotated with
 * "revoke existing tokens"); returns the new `tokensValidAfter`. Tokens issued in this very second
 * are included: their iat is below the next second. A new generation begins too, so that tokens
 * minted after this from a stale record end as well (decisions.md D32).
 */
export async function endClientTokens(
  deps: ClientRecordDeps,
  ids: readonly string[],
): Promise<number> {
  const tokensValidAfter = epochSeconds(deps.now) + 1
  await beginCredentialGeneration(deps.db, ids, deps.now.getTime())
  await setTokensValidAfter(deps.db, [...ids], tokensValidAfter)
  await publishClientRecords(deps, ids, tokensValidAfter)
  return tokensValidAfter
}
