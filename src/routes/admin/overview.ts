// /admin/overview: what the console opens on, per hour of the last hour, day or week, from the
// hourly counts kept as events happen (decisions.md D42).
import * as z from 'zod'
import { OVERVIEW_RANGES, readOverview, type OverviewRange } from '../../domain/overview.ts'
import { ProviderIdText } from '../../domain/providers.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { json, MANAGEMENT, problems } from '../../openapi/operations.ts'
import { Overview } from '../../openapi/responses.ts'

export const overview = new OpenApiApp()

const RANGES = Object.keys(OVERVIEW_RANGES) as [OverviewRange, ...OverviewRange[]]

export const OverviewQuery = z.object({
  range: z.enum(RANGES, { error: `range must be one of ${RANGES.join(', ')}` }).default('day'),
  provider_id: ProviderIdText.optional(),
})

const read = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/',
  operationId: 'getOverview',
  summary: 'Counts per hour: messages, deliveries, latency, error codes, tokens, failed logins',
  description:
    'Each hour of the `range` (and the hour in progress), of one provider or all: messages ' +
    'accepted, deliveries by status, latency to delivered (p50, p95), top error codes, tokens ' +
    'issued, failed logins; counted as they happen (a second or so after), kept 8 days.',
  request: { query: OverviewQuery },
  responses: { 200: json('The series.', Overview), ...problems(400, 401, 403) },
})

overview.openapi(read, async (c) => {
  const { range, provider_id } = c.req.valid('query')
  const body = await readOverview(c.env.DB, { range, providerId: provider_id, now: new Date() })
  c.header('cache-control', 'no-store')
  return c.json(body)
})
