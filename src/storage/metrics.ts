// Workers Analytics Engine data points (docs/metrics.md): the one place their layout is written.
// writeDataPoint queues the point in the runtime and returns at once, so no response or status
// change waits for it, and a binding that throws is logged, never passed on to the caller.

import type { DeliveryStatus } from '../channel.ts'
import { log } from '../log.ts'

/**
 * The layout of every data point in the METRICS dataset. Analytics Engine columns are positional
 * (blob1…blob20, double1…double20, index1), so this order is the schema the SQL in
 * docs/metrics.md reads: never reorder, only append. blob1 names the kind of point, so both kinds
 * share one dataset; an absent value is '' (a blob) and never null.
 *
 * request (one per HTTP request, written by the access log):
 *   index1  route pattern ('' when no route served the path): Analytics Engine samples by it
 *   blob1   'request'
 *   blob2   route pattern ('/admin/clients/:id'; '' when none)
 *   blob3   method
 *   blob4   problem code of an error answer ('' for a success)
 *   blob5   Cloudflare location (colo; '' when unknown)
 *   double1 status
 *   double2 duration in milliseconds
 *
 * delivery (one per status change of a delivery, from storage/delivery-lifecycle.ts):
 *   index1  provider id: Analytics Engine samples by it
 *   blob1   'delivery'
 *   blob2   provider id
 *   blob3   channel ('sms' | 'fcm' | 'whatsapp')
 *   blob4   status reached (queued, sending, sent, delivered, undelivered, failed, dead)
 *   blob5   the channel's error code ('' when none)
 *   double1 seconds since the message was accepted (POST /Services)
 */
export const POINT_KIND = { request: 'request', delivery: 'delivery' } as const

export type RequestPoint = {
  route: string | null
  method: string
  status: number
  code: string | null
  colo: string | null
  durationMs: number
}

export type DeliveryPoint = {
  providerId: string
  channel: string
  status: DeliveryStatus
  errorCode: string | null
  secondsSinceAcceptance: number
}

/** Analytics Engine's limit on an index, in bytes; a longer one would refuse the whole point. */
const MAX_INDEX_BYTES = 96

export function writeRequestPoint(metrics: AnalyticsEngineDataset, point: RequestPoint): void {
  const route = point.route ?? ''
  write(metrics, {
    indexes: [index(route)],
    blobs: [POINT_KIND.request, route, point.method, point.code ?? '', point.colo ?? ''],
    doubles: [point.status, point.durationMs],
  })
}

export function writeDeliveryPoint(metrics: AnalyticsEngineDataset, point: DeliveryPoint): void {
  write(metrics, {
    indexes: [index(point.providerId)],
    blobs: [
      POINT_KIND.delivery,
      point.providerId,
      point.channel,
      point.status,
      point.errorCode ?? '',
    ],
    doubles: [point.secondsSinceAcceptance],
  })
}

function index(value: string): string {
  // Route patterns and provider ids are ASCII: one byte a character.
  return value.slice(0, MAX_INDEX_BYTES)
}

function write(metrics: AnalyticsEngineDataset, point: AnalyticsEngineDataPoint): void {
  try {
    metrics.writeDataPoint(point)
  } catch (cause) {
    log('warn', 'metrics data point not written', { kind: point.blobs?.[0], cause: String(cause) })
  }
}
