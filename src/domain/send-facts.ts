// Keeping the send shards' copies of the send facts current (decisions.md D48). After a request
// that changed a provider, a service, a subscription, a recipient or a suppression in D1, the
// shards of every provider it concerns bring their copy up to date before the response, so what
// the caller wrote is what its next /Services is checked against. Whatever this misses (a change
// made elsewhere, a shard unreachable for a moment), a shard's own refresh catches within a minute.
import { log } from '../log.ts'
import { findProvidersChangedAfter } from '../storage/send-facts.ts'
import { sendShardName } from './admission.ts'

/** The most shards one request brings up to date; the rest catch up on their own. */
export const MAX_SHARDS_REFRESHED = 500

export type FactsRefreshDeps = {
  db: D1Database
  shardOf: (name: string) => { syncFacts(): Promise<void> }
}

/** Brings up to date the shards of every provider a change after `cursor` concerns. */
export async function refreshChangedShards(
  deps: FactsRefreshDeps,
  cursor: number,
): Promise<number> {
  const providers = await findProvidersChangedAfter(deps.db, cursor)
  const names = providers
    .flatMap(({ id, sendShards }) => [
      sendShardName(id, null),
      ...Array.from({ length: sendShards > 1 ? sendShards : 0 }, (_, k) => sendShardName(id, k)),
    ])
    .slice(0, MAX_SHARDS_REFRESHED)
  await Promise.all(
    names.map((name) =>
      deps
        .shardOf(name)
        .syncFacts()
        .catch((cause: unknown) =>
          log('warn', 'a send shard could not bring its send facts up to date', {
            shard: name,
            cause: String(cause),
          }),
        ),
    ),
  )
  return names.length
}
