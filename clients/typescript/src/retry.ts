// Retry-After (RFC 9110 §10.2.3) on 429 and 503: the server says when to come back, and a client
// that waits that long instead of failing gets through a rate limit or a short outage.

export type RetryOptions = {
  /** Retries after a 429 or 503, the first request not counted (default 2). */
  maxRetries?: number
  /** The longest wait the client accepts; a longer Retry-After returns the answer (default 60 s). */
  maxWaitSeconds?: number
  /** The wait when the answer has no Retry-After (default 1 s, doubling). */
  defaultWaitSeconds?: number
}

/** Seconds to wait that `header` asks for (delay-seconds or an HTTP-date), or undefined. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, Math.ceil((at - now) / 1000))
}

/** How long to wait before retrying `response`, or null when it is not to be retried. */
export function retryDelay(
  response: Response,
  retriesSoFar: number,
  options: RetryOptions = {},
): number | null {
  const { maxRetries = 2, maxWaitSeconds = 60, defaultWaitSeconds = 1 } = options
  if (response.status !== 429 && response.status !== 503) return null
  if (retriesSoFar >= maxRetries) return null
  const asked = retryAfterSeconds(response.headers.get('retry-after'))
  const wait = asked ?? defaultWaitSeconds * 2 ** retriesSoFar
  return wait > maxWaitSeconds ? null : wait
}

export const sleep = (seconds: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000))
