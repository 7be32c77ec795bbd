// A message's id names the send shard that holds it (decisions.md D32), so reading a message, its
// status or its timeline goes straight to that shard, with no lookup first: `p<provider>_<hex>`
// for a provider's first shard, `p<provider>s<k>_<hex>` for the k-th of several, where `<hex>`
// is a random UUID's 32 hex digits.
import { PROVIDER_ID_SOURCE, SHARD_INDEX_SOURCE } from '../storage/shard-database.ts'
import { sendShardName } from './admission.ts'

/** What newMessageId gives, and nothing else. */
export const MESSAGE_ID = new RegExp(
  `^p(${PROVIDER_ID_SOURCE})(?:s(${SHARD_INDEX_SOURCE}))?_([0-9a-f]{32})$`,
)

/** A new message id in the shard `index` (null: the first) of a provider. */
export function newMessageId(providerId: string, index: number | null): string {
  const random = crypto.randomUUID().replaceAll('-', '')
  return index === null ? `p${providerId}_${random}` : `p${providerId}s${index}_${random}`
}

/** Where a message lives, from its id; null for anything that is not a message id. */
export function messageHome(id: string): { providerId: string; shard: string } | null {
  const match = MESSAGE_ID.exec(id)
  if (!match) return null
  const [, providerId, index] = match
  return {
    providerId: providerId!,
    shard: sendShardName(providerId!, index === undefined ? null : Number(index)),
  }
}
