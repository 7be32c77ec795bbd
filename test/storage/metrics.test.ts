// The METRICS data points (src/storage/metrics.ts): one per request and one per delivery status
// change, in the documented layout, written without the response or the change waiting for them.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { app } from '../../src/app.ts'
import { changeDeliveryStatus } from '../../src/storage/delivery-lifecycle.ts'
import { claimDelivery } from '../../src/storage/messages.ts'
import { createSender, deliveryDb, freshPhone, writeOutbox } from '../helpers/dispatch.ts'
import { ORIGIN } from '../helpers/http.ts'

afterEach(() => vi.restoreAllMocks())

/** A METRICS binding that keeps what it is given; `write` replaces what a write does. */
function captureMetrics(write: (point: AnalyticsEngineDataPoint) => unknown = () => undefined) {
  const points: AnalyticsEngineDataPoint[] = []
  const metrics = {
    writeDataPoint(point?: AnalyticsEngineDataPoint) {
      points.push(point!)
      return write(point!)
    },
  } as AnalyticsEngineDataset
  return { metrics, points }
}

async function fetchWith(metrics: AnalyticsEngineDataset, path: string, init?: RequestInit) {
  const ctx = createExecutionContext()
  const response = await app.fetch(
    new Request(ORIGIN + path, init),
    { ...env, METRICS: metrics },
    ctx,
  )
  return { response, ctx }
}

const fromColo = (colo: string): RequestInit => ({ cf: { colo } }) as RequestInit

describe('the data point of a request', () => {
  it('names the route pattern, method, code and location, with status and duration', async () => {
    const { metrics, points } = captureMetrics()
    const id = crypto.randomUUID()
    const { response, ctx } = await fetchWith(metrics, `/Services/messages/${id}`, fromColo('SCL'))
    expect(response.status).toBe(401)
    const { code } = (await response.json()) as { code: string }
    await waitOnExecutionContext(ctx)
    expect(points).toHaveLength(1)
    const [point] = points
    expect(point).toEqual({
      indexes: ['/Services/messages/:id'],
      blobs: ['request', '/Services/messages/:id', 'GET', code, 'SCL'],
      doubles: [401, expect.any(Number)],
    })
    expect(JSON.stringify(point)).not.toContain(id)
  })

  it('has an empty route and code where there are none', async () => {
    const { metrics, points } = captureMetrics()
    const ok = await fetchWith(metrics, '/healthz')
    expect(ok.response.status).toBe(200)
    const missing = await fetchWith(metrics, `/nowhere/${crypto.randomUUID()}`)
    expect(missing.response.status).toBe(404)
    expect(points.map((p) => p.blobs)).toEqual([
      ['request', '/healthz', 'GET', '', ''],
      ['request', '', 'GET', 'not_found', ''],
    ])
    expect(points[1]!.indexes).toEqual([''])
  })

  it('is written without the response waiting for it', async () => {
    // A write that would never finish, were anything to wait for it.
    const { metrics, points } = captureMetrics(() => new Promise(() => {}))
    const { response, ctx } = await fetchWith(metrics, '/healthz')
    expect(response.status).toBe(200)
    expect(points).toHaveLength(1)
    await waitOnExecutionContext(ctx)
  })

  it('never fails the request when the binding throws', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    vi.spyOn(console, 'log').mockImplementation(() => {})
    const { metrics } = captureMetrics(() => {
      throw new Error('Analytics Engine is down')
    })
    const { response, ctx } = await fetchWith(metrics, '/healthz')
    expect(response.status).toBe(200)
    await waitOnExecutionContext(ctx)
    const lines = warn.mock.calls.map(([line]) => JSON.parse(String(line)) as { message: string })
    expect(lines).toContainEqual(
      expect.objectContaining({ message: 'metrics data point not written', kind: 'request' }),
    )
  })
})

describe('the data point of a delivery status change', () => {
  async function outboxDelivery(acceptedSecondsAgo: number) {
    const phone = freshPhone()
    const sender = await createSender({ phone })
    const accepted = new Date(Date.now() - acceptedSecondsAgo * 1000)
    const [id] = await writeOutbox(sender, [{ address: phone }], accepted)
    return { sender, id: id!, accepted }
  }

  it('names provider, channel, status and error code, with the seconds since acceptance', async () => {
    const { sender, id, accepted } = await outboxDelivery(10)
    const { metrics, points } = captureMetrics()
    const deps = { shard: deliveryDb(id), metrics }
    const claimedAt = new Date(accepted.getTime() + 10_000)
    expect(await claimDelivery(deps, id, claimedAt, 30)).not.toBeNull()
    const failedAt = new Date(accepted.getTime() + 12_500)
    const failed = await changeDeliveryStatus(deps, {
      kind: 'failed',
      deliveryId: id,
      at: failedAt,
      error: 'unreachable',
      errorCode: '30003',
    })
    expect(failed).toBe(true)
    expect(points).toEqual([
      {
        indexes: [sender.providerId],
        blobs: ['delivery', sender.providerId, 'sms', 'sending', ''],
        doubles: [10],
      },
      {
        indexes: [sender.providerId],
        blobs: ['delivery', sender.providerId, 'sms', 'failed', '30003'],
        doubles: [12.5],
      },
    ])
  })

  it('is not written for a change that did not apply', async () => {
    const { id } = await outboxDelivery(1)
    const { metrics, points } = captureMetrics()
    const deps = { shard: deliveryDb(id), metrics }
    // A receipt for a delivery never sent: the lifecycle refuses it.
    expect(
      await changeDeliveryStatus(deps, { kind: 'delivered', deliveryId: id, at: new Date() }),
    ).toBe(false)
    expect(points).toEqual([])
  })

  it('never fails the change when the binding throws', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { id } = await outboxDelivery(1)
    const { metrics, points } = captureMetrics(() => {
      throw new Error('Analytics Engine is down')
    })
    const deps = { shard: deliveryDb(id), metrics }
    expect(await claimDelivery(deps, id, new Date(), 30)).toMatchObject({ id, status: 'sending' })
    expect(points).toHaveLength(1)
  })
})
