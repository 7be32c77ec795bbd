// Send quotas (docs/sending.md "Send quotas", decisions.md D28, D32): how many messages a provider may have
// accepted a minute, a UTC day, and to one destination an hour, in fixed windows. The provider's
// send shard counts them inside one transaction with the message's admission, so parallel requests
// cannot slip past a quota; the rules of the windows and the refusal are here.
import { AppError } from '../errors.ts'
import type { QuotaOverrides } from '../storage/providers.ts'
import { canonicalPhone } from '../utils/e164.ts'

/** Send quotas: accepted /Services messages a minute, a UTC day, and to one destination an hour. */
export type SendQuotas = { perMinute: number; perDay: number; perDestinationHour: number }

/** The most any quota may be: far above what one provider's SMS account could send. */
export const MAX_SEND_QUOTA = 10_000_000

export type SendSpan = 'minute' | 'day' | 'destination_hour'

export const SPAN_SECONDS: Record<SendSpan, number> = {
  minute: 60,
  day: 24 * 60 * 60,
  destination_hour: 60 * 60,
}

export const SPANS = Object.keys(SPAN_SECONDS) as SendSpan[]

export type SendCounts = Record<SendSpan, number>

/** The start (epoch seconds) of the window of each span that holds `seconds`. */
export function windowStarts(seconds: number): Record<SendSpan, number> {
  const start = (span: SendSpan) => seconds - (seconds % SPAN_SECONDS[span])
  return { minute: start('minute'), day: start('day'), destination_hour: start('destination_hour') }
}

/**
 * The subject a per-destination counter is kept for: the recipient's phone when the directory has
 * one for this user id, else the destination as sent (a user id, or a number in its canonical
 * form), so a phone is counted once however it is written and whether it is addressed by number
 * or by user id.
 */
export function destinationKey(destination: string, directoryPhone: string | null): string {
  return canonicalPhone(directoryPhone ?? destination)
}

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

/** Why one more message may not be accepted: the window that is full, and when it ends. */
export type QuotaRefusal = { span: SendSpan; limit: number; retryAfterSeconds: number }

/**
 * The quota one more message would go over, or null when it may be accepted. When several are
 * over, the one whose window ends last: waiting for it is waiting for all.
 */
export function findQuotaRefusal(
  quotas: SendQuotas,
  counts: SendCounts,
  seconds: number,
): QuotaRefusal | null {
  const over = SPANS.filter((span) => counts[span] >= quotas[LIMIT_OF[span]])
    .map((span) => ({
      span,
      limit: quotas[LIMIT_OF[span]],
      retryAfterSeconds: SPAN_SECONDS[span] - (seconds % SPAN_SECONDS[span]),
    }))
    .sort((a, b) => b.retryAfterSeconds - a.retryAfterSeconds)
  return over[0] ?? null
}

const WORDING: Record<SendSpan, (limit: number) => string> = {
  minute: (n) => `${n} messages a minute`,
  day: (n) => `${n} messages a day (UTC)`,
  destination_hour: (n) => `${n} messages an hour to one destination`,
}

/** 429 `quota_exceeded`, with Retry-After the seconds until the full window ends. */
export function quotaExceeded({ span, limit, retryAfterSeconds }: QuotaRefusal): AppError {
  const detail =
    `Quota exceeded: this provider may send ${WORDING[span](limit)}; ` +
    `try again in ${retryAfterSeconds} s.`
  return new AppError('quota_exceeded', detail, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  })
}
