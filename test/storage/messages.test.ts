// insertMessage answers with the deliveries it wrote in the order listDeliveries reads them (part,
// channel, id), whatever order they were given in: POST /Services and the status view agree.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { insertMessage, listDeliveries, type NewDelivery } from '../../src/storage/messages.ts'
import { createSender } from '../helpers/dispatch.ts'

describe('insertMessage', () => {
  it('returns the deliveries in the order listDeliveries gives, not the order given', async () => {
    const sender = await createSender()
    const id = crypto.randomUUID()
    const delivery = (
      part: NewDelivery['part'],
      channel: NewDelivery['channel'],
      suffix: string,
    ) => ({
      id: `${id.slice(0, 30)}-${suffix}`,
      part,
      channel,
      address: channel === 'sms' ? '+5491155550000' : `device-${suffix}`,
      title: 'Turno',
      body: 'Oftalmologo',
      link: null,
    })
    // In neither order: some pairs come in listing order, others the other way round.
    const given = [
      delivery('advertisement', 'sms', 'd'),
      delivery('notification', 'sms', 'b'),
      delivery('notification', 'sms', 'a'),
      delivery('notification', 'fcm', 'c'),
    ]
    const message = {
      id,
      providerId: sender.providerId,
      serviceId: sender.serviceId,
      idempotencyKey: null,
      requestHash: 'test',
      destination: sender.userId,
      createdAt: new Date().toISOString(),
    }
    const inserted = await insertMessage(env.DB, message, given)
    const listed = await listDeliveries(env.DB, id)
    expect(inserted!.map((d) => d.id)).toEqual(listed.map((d) => d.id))
    expect(listed.map((d) => d.id.slice(-1))).toEqual(['d', 'c', 'a', 'b'])
  })
})
