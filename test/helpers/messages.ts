// A message and a delivery as POST /Services would store them, for tests that write them to a
// send shard themselves: defaults for every field, overridden where a test cares.
import { newMessageId } from '../../src/domain/message-ids.ts'
import type { Message, NewDelivery } from '../../src/storage/messages.ts'

/** A message of `providerId` in its first shard: service 1, to `user-1`, accepted now. */
export function testMessage(providerId: string, fields: Partial<Message> = {}): Message {
  return {
    id: newMessageId(providerId, null),
    providerId,
    serviceId: 1,
    idempotencyKey: null,
    requestHash: 'test',
    sandbox: false,
    destination: 'user-1',
    createdAt: new Date().toISOString(),
    ...fields,
  }
}

/** An SMS notification to +5491155550000. */
export function testDelivery(fields: Partial<NewDelivery> = {}): NewDelivery {
  return {
    id: crypto.randomUUID(),
    part: 'notification',
    channel: 'sms',
    address: '+5491155550000',
    title: 'Turno',
    body: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
    link: null,
    ...fields,
  }
}
