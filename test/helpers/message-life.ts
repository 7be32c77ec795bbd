// A typical message with its whole life written as production writes it: document 001's example
// (an SMS notification and an FCM advertisement to one recipient), both deliveries claimed and
// sent, the SMS delivered, with their timelines, and the webhook events an endpoint subscribed to
// every type was sent (one delivery and one successful attempt each). For the retention tests and
// the storage measurement.
import { env } from 'cloudflare:workers'
import { newMessageId } from '../../src/domain/message-ids.ts'
import { readOne } from '../../src/storage/batch.ts'
import { statusChange, type StatusChange } from '../../src/storage/delivery-lifecycle.ts'
import { insertMessage, type NewDelivery } from '../../src/storage/messages.ts'
import { handOverOutboxes, shardDb, shardDbOfMessage } from './shards.ts'

/** Rows a message has in each table it owns rows of. */
export type MessageRows = {
  messages: number
  deliveries: number
  delivery_events: number
  message_index: number
  webhook_events: number
  webhook_deliveries: number
  webhook_attempts: number
}

const hex = (bytes: number) =>
  [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')

/**
 * Writes a message of `providerId` created at `createdAt` and its life, a few seconds long: the
 * SMS ends `delivered` (or `sent`, without its receipt), the push `sent`. With `endpointId` (an enabled endpoint of the provider
 * subscribed to the events) its webhook events are written and marked sent to it. Returns the
 * message's id.
 */
export async function writeMessageLife(
  providerId: string,
  createdAt: Date,
  options: {
    idempotencyKey?: string | null
    endpointId?: string
    serviceId?: number
    /** False: the SMS API's receipt never came, and the SMS stays `sent`. */
    smsReceipt?: boolean
  } = {},
): Promise<string> {
  const id = newMessageId(providerId, null)
  const shard = shardDb(providerId)
  const at = (seconds: number) => new Date(createdAt.getTime() + seconds * 1000)
  const sms: NewDelivery = {
    id: crypto.randomUUID(),
    part: 'notification',
    channel: 'sms',
    address: '+5491155550000',
    title: 'Clínica Dr. Nano. Turno',
    body: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
    link: null,
  }
  const push: NewDelivery = {
    id: crypto.randomUUID(),
    part: 'advertisement',
    channel: 'fcm',
    // An FCM registration token is about 160 characters.
    address: `${hex(11)}:APA91b${hex(64)}`,
    title: 'Autos usados CHECHO',
    body: 'Lleve su auto usado con Financiameiento ...',
    link: null,
  }
  const insert = insertMessage(
    shard,
    {
      id,
      providerId,
      serviceId: options.serviceId ?? 1,
      idempotencyKey:
        options.idempotencyKey === undefined ? crypto.randomUUID() : options.idempotencyKey,
      requestHash: hex(32),
      sandbox: false,
      destination: `user-${crypto.randomUUID()}`,
      createdAt: createdAt.toISOString(),
    },
    [sms, push],
  )
  await readOne(shard, insert)
  const claim = (deliveryId: string): StatusChange => ({
    kind: 'claim',
    deliveryId,
    at: at(1),
    leaseUntil: Math.floor(at(61).getTime() / 1000),
    nowSeconds: Math.floor(at(1).getTime() / 1000),
  })
  const changes: StatusChange[] = [
    claim(sms.id),
    claim(push.id),
    { kind: 'sent', deliveryId: sms.id, at: at(2), providerMessageId: `SM${hex(16)}` },
    {
      kind: 'sent',
      deliveryId: push.id,
      at: at(2),
      providerMessageId: `projects/portero/messages/0:${Date.now()}%${hex(8)}`,
    },
    ...(options.smsReceipt === false
      ? []
      : [{ kind: 'delivered', deliveryId: sms.id, at: at(30) } as const]),
  ]
  await shard.batch(changes.flatMap((change) => statusChange(shard, change).statements))
  // As the shard's alarm would: its webhook events to D1 (those an endpoint wants), its index rows.
  await handOverOutboxes(providerId)
  if (options.endpointId) {
    // Each event fanned out to the endpoint and accepted at its first attempt, as the consumer
    // records it.
    const events = `FROM webhook_events WHERE message_id = ?1`
    await env.DB.batch([
      env.DB.prepare(
        `UPDATE webhook_events SET enqueued_at = created_at, fanned_out_at = created_at
         WHERE message_id = ?1`,
      ).bind(id),
      env.DB.prepare(
        `INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at)
         SELECT id, ?2, 'succeeded', 1, created_at ${events}`,
      ).bind(id, options.endpointId),
      env.DB.prepare(
        `INSERT INTO webhook_attempts (event_id, endpoint_id, attempt, attempted_at, http_status,
           duration_ms, outcome)
         SELECT id, ?2, 1, strftime('%Y-%m-%dT%H:%M:%fZ', created_at, 'unixepoch'), 200, 87,
           'succeeded' ${events}`,
      ).bind(id, options.endpointId),
    ])
  }
  return id
}

/**
 * How many rows `messageId` has in each table: its send shard's, and D1's (its index row and its
 * webhook events with their deliveries and attempts).
 */
export async function rowsOf(messageId: string): Promise<MessageRows> {
  const inShard = await shardDbOfMessage(messageId)
    .prepare(
      `SELECT
         (SELECT COUNT(*) FROM messages WHERE id = ?1) AS messages,
         (SELECT COUNT(*) FROM deliveries WHERE message_id = ?1) AS deliveries,
         (SELECT COUNT(*) FROM delivery_events WHERE message_id = ?1) AS delivery_events`,
    )
    .bind(messageId)
    .first<Pick<MessageRows, 'messages' | 'deliveries' | 'delivery_events'>>()
  const events = `SELECT id FROM webhook_events WHERE message_id = ?1`
  const inD1 = await env.DB.prepare(
    `SELECT
       (SELECT COUNT(*) FROM message_index WHERE id = ?1) AS message_index,
       (SELECT COUNT(*) FROM webhook_events WHERE message_id = ?1) AS webhook_events,
       (SELECT COUNT(*) FROM webhook_deliveries WHERE event_id IN (${events}))
         AS webhook_deliveries,
       (SELECT COUNT(*) FROM webhook_attempts WHERE event_id IN (${events})) AS webhook_attempts`,
  )
    .bind(messageId)
    .first<Omit<MessageRows, 'messages' | 'deliveries' | 'delivery_events'>>()
  return { ...inShard!, ...inD1! }
}
