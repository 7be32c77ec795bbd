// The load generator, run as its own process by bench/run.ts: drives one scenario with autocannon
// and prints its figures as one line of JSON.
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

export type LoadSpec = {
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** A JSON file holding an array of bodies, sent in turn: every request a different one. */
  bodiesFile?: string
  /** A header given a fresh random value on every request (Idempotency-Key). */
  uniqueHeader?: string
  connections: number
  warmupSeconds?: number
  durationSeconds?: number
  /** Stop after this many requests instead of after a duration. */
  amount?: number
}

export type LoadResult = {
  requests: number
  seconds: number
  rps: number
  /** Milliseconds, from every response's own timing (autocannon's histogram rounds to 1 ms). */
  p50: number
  p99: number
  errors: number
  non2xx: number
  /** True when bodiesFile ran out and bodies were sent a second time. */
  wrapped: boolean
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const bodies = spec.bodiesFile
    ? (JSON.parse(readFileSync(spec.bodiesFile, 'utf8')) as string[])
    : undefined
  let sent = 0
  const dynamic = bodies !== undefined || spec.uniqueHeader !== undefined
  // warmup is an autocannon option (its README's -W) that its type declarations leave out.
  const options: autocannon.Options & { warmup?: { connections: number; duration: number } } = {
    url: spec.url,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    body: spec.body,
    connections: spec.connections,
    ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationSeconds }),
    warmup: spec.warmupSeconds
      ? { connections: spec.connections, duration: spec.warmupSeconds }
      : undefined,
    requests: dynamic
      ? [
          {
            setupRequest(request) {
              if (bodies) request.body = bodies[sent++ % bodies.length]
              if (spec.uniqueHeader)
                request.headers = { ...request.headers, [spec.uniqueHeader]: crypto.randomUUID() }
              return request
            },
          },
        ]
      : undefined,
  }
  const latencies: number[] = []
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)))
    // Only the measured run's responses: the warm-up reports to its own tracker.
    instance.on('response', (_client, _status, _bytes, milliseconds) =>
      latencies.push(milliseconds),
    )
  })
  latencies.sort((a, b) => a - b)
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return {
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    p50: at(0.5),
    p99: at(0.99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    wrapped: bodies !== undefined && sent > bodies.length,
  }
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2]!) as LoadSpec
  process.stdout.write(JSON.stringify(await runLoad(spec)) + '\n')
}
