// Send quotas (README "Send quotas", decisions.md D28): how many messages a provider may have
// accepted a minute, a UTC day, and to one destination an hour, in fixed windows counted in D1.
import { AppError } from '../errors.ts'
import type { QuotaOverrides } from '../storage/providers.ts'
import { SPAN_SECONDS, type SendCounts, type SendSpan } from '../storage/send-counters.ts'
import { epochSeconds } from '../utils/time.ts'

/** Send quotas: accepted /Services messages a minute, a UTC day, and to one destination an hour. */
export type SendQuotas = { perMinute: number; perDay: number; perDestinationHour: number }

/** The most any quota may be: far above what one provider's SMS account could send. */
export const MAX_SEND_QUOTA = 10_000_000

/** A provider's quotas: its own where an operator set them, else the deployment's defaults. */
export function effectiveQuotas(defaults: SendQuotas, overrides: QuotaOverrides): SendQuotas {
  return {
    perMinute: overrides.perMinute ?? defaults.perMinute,
    perDay: overrides.perDay ?? defaults.perDay,
    perDestinationHour: overrides.perDestinationHour ?? defaults.perDestinationHour,
  }
}

const LIMIT_OF: Record<SendSpan, keyof SendQuotas> = {
  minute: 'perMinute',
  day: 'perDay',
  destination_hour: 'perDestinationHour',
}

const WORDING: Record<SendSpan, (limit: number) => string> = {
  minute: (n) => `${n} messages a minute`,
  day: (n) => `${n} messages a day (UTC)`,
  destination_hour: (n) => `${n} messages an hour to one destination`,
}

/**
 * Throws 429 `quota_exceeded` when one more message would go over a quota, with Retry-After the
 * seconds until the window that is over ends (the latest of them when several are).
 */
export function checkQuotas(quotas: SendQuotas, counts: SendCounts, now: Date): void {
  const seconds = epochSeconds(now)
  const over = (Object.keys(LIMIT_OF) as SendSpan[])
    .filter((span) => counts[span] >= quotas[LIMIT_OF[span]])
    .map((span) => ({ span, wait: SPAN_SECONDS[span] - (seconds % SPAN_SECONDS[span]) }))
    .sort((a, b) => b.wait - a.wait)
  const [first] = over
  if (!first) return
  const limit = quotas[LIMIT_OF[first.span]]
  const detail =
    `Quota exceeded: this provider may send ${WORDING[first.span](limit)}; ` +
    `try again in ${first.wait} s.`
  throw new AppError('quota_exceeded', detail, {
    headers: { 'retry-after': String(first.wait) },
  })
}
