// What one binding round trip costs on Cloudflare, for the edge latency table of `npm run bench`,
// and the published capacity of each binding, for its capacity table: the only place these
// figures live. They are published figures and typical network round trips to model with, not
// measurements; bench/README.md cites the source of each one.

/** Milliseconds, from the low to the high end of what the sources give. */
export type Span = { low: number; high: number }

/** Where the Worker runs, relative to the region of the D1 database's primary. */
export const PLACEMENTS = [
  'same region as the D1 primary',
  'one ocean away',
  'two oceans away',
] as const
export type Placement = (typeof PLACEMENTS)[number]

export const EDGE_COSTS = {
  /** A KV read served from the location's cache: about 1–5 ms, the hottest keys under 1 ms. */
  kvHotRead: { low: 1, high: 5 },
  /** A KV read that misses the location's cache and goes through the regional and central tiers. */
  kvColdRead: { low: 10, high: 60 },
  /**
   * One D1 round trip: every query (or batch) goes to the database's single primary, so it costs
   * the network round trip to that region. Read replicas serve only queries made through the
   * Sessions API, which Portero does not use.
   */
  d1RoundTrip: {
    'same region as the D1 primary': { low: 2, high: 10 },
    'one ocean away': { low: 80, high: 110 },
    'two oceans away': { low: 120, high: 160 },
  } satisfies Record<Placement, Span>,
  /** Queue send or sendBatch: a median of about 60 ms. */
  queueSend: { low: 60, high: 60 },
  /**
   * One call to a Durable Object: a round trip to where the object lives. A provider's send shard
   * is created near the Worker that first calls it and never moves; a provider's traffic usually
   * comes from one region, so the shard is in its callers' region whichever placement the Worker
   * has relative to the D1 primary: a round trip within a region. `oceanAway` is a caller an ocean
   * from its shard (a provider whose first request came from elsewhere, or traffic from two
   * continents), which the edge table shows as what it would add.
   */
  durableObjectCall: {
    nearby: { low: 2, high: 10 },
    oceanAway: { low: 80, high: 110 },
  },
} as const

export type Kind = 'kv' | 'd1' | 'queue' | 'do'

/**
 * What one binding can take, as Cloudflare publishes it, for the capacity table: the messages a
 * second a deployment can send are these divided by the calls each message makes.
 */
export const EDGE_LIMITS = {
  /** One Durable Object runs one request at a time: a soft limit of about 1,000 requests/s. */
  durableObjectRequestsPerSecond: 1000,
  /** One D1 database runs one query at a time: at 1 ms a query, about 1,000 queries/s. */
  d1QueriesPerSecond: 1000,
  /** Messages a second one queue takes (`send` refuses more). */
  queueMessagesPerSecond: 5000,
  /** Consumer invocations of one queue running at once. */
  queueConcurrentConsumers: 250,
  /**
   * How long one batch of the dispatch consumer takes: its SMS go out in parallel, so about one SMS
   * API answer (a few hundred ms) plus the consumer's own round trips. An assumption, not a
   * published figure: the slow end is the one the capacity table uses.
   */
  consumerBatchSeconds: { low: 0.25, high: 1 },
} as const

/**
 * The latency one request's waited-for steps imply in a placement: each step (calls that overlap,
 * of any kind) costs its slowest call, the steps add up, and the Worker's CPU comes on top. The
 * parts say which kind of call set the cost of how many steps.
 */
export function edgeLatency(
  steps: Kind[][],
  cpuMs: number,
  placement: Placement,
  kvRead: Span = EDGE_COSTS.kvHotRead,
  durableObjectCall: Span = EDGE_COSTS.durableObjectCall.nearby,
): Span & { parts: { what: string; span: Span }[] } {
  const cost = (kind: Kind): Span =>
    kind === 'd1'
      ? EDGE_COSTS.d1RoundTrip[placement]
      : kind === 'queue'
        ? EDGE_COSTS.queueSend
        : kind === 'do'
          ? durableObjectCall
          : kvRead
  const byKind = new Map<Kind, { steps: number; span: Span }>()
  for (const step of steps) {
    const slowest = step.reduce((a, b) => (cost(b).high > cost(a).high ? b : a))
    const part = byKind.get(slowest) ?? { steps: 0, span: { low: 0, high: 0 } }
    part.steps += 1
    part.span = {
      low: part.span.low + Math.max(...step.map((k) => cost(k).low)),
      high: part.span.high + Math.max(...step.map((k) => cost(k).high)),
    }
    byKind.set(slowest, part)
  }
  const what: Record<Kind, string> = {
    d1: 'D1 round trip',
    queue: 'queue send',
    kv: kvRead === EDGE_COSTS.kvHotRead ? 'hot KV read' : 'cold KV read',
    do:
      durableObjectCall === EDGE_COSTS.durableObjectCall.nearby
        ? 'Durable Object call'
        : 'Durable Object call an ocean away',
  }
  const parts = [
    ...[...byKind].map(([kind, { steps: n, span }]) => ({
      what: `${n} ${what[kind]}${n === 1 ? '' : 's'}`,
      span,
    })),
    { what: "the Worker's CPU", span: { low: cpuMs, high: cpuMs } },
  ]
  return {
    low: parts.reduce((sum, p) => sum + p.span.low, 0),
    high: parts.reduce((sum, p) => sum + p.span.high, 0),
    parts,
  }
}

/** What the message-life probe counts the dispatch queues' messages under: all of them together. */
export const DISPATCH_QUEUES = 'dispatch queues'
