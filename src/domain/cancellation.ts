// Cancelling a scheduled message before it goes to the queue (decisions.md D44).
import { conflict } from '../errors.ts'
import { CANCELLED, statusChange } from '../storage/delivery-lifecycle.ts'
import { readMessage, type MessageRecord, type Sender, type ShardDatabases } from './dispatch.ts'
import { messageHome } from './message-ids.ts'

/**
 * Cancels a scheduled message of the sender's provider: each of its deliveries not yet handed to
 * the queue becomes `failed` with the error code `cancelled` (the lifecycle's `cancel`), in one
 * batch. Cancelling a cancelled message changes nothing. Throws 404 as readMessage does, or 409
 * `conflict` when no delivery was still scheduled (the message went to the queue).
 */
export async function cancelMessage(
  shards: ShardDatabases,
  sender: Sender,
  id: string,
  now: Date,
): Promise<MessageRecord> {
  const record = await readMessage(shards, sender, id)
  const waiting = record.deliveries.filter((d) => d.status === 'queued' && d.scheduledFor !== null)
  const cancelled = record.deliveries.every((d) => d.errorCode === CANCELLED)
  if (waiting.length === 0 && cancelled) return record
  const refused = () =>
    conflict('This message was already handed to the queue: it can no longer be cancelled.')
  if (waiting.length === 0) throw refused()
  const shard = shards(messageHome(id)!.shard)
  const changes = waiting.map((d) =>
    statusChange(shard, { kind: 'cancel', deliveryId: d.id, at: now }),
  )
  const results = await shard.batch(changes.flatMap((c) => c.statements))
  // Each change's first statement is its guarded UPDATE.
  let offset = 0
  let applied = 0
  for (const change of changes) {
    applied += results[offset]!.meta.changes
    offset += change.statements.length
  }
  if (applied === 0) throw refused()
  return readMessage(shards, sender, id)
}
