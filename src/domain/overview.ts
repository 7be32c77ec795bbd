// The console's overview (decisions.md D42): per hour of a range, what Portero counted as it
// happened (src/storage/overview-hours.ts), with the latency percentiles of merged histograms and
// the commonest error codes. Reads one statement of hourly rows, whatever the messages.
import {
  COUNTED_STATUSES,
  LATENCY_BOUNDS,
  readOverviewHours,
  type HourCount,
} from '../storage/overview-hours.ts'

const HOUR_MS = 60 * 60 * 1000

/** The ranges the overview shows, in hours: the hour in progress is always added. */
export const OVERVIEW_RANGES = { hour: 1, day: 24, week: 168 } as const
export type OverviewRange = keyof typeof OVERVIEW_RANGES

/** The error codes listed, commonest first. */
const TOP_ERROR_CODES = 10

const TALLIED = ['accepted', ...COUNTED_STATUSES, 'tokens_issued', 'failed_logins'] as const

export type OverviewCounts = Record<(typeof TALLIED)[number], number> & {
  latency_p50_seconds: number | null
  latency_p95_seconds: number | null
}

export type Overview = {
  range: OverviewRange
  provider_id: string | null
  since: string
  until: string
  hours: (OverviewCounts & { hour: string })[]
  totals: OverviewCounts
  error_codes: { code: string; count: number }[]
  latency_bounds_seconds: readonly number[]
}

export async function readOverview(
  db: D1Database,
  { range, providerId, now }: { range: OverviewRange; providerId?: string; now: Date },
): Promise<Overview> {
  const last = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS
  const first = last - OVERVIEW_RANGES[range] * HOUR_MS
  const rows = await readOverviewHours(db, first / 1000, providerId)
  const byHour = new Map<number, HourCount[]>()
  for (const row of rows) byHour.set(row.hour, [...(byHour.get(row.hour) ?? []), row])
  const hours = []
  for (let at = first; at <= last; at += HOUR_MS) {
    hours.push({ hour: new Date(at).toISOString(), ...tally(byHour.get(at / 1000) ?? []) })
  }
  const errors = new Map<string, number>()
  for (const row of rows) {
    if (row.metric === 'error') errors.set(row.key, (errors.get(row.key) ?? 0) + row.count)
  }
  return {
    range,
    provider_id: providerId ?? null,
    since: new Date(first).toISOString(),
    until: now.toISOString(),
    hours,
    totals: tally(rows),
    error_codes: [...errors]
      .map(([code, count]) => ({ code, count }))
      .sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1))
      .slice(0, TOP_ERROR_CODES),
    latency_bounds_seconds: LATENCY_BOUNDS,
  }
}

/** Each metric's sum over `rows`, and the latency percentiles of their merged histogram. */
function tally(rows: HourCount[]): OverviewCounts {
  const counts = Object.fromEntries(TALLIED.map((m) => [m, 0])) as Record<string, number>
  const buckets: number[] = Array.from({ length: LATENCY_BOUNDS.length + 1 }, () => 0)
  for (const { metric, key, count } of rows) {
    if (metric === 'latency') buckets[Number(key)] = (buckets[Number(key)] ?? 0) + count
    else if (metric in counts) counts[metric]! += count
  }
  return {
    ...(counts as Record<(typeof TALLIED)[number], number>),
    latency_p50_seconds: percentile(buckets, 0.5),
    latency_p95_seconds: percentile(buckets, 0.95),
  }
}

/**
 * The bound of the bucket that holds the `p` quantile: the latency is at most that (for the last,
 * open bucket, over its lower bound). Null when nothing was delivered.
 */
export function percentile(buckets: number[], p: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = Math.ceil(p * total)
  let seen = 0
  for (const [i, count] of buckets.entries()) {
    seen += count
    if (seen >= rank) return LATENCY_BOUNDS[Math.min(i, LATENCY_BOUNDS.length - 1)]!
  }
  return LATENCY_BOUNDS.at(-1)!
}
