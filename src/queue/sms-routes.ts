// The dispatch consumer's view of the SMS routes' health (decisions.md D45): the RouteHealth
// Durable Object's answer, kept in the isolate for at most ROUTE_MEMORY_MS so a busy consumer asks
// it about once every few seconds, and the outcomes of each batch reported to it in one call.
import type { RouteOutcome, SmsRoute } from '../channel.ts'
import type { Notifier } from '../channels/notifier.ts'

/** What the breaker lets a consumer do now (src/domain/route-breaker.ts, decideRoute). */
export type RouteDecision = 'primary' | 'probe' | 'secondary'

/** The RouteHealth object as the consumer calls it (epoch ms: the consumer's clock). */
export type RouteHealthApi = {
  decide(now: number): Promise<RouteDecision>
  report(outcomes: RouteOutcome[], now: number): Promise<unknown>
}

/** The second route, and where its health is kept; absent when the deployment has one route. */
export type SmsRoutes = { secondary: Notifier; health: RouteHealthApi }

/** How long an isolate answers from its memory of the breaker. */
export const ROUTE_MEMORY_MS = 5_000

/** An isolate's memory of the breaker's last answer. */
export type RouteMemory = { decision: RouteDecision; until: number } | null

/**
 * The health API with the isolate's memory in front: `decide` answers from memory while it is
 * fresh; a probe is never remembered as such (the object hands out one), but as `secondary`.
 * A report that may change the answer forgets the memory, so the next batch asks.
 */
export function rememberRouteHealth(
  api: RouteHealthApi,
  memory: { current: RouteMemory } = { current: null },
): RouteHealthApi {
  return {
    async decide(now) {
      const kept = memory.current
      if (kept && now < kept.until && now >= kept.until - ROUTE_MEMORY_MS) return kept.decision
      const decision = await api.decide(now)
      memory.current = {
        decision: decision === 'probe' ? 'secondary' : decision,
        until: now + ROUTE_MEMORY_MS,
      }
      return decision
    },
    async report(outcomes, now) {
      // What may change the answer: a failure, or a probe's success while the breaker was open.
      if (outcomes.some((o) => o !== 'ok') || memory.current?.decision !== 'primary') {
        memory.current = null
      }
      return api.report(outcomes, now)
    },
  }
}

/**
 * One batch's use of the routes: the breaker asked at most once (when an SMS first needs it), the
 * one probe given to the first SMS that asks, and the outcomes of sends by the primary collected
 * for one report at the end.
 */
export function batchRoutes(health: RouteHealthApi, now: () => Date) {
  let decided: Promise<RouteDecision> | undefined
  let probeTaken = false
  const outcomes: RouteOutcome[] = []
  return {
    /** The route a new attempt of an SMS takes. The object unreachable: the primary, as before. */
    async pick(): Promise<SmsRoute> {
      decided ??= health.decide(now().getTime()).catch(() => 'primary' as const)
      const decision = await decided
      if (decision !== 'probe') return decision
      if (probeTaken) return 'secondary'
      probeTaken = true
      return 'primary'
    },
    record(outcome: RouteOutcome) {
      outcomes.push(outcome)
    },
    async report(): Promise<void> {
      if (outcomes.length > 0) await health.report(outcomes, now().getTime())
    },
  }
}

export type BatchRoutes = ReturnType<typeof batchRoutes>
