// Fetching a JSON document from a URL a stranger or an operator named (a trusted issuer's
// discovery document and keys, decisions.md D38) without letting it reach inside: https only, no
// IP literal of a special-use range, no redirect, a deadline and a size limit.
import { outsideUrlProblem, type OutsideUrlProblem } from './outside-url.ts'

export type SafeFetchOptions = {
  /** Allows http://localhost (and 127.0.0.1, [::1]): only while Portero itself runs there. */
  allowLocalhost: boolean
  timeoutMs: number
  maxBytes: number
  fetch?: typeof globalThis.fetch
}

export type SafeFetchResult = { ok: true; json: unknown } | { ok: false; reason: string }

const WORDS: Record<OutsideUrlProblem['problem'], string> = {
  credentials: 'has credentials',
  loopback: 'names this machine',
  scheme: 'is not https',
  special_use: 'is a special-use address',
}

/** Why `url` may not be fetched (utils/outside-url.ts), in words, or null. */
export function refusedUrl(url: string, allowLocalhost: boolean): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'not a URL'
  }
  const problem = outsideUrlProblem(parsed, allowLocalhost)
  return problem && WORDS[problem.problem]
}

/** GETs `url` as JSON within the limits; every failure is a reason, never a throw. */
export async function fetchJsonSafely(
  url: string,
  options: SafeFetchOptions,
): Promise<SafeFetchResult> {
  const refused = refusedUrl(url, options.allowLocalhost)
  if (refused) return { ok: false, reason: `url ${refused}` }
  const signal = AbortSignal.timeout(options.timeoutMs)
  // Raced as well as passed: an injected fetch may ignore the signal.
  const timedOut = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(new Error('timeout')), { once: true })
  })
  const run = async (): Promise<SafeFetchResult> => {
    const response = await (options.fetch ?? globalThis.fetch)(url, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal,
    })
    if (response.status !== 200) {
      await response.body?.cancel()
      return { ok: false, reason: `answered ${response.status}` }
    }
    const declared = Number(response.headers.get('content-length') ?? 0)
    if (declared > options.maxBytes) {
      await response.body?.cancel()
      return { ok: false, reason: 'answer too large' }
    }
    const text = await readLimited(response, options.maxBytes)
    if (text === null) return { ok: false, reason: 'answer too large' }
    try {
      return { ok: true, json: JSON.parse(text) }
    } catch {
      return { ok: false, reason: 'answer is not JSON' }
    }
  }
  try {
    return await Promise.race([run(), timedOut])
  } catch {
    return {
      ok: false,
      reason: signal.aborted ? `no answer within ${options.timeoutMs} ms` : 'unreachable',
    }
  }
}

/** The body as text, or null once it passes `maxBytes`. */
async function readLimited(response: Response, maxBytes: number): Promise<string | null> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel()
      return null
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return new TextDecoder().decode(bytes)
}
