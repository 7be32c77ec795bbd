// Keeping clients' edge records (storage/client-records.ts) in step with D1: every admin change
// writes D1 first, then the records, read back from D1, so the isolate that made the change sees
// it at once and other locations within KV's propagation time. What D1 has changed and KV may not
// hold yet is counted in D1 (storage/client-record-versions.ts), and the scheduled job publishes
// whatever lags (decisions.md D35).
import { AppError } from '../errors.ts'
import {
  bumpRecordVersions,
  findLaggingRecords,
  findRecordVersions,
  markRecordsPublished,
  type RecordVersion,
} from '../storage/client-record-versions.ts'
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
 * Before an admin change writes D1: these clients' records are about to lag, so that a change
 * stored just before D1 fails is still published by the scheduled job. (The bump in
 * publishClientRecords, after the change, covers a job that published between the two.)
 */
export async function markClientRecordsChanging(
  deps: Pick<ClientRecordDeps, 'db'>,
  ids: readonly string[],
): Promise<void> {
  await bumpRecordVersions(deps.db, ids)
}

/**
 * Rewrites the records of these clients from D1. An id without a row gets a "no such client"
 * record that keeps `tokensValidAfter`, so a client later created with that id starts after its
 * predecessor's tokens. Returns the clients that exist. Called after the change is written, which
 * markClientRecordsChanging preceded: throws 503 `temporarily_unavailable` when KV refuses a record
 * or D1 fails now, since the change is stored and the scheduled job publishes it.
 */
export async function publishClientRecords(
  deps: ClientRecordDeps,
  ids: readonly string[],
  tokensValidAfterIfGone = 0,
): Promise<Client[]> {
  let versions: RecordVersion[]
  let clients: Client[]
  try {
    // The version is bumped before D1 is read: a change landing after this read bumps it again.
    versions = await bumpRecordVersions(deps.db, ids, tokensValidAfterIfGone)
    clients = await findClientsByIds(deps.db, ids)
  } catch (cause) {
    // The change is written, and its record marked as lagging before it was
    // (markClientRecordsChanging): the scheduled job publishes it.
    throw new AppError('temporarily_unavailable', CHANGE_STORED, { cause })
  }
  const failure = await writeRecords(deps, versions, clients)
  if (failure) {
    throw new AppError('temporarily_unavailable', CHANGE_STORED, { cause: failure.reason })
  }
  return clients
}

/** The scheduled job's runs are five minutes apart (wrangler.toml [triggers]). */
const CHANGE_STORED =
  'The change is stored, but Portero could not publish it to the edge now: it takes effect ' +
  'everywhere within about six minutes (the next five-minute repair, then KV propagation).'

/** At most this many records a run: the rest wait for the next one. */
const REPUBLISH_BATCH = 200

/**
 * Publishes every record whose latest version KV has not taken (a publish that failed, or a change
 * whose route ended before publishing); returns how many it published. Run by the scheduled job,
 * as backfillTombstones is for revocations. Throws after publishing the others if KV refused one.
 */
export async function republishLaggingRecords(deps: ClientRecordDeps): Promise<number> {
  const lagging = await findLaggingRecords(deps.db, REPUBLISH_BATCH)
  if (lagging.length === 0) return 0
  const failure = await publishFromD1(deps, lagging)
  // An admin change made meanwhile published its own record, which this run's, read from D1
  // before it, may have overwritten in KV (the last write wins): those are written again.
  const read = new Map(lagging.map((v) => [v.clientId, v.version]))
  const now = await findRecordVersions(deps.db, [...read.keys()])
  const rewrite = await publishFromD1(
    deps,
    now.filter((v) => v.version > read.get(v.clientId)!),
  )
  const failed = failure ?? rewrite
  if (failed) throw failed.reason
  return lagging.length
}

/** Reads these clients from D1 (after their versions were read) and writes their records. */
async function publishFromD1(
  deps: ClientRecordDeps,
  versions: readonly RecordVersion[],
): Promise<PromiseRejectedResult | undefined> {
  if (versions.length === 0) return undefined
  const clients = await findClientsByIds(
    deps.db,
    versions.map((v) => v.clientId),
  )
  return writeRecords(deps, versions, clients)
}

/**
 * Writes each record, then marks as published the versions KV took. The versions were read before
 * the clients, so a version marked is never newer than what was written. Returns a failure, if any.
 */
async function writeRecords(
  deps: ClientRecordDeps,
  versions: readonly RecordVersion[],
  clients: readonly Client[],
): Promise<PromiseRejectedResult | undefined> {
  const settled = await Promise.allSettled(
    versions.map(({ clientId, tokensValidAfter: ifGone }) => {
      const client = clients.find((c) => c.id === clientId) ?? null
      const tokensValidAfter = client?.tokensValidAfter ?? ifGone
      return publishClientRecord(deps.cache, clientId, { client, tokensValidAfter })
    }),
  )
  const published = versions.filter((_, i) => settled[i]!.status === 'fulfilled')
  // A mark that fails costs one more write by the scheduled job, never a stale record.
  await markRecordsPublished(deps.db, published).catch(() => {})
  return settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
}

/**
 * After a change of credentials that leaves the tokens issued until now alone (a secret or keys
 * rotated with an overlap, a key removed): a new generation begins, so that a token minted from the
 * old record at a location that has not seen the change yet dies once it has (decisions.md D34).
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
 * minted after this from a stale record end as well (decisions.md D34).
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
