// Counting proxies around the Worker's D1, KV, queue and Durable Object bindings: how many round
// trips a response waits for, one after the other. Calls of one kind that overlap (one Promise.all)
// count once, as do one KV bulk get and one db.batch; a D1 batch of n statements counts n
// statements; a call to a Durable Object (an RPC method of its stub) is one round trip.

export type RoundTrips = {
  kv: number
  d1: number
  queue: number
  d1Statements: number
  /** Calls to Durable Objects. */
  do: number
}

type Kind = 'kv' | 'd1' | 'queue' | 'do'

/**
 * One counted call: its binding's kind, its name (`kv.get`, `d1.batch(3)`, `do.admit`…), its KV key
 * (or the Durable Object's name), and when
 * it started and ended, on a clock that ticks once at every start and end of a counted call.
 */
export type Call = { kind: Kind; name: string; key?: string; start: number; end?: number }

export type CountOptions = {
  /**
   * Runs before each call goes out, which waits for the promise it returns: to hold a call back
   * (a queue send until the response is out), or to fail it by throwing, as an outage would.
   */
  before?: (call: Call) => Promise<void> | void
}

export type Counter<E> = {
  /** A copy of `env` whose D1, KV and queue bindings count their calls. */
  env: E
  /** The counts so far. Taken when `app.fetch` resolves, they are what the response waited for. */
  snapshot(): RoundTrips
  /** Every counted call so far, in order, for messages: `kv.get`, `d1.batch(3)`, `queue.send`… */
  calls(): string[]
  /** Every counted call so far with its key and times, copied as they are now. */
  timeline(): Call[]
  /** The bodies sent to each queue binding, by binding name. */
  sent(binding: string): unknown[]
  reset(): void
}

export function countRoundTrips<E extends object>(
  env: E,
  { before }: CountOptions = {},
): Counter<E> {
  let trips: RoundTrips = { kv: 0, d1: 0, queue: 0, d1Statements: 0, do: 0 }
  const inFlight: Record<Kind, number> = { kv: 0, d1: 0, queue: 0, do: 0 }
  let log: Call[] = []
  let clock = 0
  const bodies = new Map<string, unknown[]>()

  function track<T>(
    kind: Kind,
    name: string,
    call: () => Promise<T>,
    statements = 0,
    key?: string,
  ): Promise<T> {
    // A new round starts when nothing of this kind is in flight; overlapping calls share it.
    if (inFlight[kind] === 0) trips[kind] += 1
    trips.d1Statements += statements
    inFlight[kind] += 1
    const entry: Call = { kind, name, ...(key === undefined ? {} : { key }), start: ++clock }
    log.push(entry)
    return (async () => {
      await before?.(entry)
      return call()
    })().finally(() => {
      inFlight[kind] -= 1
      entry.end = ++clock
    })
  }

  const real = new WeakMap<object, D1PreparedStatement>()
  function statement(stmt: D1PreparedStatement): D1PreparedStatement {
    const counted = {
      bind: (...values: unknown[]) => statement(stmt.bind(...values)),
      first: (column?: string) => track('d1', 'd1.first', () => stmt.first(column as string), 1),
      all: () => track('d1', 'd1.all', () => stmt.all(), 1),
      run: () => track('d1', 'd1.run', () => stmt.run(), 1),
      raw: (options?: { columnNames?: boolean }) =>
        track('d1', 'd1.raw', () => stmt.raw(options as never), 1),
    }
    real.set(counted, stmt)
    return counted as unknown as D1PreparedStatement
  }

  function d1(db: D1Database): D1Database {
    return new Proxy(db, {
      get(target, prop) {
        if (prop === 'prepare') return (sql: string) => statement(target.prepare(sql))
        if (prop === 'batch') {
          return (statements: D1PreparedStatement[]) =>
            track(
              'd1',
              `d1.batch(${statements.length})`,
              () => target.batch(statements.map((s) => real.get(s) ?? s)),
              statements.length,
            )
        }
        if (prop === 'exec')
          return (sql: string) => track('d1', 'd1.exec', () => target.exec(sql), 1)
        const value = Reflect.get(target, prop) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }

  function kv(namespace: KVNamespace): KVNamespace {
    const counted = new Set(['get', 'getWithMetadata', 'put', 'delete', 'list'])
    return new Proxy(namespace, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown
        if (typeof value !== 'function') return value
        if (typeof prop === 'string' && counted.has(prop)) {
          const method = value as (...a: unknown[]) => Promise<unknown>
          return (...args: unknown[]) =>
            track('kv', `kv.${prop}`, () => method.apply(target, args), 0, String(args[0]))
        }
        return value.bind(target)
      },
    })
  }

  function queue(binding: string, q: Queue): Queue {
    const sent = bodies.get(binding) ?? []
    bodies.set(binding, sent)
    return new Proxy(q, {
      get(target, prop) {
        if (prop === 'send') {
          return (body: unknown, options?: QueueSendOptions) => {
            sent.push(body)
            return track('queue', 'queue.send', () => target.send(body, options))
          }
        }
        if (prop === 'sendBatch') {
          return (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
            const list = [...messages]
            sent.push(...list.map((m) => m.body))
            return track('queue', `queue.sendBatch(${list.length})`, () =>
              target.sendBatch(list, options),
            )
          }
        }
        const value = Reflect.get(target, prop) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }

  function stub(name: string, target: DurableObjectStub): DurableObjectStub {
    return new Proxy(target, {
      get(object, prop) {
        const value = Reflect.get(object, prop) as unknown
        if (typeof prop !== 'string' || typeof value !== 'function') return value
        // Called on the stub itself: an RPC method's own `apply` would be another RPC call.
        const methods = object as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
        return (...args: unknown[]) =>
          track('do', `do.${prop}`, () => methods[prop]!(...args), 0, name)
      },
    })
  }

  function durableObjects(namespace: DurableObjectNamespace): DurableObjectNamespace {
    return new Proxy(namespace, {
      get(target, prop) {
        if (prop === 'getByName') {
          return (name: string, options?: DurableObjectNamespaceGetDurableObjectOptions) =>
            stub(name, target.getByName(name, options))
        }
        const value = Reflect.get(target, prop) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }

  const wrapped: Record<string, unknown> = { ...(env as Record<string, unknown>) }
  for (const [name, binding] of Object.entries(env)) {
    if (typeof binding !== 'object' || binding === null) continue
    const has = (...methods: string[]) =>
      methods.every((m) => typeof (binding as Record<string, unknown>)[m] === 'function')
    if (has('prepare', 'batch')) wrapped[name] = d1(binding as D1Database)
    else if (has('get', 'put', 'list', 'getWithMetadata'))
      wrapped[name] = kv(binding as KVNamespace)
    else if (has('send', 'sendBatch')) wrapped[name] = queue(name, binding as Queue)
    else if (has('getByName', 'idFromName'))
      wrapped[name] = durableObjects(binding as DurableObjectNamespace)
  }

  return {
    env: wrapped as E,
    snapshot: () => ({ ...trips }),
    calls: () => log.map((c) => c.name),
    timeline: () => log.map((c) => ({ ...c })),
    sent: (binding) => [...(bodies.get(binding) ?? [])],
    reset() {
      trips = { kv: 0, d1: 0, queue: 0, d1Statements: 0, do: 0 }
      log = []
      for (const list of bodies.values()) list.length = 0
    },
  }
}
