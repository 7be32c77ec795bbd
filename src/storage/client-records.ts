// KV "client:" and "client-fill:" entries: a client's edge record, what token issue and token
// checks need (secret digests, status, scopes, audiences, lifetime, provider status), so that
// neither waits on D1.
//
// D1 stays the system of record, and the two prefixes keep a racing cache fill from undoing an
// admin change. Every admin change writes D1 first, then "client:" from D1 (published). A check
// that finds neither entry reads D1 and writes "client-fill:" after the response. Readers take the
// published entry whenever there is one, so a fill that read D1 just before an admin change and
// lands just after it is never used; and it expires long before the published entry does.
import { sha256Hex } from '../encoding.ts'
import type { Client } from './clients.ts'
import { forgetEdgeState, rememberFill } from './edge-state.ts'

export const KV_PREFIX = 'client:'
export const FILL_PREFIX = 'client-fill:'
/** Outlives every token a record can affect: clients.token_lifetime is at most 86400 s. */
export const RECORD_TTL_SECONDS = 86400 + 60
/**
 * A fill stands in only while no admin change has published a record, so it can live long; an
 * hour keeps it well inside the life of any record published after it.
 */
export const FILL_TTL_SECONDS = 3600

/**
 * What any client id is: at most 128 characters, no control characters (the admin API is stricter;
 * migrated clients may carry spaces or colons). Anything else names no client and is not looked up.
 */
const CLIENT_ID = /^[^\p{Cc}]{1,128}$/u

export type ClientRecord = {
  /** null: no such client (deleted), so every token naming its id is inactive. */
  client: Client | null
  /** Tokens naming this id issued before this (epoch seconds) are inactive. */
  tokensValidAfter: number
}

export type ClientRecordKeys = { published: string; filled: string }

/**
 * The record's keys (a hash: ids come from strangers, and a key has a byte limit), or null for an
 * id no client can have, which is never looked up nor stored.
 */
export async function clientRecordKeys(id: string): Promise<ClientRecordKeys | null> {
  if (!CLIENT_ID.test(id)) return null
  const hash = await sha256Hex(id)
  return { published: KV_PREFIX + hash, filled: FILL_PREFIX + hash }
}

/** The record among the values of a bulk read: the published one wins over a fill. */
export function pickClientRecord(
  values: ReadonlyMap<string, unknown>,
  keys: ClientRecordKeys,
): ClientRecord | null {
  return (
    ((values.get(keys.published) ?? values.get(keys.filled)) as ClientRecord | undefined) ?? null
  )
}

export async function readClientRecord(kv: KVNamespace, id: string): Promise<ClientRecord | null> {
  const keys = await clientRecordKeys(id)
  return keys
    ? pickClientRecord(await kv.get<ClientRecord>([keys.published, keys.filled], 'json'), keys)
    : null
}

/** After an admin change: the record as D1 now has it. */
export async function publishClientRecord(
  kv: KVNamespace,
  id: string,
  record: ClientRecord,
): Promise<void> {
  const keys = await clientRecordKeys(id)
  if (!keys) return
  const value = JSON.stringify(record)
  // KV takes one write a second per key and answers 429 to more: two admin changes to one client
  // within a second must not leave the first one's record at the edge for a day.
  for (let attempt = 1; ; attempt++) {
    try {
      await kv.put(keys.published, value, { expirationTtl: RECORD_TTL_SECONDS })
      break
    } catch (error) {
      if (attempt >= PUBLISH_ATTEMPTS || !/\b429\b/.test(String(error))) throw error
      await new Promise((resolve) => setTimeout(resolve, SAME_KEY_WRITE_INTERVAL_MS))
    }
  }
  forgetEdgeState()
}

/** KV's limit on writes to one key (Workers KV limits: 1 per second). */
const SAME_KEY_WRITE_INTERVAL_MS = 1000
const PUBLISH_ATTEMPTS = 3

/** After a check that found no record: what D1 said, until the next fill. */
export async function fillClientRecord(
  kv: KVNamespace,
  id: string,
  record: ClientRecord,
): Promise<void> {
  const keys = await clientRecordKeys(id)
  if (!keys) return
  await kv.put(keys.filled, JSON.stringify(record), { expirationTtl: FILL_TTL_SECONDS })
  rememberFill(keys.filled, record)
}
