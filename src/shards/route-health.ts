// The SMS routes' health (decisions.md D45): one Durable Object that keeps the primary route's
// circuit breaker where every isolate sees it. Consumers ask it which route new SMS take and
// report each batch's outcomes; the rule is src/domain/route-breaker.ts. The state is one value
// of the object's storage, written on every change, so a restart forgets nothing.
import { DurableObject } from 'cloudflare:workers'
import type { RouteOutcome } from '../channel.ts'
import { applyOutcomes, CLOSED, decideRoute, type BreakerState } from '../domain/route-breaker.ts'

const KEY = 'breaker'

/** What a consumer may do now: see decideRoute. */
export type RouteDecision = 'primary' | 'probe' | 'secondary'

export class RouteHealth extends DurableObject<Env> {
  #state: BreakerState | undefined

  async #read(): Promise<BreakerState> {
    this.#state ??= (await this.ctx.storage.get<BreakerState>(KEY)) ?? CLOSED
    return this.#state
  }

  async #write(next: BreakerState): Promise<void> {
    if (next === this.#state) return
    this.#state = next
    await this.ctx.storage.put(KEY, next)
  }

  /** The route for new SMS at `now` (epoch ms, the consumer's clock); hands out the one probe. */
  async decide(now: number): Promise<RouteDecision> {
    const { route, next } = decideRoute(await this.#read(), now)
    await this.#write(next)
    return route
  }

  /** Applies a batch's outcomes of sends by the primary route, oldest first. */
  async report(outcomes: RouteOutcome[], now: number): Promise<BreakerState> {
    const next = applyOutcomes(await this.#read(), outcomes, now)
    await this.#write(next)
    return next
  }

  /** The breaker as it is (for the operator's checks and tests). */
  async state(): Promise<BreakerState> {
    return this.#read()
  }
}
