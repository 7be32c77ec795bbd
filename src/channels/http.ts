// Small HTTP helpers the provider adapters share: a deadline on fetch, Retry-After, lenient JSON.

const MAX_DETAIL_LENGTH = 200

export type FetchOutcome = { ok: true; response: Response } | { ok: false; reason: string }

/**
 * `fetch` with a deadline. Network errors and timeouts come back as a `reason` that completes a
 * sentence ("SMS provider " + reason), never as a throw.
 */
export async function fetchWithTimeout(
  fetchFn: typeof globalThis.fetch,
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<FetchOutcome> {
  const signal = AbortSignal.timeout(timeoutMs)
  // Race the signal as well as passing it: an injected fetch may ignore it.
  const timedOut = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
  try {
    return { ok: true, response: await Promise.race([fetchFn(url, { ...init, signal }), timedOut]) }
  } catch (error) {
    if (signal.aborted) return { ok: false, reason: `did not answer within ${timeoutMs} ms` }
    const message = error instanceof Error ? error.message : String(error)
    return { ok: false, reason: `could not be reached (network error: ${truncate(message)})` }
  }
}

/** Retry-After (RFC 9110 §10.2.3) in seconds, from delay-seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, now: Date): number | undefined {
  if (header === null) return undefined
  const value = header.trim()
  if (/^\d+$/.test(value)) return Number(value)
  // Only text with a weekday or month name: Date.parse also reads strings like "1.5" as dates.
  if (!/[a-z]/i.test(value)) return undefined
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000))
}

/** The body as JSON, or null when it is empty, unreadable or not JSON. */
export async function readJson(response: Response): Promise<unknown> {
  try {
    return JSON.parse(await response.text())
  } catch {
    return null
  }
}

export function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined
}

export function truncate(text: string, max = MAX_DETAIL_LENGTH): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
