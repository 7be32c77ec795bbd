// messageStatus: the one status GET /Services/messages/{id} shows for a message, from its
// deliveries. The route tests see most of these only as the consumer happens to be at them.
import { describe, expect, it } from 'vitest'
import { messageStatus } from '../../src/domain/dispatch.ts'

type Status = 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'dead'

const delivery = (status: Status, attempts = status === 'queued' ? 0 : 1) => ({
  status,
  attempts,
  scheduledFor: null as number | null,
  errorCode: null as string | null,
})
const scheduled = { ...delivery('queued'), scheduledFor: 1_800_000_000 }
const cancelled = { ...delivery('failed', 0), scheduledFor: 1_800_000_000, errorCode: 'cancelled' }

describe('messageStatus', () => {
  it.each([
    ['scheduled', 'every delivery waits for its due time', [scheduled, scheduled]],
    ['queued', 'one delivery was handed to the queue', [scheduled, delivery('queued')]],
    ['cancelled', 'every delivery was cancelled', [cancelled, cancelled]],
    ['failed', 'one was cancelled, the other failed', [cancelled, delivery('failed')]],
    [
      'queued',
      'every delivery waits for its first attempt',
      [delivery('queued'), delivery('queued')],
    ],
    ['sending', 'one delivery is being sent', [delivery('queued'), delivery('sending')]],
    ['sending', 'one delivery waits for a retry', [delivery('queued', 2), delivery('sent')]],
    ['sent', 'every delivery was sent', [delivery('sent'), delivery('sent')]],
    ['sent', 'one was delivered, a push was sent', [delivery('delivered'), delivery('sent')]],
    ['delivered', 'every delivery was delivered', [delivery('delivered'), delivery('delivered')]],
    [
      'partially_delivered',
      'one was delivered, the other undelivered',
      [delivery('delivered'), delivery('undelivered')],
    ],
    [
      'partially_sent',
      'one was sent, the other undelivered',
      [delivery('sent'), delivery('undelivered')],
    ],
    ['undelivered', 'none arrived and one was undelivered', [delivery('undelivered')]],
    [
      'undelivered',
      'one was undelivered and the other failed',
      [delivery('undelivered'), delivery('failed')],
    ],
    ['partially_sent', 'some were sent, the others failed', [delivery('sent'), delivery('failed')]],
    ['partially_sent', 'some were sent, the others are dead', [delivery('sent'), delivery('dead')]],
    ['dead', 'none was sent and one ran out of attempts', [delivery('failed'), delivery('dead')]],
    ['failed', 'none was sent and none is dead', [delivery('failed'), delivery('failed')]],
  ] as const)('is %s when %s', (expected, _, deliveries) => {
    expect(messageStatus([...deliveries])).toBe(expected)
  })
})
