// Which dispatch queue carries a send shard's deliveries (decisions.md D49): a function of the
// shard's name alone, so every isolate, the shard's alarm and the consumer pick the same one.
import { describe, expect, it } from 'vitest'
import { dispatchQueueIndex, sendShardName } from '../../src/domain/admission.ts'

describe('dispatchQueueIndex', () => {
  it('picks the same queue for a shard every time, one of the queues there are', () => {
    const names = ['provider:1', 'provider:1:0', sendShardName('1099511627776', 63)]
    for (const name of names) {
      for (const queues of [1, 2, 3, 4]) {
        const index = dispatchQueueIndex(name, queues)
        expect(Number.isInteger(index) && index >= 0 && index < queues).toBe(true)
        expect(dispatchQueueIndex(name, queues)).toBe(index)
      }
      expect(dispatchQueueIndex(name, 1)).toBe(0)
    }
    // Fixed across releases: a shard keeps its queue from one deployment to the next.
    expect(names.map((name) => dispatchQueueIndex(name, 4))).toEqual([1, 3, 2])
  })

  it("spreads a provider's 64 shards evenly over the four queues", () => {
    for (const providerId of ['1', '424242', '1099511627776']) {
      const counts = [0, 0, 0, 0]
      for (let k = 0; k < 64; k++) counts[dispatchQueueIndex(sendShardName(providerId, k), 4)]!++
      for (const count of counts) expect(count).toBeGreaterThanOrEqual(15)
    }
  })

  it("spreads providers' single shards over the queues", () => {
    const counts = [0, 0, 0, 0]
    for (let id = 1; id <= 400; id++)
      counts[dispatchQueueIndex(sendShardName(String(id), null), 4)]!++
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(90)
  })
})
