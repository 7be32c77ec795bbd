// Which dispatch queue carries a delivery's job (decisions.md D49): a function of the delivery's
// id alone, so /Services, the shard's alarm and the consumer pick alike, and every shard's
// deliveries spread over all the queues.
import { describe, expect, it } from 'vitest'
import { dispatchQueueIndex } from '../../src/domain/admission.ts'

describe('dispatchQueueIndex', () => {
  it('picks the same queue for a delivery every time, one of the queues there are', () => {
    const ids = [
      '0b7c3f0e-4a52-4d8e-9f55-0d1c3a9e7b21',
      'ffffffff-ffff-4fff-bfff-ffffffffffff',
      crypto.randomUUID(),
    ]
    for (const id of ids) {
      for (const queues of [1, 2, 3, 4]) {
        const index = dispatchQueueIndex(id, queues)
        expect(Number.isInteger(index) && index >= 0 && index < queues).toBe(true)
        expect(dispatchQueueIndex(id, queues)).toBe(index)
      }
      expect(dispatchQueueIndex(id, 1)).toBe(0)
    }
    // Fixed across releases: a job enqueued again goes where its first copy went.
    expect(ids.slice(0, 2).map((id) => dispatchQueueIndex(id, 4))).toEqual([1, 3])
  })

  it("spreads one shard's deliveries evenly over the four queues", () => {
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 4000; i++) counts[dispatchQueueIndex(crypto.randomUUID(), 4)]!++
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(850)
  })
})
