// One request through the app with its D1, KV and queue bindings counted
// (test/helpers/round-trips.ts): the counts are taken when the response is out, then the work
// deferred past it is waited for.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { app } from '../../src/app.ts'
import { countRoundTrips, type RoundTrips } from './round-trips.ts'

export type Probed = { response: Response; body: string; trips: RoundTrips; calls: string[] }

export async function probe(request: Request, base: Env = env): Promise<Probed> {
  const counter = countRoundTrips(base)
  const ctx = createExecutionContext()
  const response = await app.fetch(request, counter.env, ctx)
  const trips = counter.snapshot()
  const calls = counter.calls()
  const body = await response.text()
  await waitOnExecutionContext(ctx)
  return { response, body, trips, calls }
}
