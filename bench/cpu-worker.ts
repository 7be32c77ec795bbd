// Bench-only Worker (npm run bench): the CPU cost of Portero's hot paths inside workerd, in
// microseconds per operation, from the real domain functions and the real app; and the binding
// round trips one request of each hot route waits for, counted on Portero's own local bindings;
// and every binding call a message's whole life makes, from /Services to its delivery receipt.
import { countRoundTrips, type RoundTrips } from '../test/helpers/round-trips.ts'
import { DISPATCH_QUEUES } from './edge-costs.ts'
import { app } from '../src/app.ts'
import worker, { SendShard as PorteroSendShard } from '../src/index.ts'
import { smsSignature } from '../src/channels/sms-signature.ts'
import { introspectionAnswer } from '../src/domain/introspection.ts'
import {
  digestClientSecret,
  generateClientSecret,
  importPepper,
  secretMatches,
} from '../src/domain/secrets.ts'
import { parseSigningKeySet } from '../src/domain/signing-keys.ts'
import type { Limiters } from '../src/domain/throttle.ts'
import {
  checkAccessToken,
  checkAccessTokens,
  type TokenStateDeps,
} from '../src/domain/token-state.ts'
import { issueAccessToken, verifyAccessToken, type IssueTokenInput } from '../src/domain/tokens.ts'
import { decodePicture } from '../src/domain/pictures.ts'
import { MAX_SEND_QUOTA } from '../src/domain/quotas.ts'
import { sha256Hex } from '../src/encoding.ts'
import { sendShardName } from '../src/domain/admission.ts'
import { newMessageId } from '../src/domain/message-ids.ts'
import { parseServicesRequest } from '../src/domain/dispatch-request.ts'
import { ackUrl } from '../src/domain/push-acks.ts'
import { DISPATCH_QUEUES as DISPATCH_QUEUE_VARS, loadConfig } from '../src/config.ts'
import { publishClientRecord, type ClientRecord } from '../src/storage/client-records.ts'
import { forgetEdgeState } from '../src/storage/edge-state.ts'
import { tokenHash, writeCachedToken } from '../src/storage/token-cache.ts'

export type CpuFigure = { name: string; microseconds: number; operations: number }

/** What bench/run.ts seeded through the public API, for the round-trip probes. */
export type ProbeInput = {
  clientId: string
  clientSecret: string
  token: string
  caller: string
  servicesBody: string
  /** wrangler.toml's max_batch_size of the dispatch queue's consumer. */
  dispatchBatchSize: number
}

export type RouteTrips = {
  name: string
  status: number
  /** Whether the answer was the expected one (an access_token, "active":true…). */
  ok: boolean
  /** The rounds the response waited for. */
  waited: RoundTrips
  /**
   * The calls behind them in steps: the calls of one step overlap (one Promise.all), whatever
   * their kind, and each step starts when the one before has finished.
   */
  steps: string[][]
  /** Calls handed to ctx.waitUntil: on Cloudflare they finish after the response. */
  deferred: string[]
}

/** The binding calls of one part of a message's life, summed over the messages of the probe. */
export type LifePhase = {
  name: string
  /** Requests, queue batches or receipts this part ran. */
  runs: number
  d1Calls: number
  d1Statements: number
  /** Calls to Durable Objects (RPC methods of a stub), each one request to the object. */
  doCalls: number
  /** Messages sent to each queue binding. */
  queueMessages: Record<string, number>
}

/**
 * A message's life, counted: /Services, the dispatch consumer and the SMS API's status callbacks,
 * for `messages` one-SMS messages of the seeded provider.
 */
export type MessageLife = {
  messages: number
  /** SMS the SMS API accepted. */
  sent: number
  /** Deliveries a receipt moved to `delivered`. */
  delivered: number
  phases: LifePhase[]
  /** What went wrong, if the life did not run to `delivered`. */
  problem?: string
}

export type CpuReport = { figures: CpuFigure[]; roundTrips: RouteTrips[]; life?: MessageLife }

/** Each timed batch runs about this long: performance.now() has 1 ms resolution in workerd. */
const BATCH_MS = 150

/**
 * KV as the binding behaves for a hit (a string stored, JSON.parse on get) with no I/O, so the
 * figures are the isolate's own CPU and not local KV latency.
 */
class MemoryKv {
  readonly #values = new Map<string, string>()
  async get(key: string | string[], type?: 'json'): Promise<unknown> {
    if (Array.isArray(key)) return new Map(key.map((k) => [k, this.#read(k, type)]))
    return this.#read(key, type)
  }
  #read(key: string, type?: 'json'): unknown {
    const text = this.#values.get(key)
    return text === undefined ? null : type === 'json' ? JSON.parse(text) : text
  }
  async put(key: string, value: string): Promise<void> {
    this.#values.set(key, value)
  }
  async delete(key: string): Promise<void> {
    this.#values.delete(key)
  }
}

export default {
  async fetch(request, env, ctx) {
    const probe = (await request.json()) as ProbeInput
    const keys = await parseSigningKeySet(env.SIGNING_KEYS)
    const pepper = await importPepper(env.SECRET_PEPPER)
    const cache = new MemoryKv() as unknown as KVNamespace
    const now = new Date()
    // An id of its own: its record is written to the local KV the HTTP scenarios' client lives in.
    const input: IssueTokenInput = {
      issuer: env.ISSUER,
      clientId: 'bench-cpu-client',
      providerId: '1001',
      scopes: ['services:send', 'tokens:introspect'],
      audiences: [env.ISSUER],
      lifetimeSeconds: 3600,
    }
    const { token, claims } = await issueAccessToken(keys, input, now)
    const secret = generateClientSecret()
    const digest = await digestClientSecret(pepper, secret)
    const deps = (kv: KVNamespace): TokenStateDeps => ({
      db: undefined as unknown as D1Database, // a warm check never reads D1
      cache: kv,
      keys,
      issuer: env.ISSUER,
      now,
      // The isolate's own CPU per check: a remembered read would skip even the in-memory KV.
      memoryMs: 0,
      defer: (task) => ctx.waitUntil(task()),
    })
    // Warm edge state: the token's verified claims and its client's record, by the modules that
    // write them, in memory and in the local KV binding.
    const record: ClientRecord = {
      client: {
        id: input.clientId,
        providerId: input.providerId,
        name: 'Bench client',
        secretDigest: digest,
        previousSecretDigest: null,
        previousSecretExpiresAt: null,
        allowedScopes: [...input.scopes],
        audiences: [],
        tokenLifetime: input.lifetimeSeconds,
        status: 'active',
        dpopBoundAccessTokens: false,
        tokensValidAfter: 0,
        providerStatus: 'active',
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      },
      tokensValidAfter: 0,
    }
    const hash = await tokenHash(token)
    for (const kv of [cache, env.CACHE]) {
      await writeCachedToken(kv, hash, { kid: keys.signing.kid, claims }, now)
      await publishClientRecord(kv, input.clientId, record)
    }
    const appEnv = { ...env, CACHE: cache } as unknown as Env
    // With the Content-Length every HTTP client sends for a fixed body (and the edge passes on):
    // without it the body-size limit has to read the body through a stream to count it.
    const route = (path: string, init: RequestInit & { body?: string } = {}) => {
      const headers = new Headers(init.headers)
      if (init.body !== undefined)
        headers.set('content-length', String(new TextEncoder().encode(init.body).length))
      return async () =>
        app.fetch(new Request(`https://portero.bench${path}`, { ...init, headers }), appEnv, ctx)
    }

    const figures: CpuFigure[] = []
    const measure = async (name: string, op: () => Promise<unknown>) => {
      figures.push({
        name,
        ...(await timePerOperation(op, () => env.CACHE.get('bench-io-boundary'))),
      })
    }
    await measure('sha256Hex(token)', () => sha256Hex(token))
    await measure('digestClientSecret', () => digestClientSecret(pepper, secret))
    await measure('secretMatches', () => secretMatches(pepper, secret, [digest]))
    await measure('issueAccessToken (ES256 sign)', () => issueAccessToken(keys, input, now))
    await measure('verifyAccessToken (ES256 verify)', () =>
      verifyAccessToken(keys, token, { issuer: env.ISSUER, now }),
    )
    await measure('checkAccessToken, warm cache', () => checkAccessToken(deps(cache), token))
    await measure(
      'checkAccessTokens + introspectionAnswer (caller and subject), warm cache',
      async () => {
        const [, subject] = await checkAccessTokens(deps(cache), [token, token])
        // A real token never counts a failed attempt: the limiters are not called.
        const throttle = { cache, limiters: undefined as unknown as Limiters, now }
        return introspectionAnswer(
          throttle,
          { clientId: 'bench-cpu-client', scopes: ['tokens:introspect'], ip: null },
          subject!,
        )
      },
    )
    const picture = largePngBase64()
    await measure('decodePicture, 1 MiB base64 PNG', async () => decodePicture(picture, 'picture'))
    await measure('parseSigningKeySet (key import; once per isolate)', () =>
      parseSigningKeySet(env.SIGNING_KEYS),
    )
    await measure('app: GET /healthz', route('/healthz'))
    await measure('app: GET /.well-known/jwks.json', route('/.well-known/jwks.json'))
    await measure(
      'app: POST /auth/me, warm cache',
      route('/auth/me', { method: 'POST', headers: { 'x-access-token': token } }),
    )
    await measure(
      'app: POST /mcg/v1/tokeninfo, warm cache',
      route('/mcg/v1/tokeninfo', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: `token=${token}`,
      }),
    )
    // Wall time, not CPU: what the same check costs with its one (bulk) read of the local KV
    // binding, and what single operations on the local bindings cost. On Cloudflare these run
    // outside the isolate; locally workerd emulates them on the same cores as the Worker, which is
    // most of every figure above /healthz in the HTTP table (bench/README.md).
    await measure('checkAccessToken, warm local KV binding (wall time)', () =>
      checkAccessToken(deps(env.CACHE), token),
    )
    await env.CACHE.put('bench-present', 'x'.repeat(600))
    await measure('local KV binding: get of a 600-byte value (wall time)', () =>
      env.CACHE.get('bench-present'),
    )
    await env.DB.exec(
      'CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, value TEXT NOT NULL)',
    )
    await env.DB.prepare("INSERT OR REPLACE INTO bench (id, value) VALUES (1, 'one')").run()
    await measure('local D1 binding: SELECT by primary key (wall time)', () =>
      env.DB.prepare('SELECT value FROM bench WHERE id = ?').bind(1).first(),
    )
    await measure('local D1 binding: INSERT of one row (wall time)', () =>
      env.DB.prepare('INSERT INTO bench (value) VALUES (?)').bind('row').run(),
    )
    // The seeded provider's shard, with quotas no run reaches: each call checks document 001's
    // request against the shard's copy of the send facts (decisions.md D48), counts one message and
    // stores it (one message, one delivery, its timeline and outbox marks) in one transaction.
    const services = parseServicesRequest(JSON.parse(probe.servicesBody), new Date())
    const shard = env.SEND_SHARDS.getByName(sendShardName(services.providerId, null))
    const unlimited = {
      perMinute: MAX_SEND_QUOTA,
      perDay: MAX_SEND_QUOTA,
      perDestinationHour: MAX_SEND_QUOTA,
    }
    await measure('local Durable Object binding: send shard accept (wall time)', async () => {
      const result = await shard.accept({
        request: services,
        pictureUrls: {},
        requestHash: 'bench',
        idempotencyKey: null,
        messageId: newMessageId(services.providerId, null),
        createdAt: new Date().toISOString(),
        shards: 1,
        channels: ['sms', 'fcm'],
        defaultQuotas: unlimited,
      })
      if (result.outcome !== 'stored') throw new Error(`accept answered ${JSON.stringify(result)}`)
    })
    const roundTrips = await probeRoutes(env, ctx, probe)
    const life = await probeMessageLife(env, probe)
    return Response.json({ figures, roundTrips, life } satisfies CpuReport)
  },
} satisfies ExportedHandler<Env>

// The second SMS route's breaker (decisions.md D45), which wrangler.toml binds too.
export { RouteHealth } from '../src/shards/route-health.ts'

/**
 * Portero's send shard with its D1 counted: bench/server.ts binds this Worker's SEND_SHARDS to this
 * class, so the message-life probe's shards are these, and every D1 statement a shard makes of its
 * own (its alarms handing the admin index, webhook events and overview counts to D1; bringing its
 * copy of the send facts up to date) is counted as the Worker's own calls are.
 */
export class SendShard extends PorteroSendShard {
  readonly #counter: ReturnType<typeof countRoundTrips>

  constructor(ctx: DurableObjectState, env: Env) {
    const counter = countRoundTrips({ DB: env.DB })
    super(ctx, { ...env, DB: counter.env.DB })
    this.#counter = counter
  }

  /** D1 statements this shard made since it started, and whether its outboxes are empty. */
  async alarmWork(): Promise<{ d1Statements: number; outboxesEmpty: boolean }> {
    const [row] = this.ctx.storage.sql
      .exec<{ left: number }>(
        `SELECT (SELECT COUNT(*) FROM index_outbox) + (SELECT COUNT(*) FROM webhook_outbox)
           + (SELECT COUNT(*) FROM overview_hours WHERE pending = 1) AS left`,
      )
      .toArray()
    return { d1Statements: this.#counter.snapshot().d1Statements, outboxesEmpty: row!.left === 0 }
  }
}

/**
 * Messages the life probe sends: a hundred, as many as the shard's alarm hands to D1's index in
 * one statement, so the probe shows what a busy shard writes to D1 per message, not the first
 * statement of each kind a handful of messages would share.
 */
const LIFE_MESSAGES = 100

/** The dispatch queues' bindings (decisions.md D49), whose messages count under DISPATCH_QUEUES. */
const DISPATCH_BINDINGS = DISPATCH_QUEUE_VARS.map(([binding]) => binding)

/**
 * Every binding call of a message's life, through Portero's own code on its local bindings, with
 * the counting proxies of test/helpers/round-trips.ts: LIFE_MESSAGES one-SMS `/Services` requests
 * (what they defer included), the dispatch queue's handler (src/index.ts) over their deliveries in
 * batches of wrangler.toml's size, and the SMS API's two status callbacks of each SMS (`sent`, then
 * `delivered`) through the app. The probe plays the dispatch queue (its messages never reach the
 * bench's consumer) and the SMS API, which accepts every SMS and reports it delivered. What the
 * send shard's alarms write to D1 is counted in the shard (SendShard below) and added as a part.
 */
async function probeMessageLife(env: Env, input: ProbeInput): Promise<MessageLife> {
  const life: MessageLife = { messages: 0, sent: 0, delivered: 0, phases: [] }
  const dispatched: unknown[] = []
  const queue = {
    async send(body: unknown) {
      dispatched.push(body)
    },
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      for (const m of messages) dispatched.push(m.body)
    },
  }
  // Every dispatch queue (decisions.md D49): the seeded provider's shard uses one of them.
  const dispatchQueues = Object.fromEntries(
    DISPATCH_BINDINGS.filter((name) => name in env).map((name) => [
      name,
      queue as unknown as Queue,
    ]),
  )
  const counter = countRoundTrips({ ...env, ...dispatchQueues })
  const works: Promise<unknown>[] = []
  const ctx = {
    waitUntil: (work: Promise<unknown>) => works.push(work),
    passThroughOnException() {},
  } as unknown as ExecutionContext
  const settle = async () => {
    while (works.length) await Promise.allSettled(works.splice(0))
  }
  const queues = ['WEBHOOK_QUEUE', 'AUDIT_QUEUE'] as const
  const phase = async (name: string, run: () => Promise<number>) => {
    counter.reset()
    const runs = await run()
    await settle()
    const calls = counter.timeline()
    life.phases.push({
      name,
      runs,
      d1Calls: calls.filter((c) => c.kind === 'd1').length,
      d1Statements: counter.snapshot().d1Statements,
      doCalls: calls.filter((c) => c.kind === 'do').length,
      queueMessages: {
        [DISPATCH_QUEUES]: Object.keys(dispatchQueues).reduce(
          (sum, name) => sum + counter.sent(name).length,
          0,
        ),
        ...Object.fromEntries(queues.map((q) => [q, counter.sent(q).length])),
      },
    })
  }

  const smsApi = new URL(env.SMS_API_BASE_URL)
  const accepted: { sid: string; form: URLSearchParams }[] = []
  // The SMS adapter takes the global fetch when the queue handler creates it.
  const realFetch = globalThis.fetch
  globalThis.fetch = (async (resource: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(resource, init)
    if (new URL(request.url).host !== smsApi.host) return realFetch(request)
    const form = new URLSearchParams(await request.text())
    const sid = `SM${crypto.randomUUID().replaceAll('-', '')}`
    accepted.push({ sid, form })
    life.sent += 1
    const to = form.get('To')
    return Response.json({ sid, to, from: form.get('From'), status: 'queued' }, { status: 201 })
  }) as typeof fetch
  // The seeded provider's send shard, whose alarms' D1 statements are counted by its class.
  const providerId = String(
    (JSON.parse(input.servicesBody) as { provider_id: unknown }).provider_id,
  )
  const shard = env.SEND_SHARDS.getByName(sendShardName(providerId, null)) as unknown as {
    alarmWork(): Promise<{ d1Statements: number; outboxesEmpty: boolean }>
  }
  const alarmsBefore = (await shard.alarmWork()).d1Statements
  try {
    await phase('POST /Services', async () => {
      for (let i = 0; i < LIFE_MESSAGES; i++) {
        const headers = {
          'content-type': 'application/json',
          'cf-connecting-ip': '203.0.113.7',
          authorization: `Bearer ${input.token}`,
          'idempotency-key': crypto.randomUUID(),
        }
        const request = new Request('https://portero.bench/Services', {
          method: 'POST',
          headers,
          body: input.servicesBody,
        })
        const response = await app.fetch(request, counter.env, ctx)
        if (response.status !== 201) {
          life.problem = `/Services answered ${response.status}: ${await response.text()}`
          return i
        }
        await response.text()
        life.messages += 1
      }
      return LIFE_MESSAGES
    })
    const jobs = [...dispatched]
    await phase('dispatch consumer', async () => {
      let batches = 0
      const size = input.dispatchBatchSize
      for (let i = 0; i < jobs.length; i += size, batches++) {
        const messages = jobs.slice(i, i + size).map((body, n) => ({
          id: `life-${i + n}`,
          timestamp: new Date(),
          body,
          attempts: 1,
          ack() {},
          retry() {},
        }))
        const batch = { queue: env.DISPATCH_QUEUE_NAME, messages, ackAll() {}, retryAll() {} }
        await worker.queue(batch as unknown as MessageBatch, counter.env)
      }
      return batches
    })
    // What the SMS API reports of each SMS, signed as it signs them: `sent`, then `delivered`.
    await phase('SMS status callbacks', async () => {
      let receipts = 0
      for (const { sid, form } of accepted) {
        const url = form.get('StatusCallback')
        if (!url) continue
        for (const status of ['sent', 'delivered']) {
          const fields = {
            AccountSid: env.SMS_ACCOUNT_SID,
            ApiVersion: '2010-04-01',
            From: form.get('From') ?? '',
            MessageSid: sid,
            MessageStatus: status,
            SmsSid: sid,
            SmsStatus: status,
            To: form.get('To') ?? '',
          }
          const params = new URLSearchParams(fields)
          const request = new Request(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-twilio-signature': await smsSignature(env.SMS_AUTH_TOKEN ?? '', url, params),
            },
            body: params.toString(),
          })
          const response = await app.fetch(request, counter.env, ctx)
          const answer = (await response.json()) as { outcome?: string; status?: string }
          if (answer.outcome === 'applied' && answer.status === 'delivered') life.delivered += 1
          receipts += 1
        }
      }
      return receipts
    })
    // The shard's alarm hands the index marks and webhook events of all of the above to D1, many
    // a statement, about once a second, and the overview's hours at most every 10 s: counted in
    // the shard (SendShard below), once its outboxes are empty.
    let work = await shard.alarmWork()
    for (let i = 0; i < 300 && !work.outboxesEmpty; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      work = await shard.alarmWork()
    }
    if (!work.outboxesEmpty) life.problem = "the send shard's outboxes were not handed on in 15 s"
    const statements = work.d1Statements - alarmsBefore
    life.phases.push({
      name: "the send shard's own D1 (its alarms' outboxes, its copy of the send facts)",
      runs: 0,
      d1Calls: statements,
      d1Statements: statements,
      doCalls: 0,
      queueMessages: {},
    })
  } finally {
    globalThis.fetch = realFetch
  }
  if (!life.problem && life.delivered < life.messages)
    life.problem = `${life.sent} SMS sent and ${life.delivered} delivered of ${life.messages} messages`
  return life
}

/**
 * One request per hot route through the whole app on Portero's local bindings (the storage the
 * HTTP scenarios used), after one unmeasured request that warms whatever it caches: the rounds
 * each kind of binding call made before the response, by test/helpers/round-trips.ts.
 */
async function probeRoutes(
  env: Env,
  ctx: ExecutionContext,
  input: ProbeInput,
): Promise<RouteTrips[]> {
  const edge = { 'cf-connecting-ip': '203.0.113.7' }
  const form = { ...edge, 'content-type': 'application/x-www-form-urlencoded' }
  const json = { ...edge, 'content-type': 'application/json' }
  const basic = `Basic ${btoa(`${input.clientId}:${input.clientSecret}`)}`
  // The same request, due in an hour (decisions.md D44): stored scheduled, enqueued by the alarm.
  const sendAt = new Date(Date.now() + 3600_000).toISOString()
  const scheduledBody = JSON.stringify({ ...JSON.parse(input.servicesBody), send_at: sendAt })
  // A push's acknowledgement (decisions.md D46), as its app would send it: the URL the push carried.
  const { issuer, ackKey } = await loadConfig(env)
  const providerId = String(JSON.parse(input.servicesBody).provider_id)
  const ack = await ackUrl(
    { key: ackKey, issuer },
    { shard: sendShardName(providerId, null), deliveryId: crypto.randomUUID() },
    new Date(),
  )
  const routes: {
    name: string
    path: string
    init: RequestInit & { body?: string }
    expect: string
    unique?: string
  }[] = [
    {
      name: 'POST /oauth/token',
      path: '/oauth/token',
      init: {
        method: 'POST',
        headers: { ...form, authorization: basic },
        body: 'grant_type=client_credentials',
      },
      expect: '"access_token"',
    },
    {
      name: 'POST /auth/login',
      path: '/auth/login',
      init: {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ clientId: input.clientId, clientSecret: input.clientSecret }),
      },
      expect: '"ack":0',
    },
    {
      name: 'POST /auth/me',
      path: '/auth/me',
      init: { method: 'POST', headers: { ...edge, 'x-access-token': input.token } },
      expect: '"active":true',
    },
    {
      name: 'POST /mcg/v1/tokeninfo, warm cache',
      path: '/mcg/v1/tokeninfo',
      init: {
        method: 'POST',
        headers: { ...form, authorization: `Bearer ${input.caller}` },
        body: `token=${input.token}`,
      },
      expect: '"active":true',
    },
    {
      name: 'POST /Services',
      path: '/Services',
      init: {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${input.token}` },
        body: input.servicesBody,
      },
      expect: '"status":"queued"',
      unique: 'idempotency-key',
    },
    {
      name: 'POST /Services, scheduled an hour ahead',
      path: '/Services',
      init: {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${input.token}` },
        body: scheduledBody,
      },
      expect: '"status":"scheduled"',
      unique: 'idempotency-key',
    },
    {
      name: 'POST /acks/{token} (a push acknowledged)',
      path: new URL(ack).pathname,
      init: { method: 'POST', headers: edge },
      expect: '',
    },
    {
      name: 'GET /.well-known/jwks.json',
      path: '/.well-known/jwks.json',
      init: { headers: edge },
      expect: '"keys"',
    },
  ]
  const results: RouteTrips[] = []
  for (const { name, path, init, expect, unique } of routes) {
    const request = () => {
      const headers = new Headers(init.headers)
      if (unique) headers.set(unique, crypto.randomUUID())
      return new Request(`https://portero.bench${path}`, { ...init, headers })
    }
    // Warm-up, including what it defers (a token state's cache write), before the counted request.
    const deferred: Promise<unknown>[] = []
    const warmCtx = {
      waitUntil: (work: Promise<unknown>) => deferred.push(work),
      passThroughOnException() {},
    }
    await (await app.fetch(request(), env, warmCtx as unknown as ExecutionContext)).text()
    await Promise.allSettled(deferred)
    // KV warm, the isolate's memory of reads empty: what a request waits for at most. A repeat
    // within EDGE_MEMORY_MS in the same isolate waits for none of the KV reads below.
    forgetEdgeState()
    const counted = countWaitedRoundTrips(env, ctx)
    const response = await app.fetch(request(), counted.env, counted.ctx)
    const trips = counted.result()
    const text = await response.text()
    const after = await counted.afterResponse()
    results.push({
      name,
      status: response.status,
      ok: response.ok && text.includes(expect),
      ...trips,
      deferred: [...trips.deferred, ...after],
    })
  }
  return results
}

type Kind = 'kv' | 'd1' | 'queue' | 'do'
type Call = {
  name: string
  kind: Kind
  newRound: boolean
  statements: number
  deferred: boolean
  step: number
  open: boolean
}

/**
 * countRoundTrips counts every binding call made before app.fetch resolves. The app starts its own
 * deferred work (cache fills, audit events, enqueueing) only after the response, so those calls
 * come after `result()`; `afterResponse()` waits for them and names them. A call made in the same
 * synchronous turn as a ctx.waitUntil, should any route hand one a promise directly, is taken back
 * out of the counts (the rounds it opened, the statements it sent) and listed as deferred too.
 */
function countWaitedRoundTrips(env: Env, ctx: ExecutionContext) {
  const calls: Call[] = []
  let turn: Call[] = []
  let seen: RoundTrips = { kv: 0, d1: 0, queue: 0, d1Statements: 0, do: 0 }
  // Steps across kinds, which the counter does not see: a KV read and a D1 query in one
  // Promise.all cost the slower of the two, not both. Deferred calls do not hold a step open.
  let steps = 0
  let inFlight = 0
  const close = (call: Call) => {
    if (call.open) inFlight -= 1
    call.open = false
  }
  // Under the counting proxies, so each call reaches this hook right after it was counted.
  const onCall = (settled: Promise<unknown>) => {
    const now = counter.snapshot()
    const opened = (['kv', 'd1', 'queue', 'do'] as const).find((k) => now[k] > seen[k])
    const name = counter.calls()[calls.length] ?? '?'
    if (inFlight === 0) steps += 1
    inFlight += 1
    const call: Call = {
      name,
      kind: opened ?? (name.split('.')[0] as Kind),
      newRound: opened !== undefined,
      statements: now.d1Statements - seen.d1Statements,
      deferred: false,
      step: steps,
      open: true,
    }
    settled.then(
      () => close(call),
      () => close(call),
    )
    seen = now
    calls.push(call)
    if (turn.length === 0) queueMicrotask(() => (turn = []))
    turn.push(call)
  }
  const observed = { ...env }
  for (const name of ['DB', 'CACHE', ...DISPATCH_BINDINGS, 'AUDIT_QUEUE', 'WEBHOOK_QUEUE']) {
    const binding = (env as unknown as Record<string, object | undefined>)[name]
    if (binding) (observed as unknown as Record<string, object>)[name] = observe(binding, onCall)
  }
  observed.SEND_SHARDS = observeShards(env.SEND_SHARDS, onCall)
  const counter = countRoundTrips(observed)
  const works: Promise<unknown>[] = []
  let responded = 0
  const countedCtx = {
    waitUntil(work: Promise<unknown>) {
      works.push(work)
      for (const call of turn) {
        call.deferred = true
        close(call)
      }
      turn = []
      ctx.waitUntil(work)
    },
    passThroughOnException: () => ctx.passThroughOnException(),
  } as unknown as ExecutionContext
  return {
    env: counter.env,
    ctx: countedCtx,
    async afterResponse(): Promise<string[]> {
      await Promise.allSettled(works)
      return calls.slice(responded).map((c) => c.name)
    },
    result() {
      responded = calls.length
      const waited = counter.snapshot()
      for (const call of calls.filter((c) => c.deferred)) {
        if (call.newRound) waited[call.kind] -= 1
        waited.d1Statements -= call.statements
      }
      const waitedSteps = new Map<number, string[]>()
      for (const call of calls.filter((c) => !c.deferred))
        waitedSteps.set(call.step, [...(waitedSteps.get(call.step) ?? []), call.name])
      return {
        waited,
        steps: [...waitedSteps.values()],
        deferred: calls.filter((c) => c.deferred).map((c) => c.name),
      }
    },
  }
}

/**
 * A binding that reports every call returning a promise (an I/O call), with that promise, and
 * wraps the objects its other methods return (a D1 statement from prepare or bind), unwrapping
 * them when they are passed back.
 */
function observe<T extends object>(
  target: T,
  onCall: (settled: Promise<unknown>) => void,
  real = new WeakMap<object, object>(),
): T {
  const proxy = new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        const unwrap = (a: unknown) =>
          typeof a === 'object' && a !== null ? (real.get(a) ?? a) : a
        const result = (value as (...a: unknown[]) => unknown).apply(
          t,
          args.map((a) => (Array.isArray(a) ? a.map(unwrap) : unwrap(a))),
        )
        if (result instanceof Promise) onCall(result)
        else if (typeof result === 'object' && result !== null) return observe(result, onCall, real)
        return result
      }
    },
  })
  real.set(proxy, target)
  return proxy
}

/**
 * A Durable Object namespace whose stubs (from getByName or get) report every call, with its
 * promise. A stub answers any property with an RPC method, so its methods are called on the stub
 * itself: `method.apply(stub, …)` would be an RPC call of `apply`.
 */
function observeShards<T extends DurableObjectNamespace>(
  namespace: T,
  onCall: (settled: Promise<unknown>) => void,
): T {
  return new Proxy(namespace, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown
      if (typeof value !== 'function') return value
      if (prop !== 'getByName' && prop !== 'get') return value.bind(target)
      return (...args: unknown[]) => {
        const stub = (value as (...a: unknown[]) => object).apply(target, args)
        return new Proxy(stub, {
          get(object, method) {
            const member = Reflect.get(object, method) as unknown
            if (typeof method !== 'string' || typeof member !== 'function') return member
            const methods = object as unknown as Record<string, (...a: unknown[]) => unknown>
            return (...params: unknown[]) => {
              const settled = Promise.resolve(methods[method]!(...params))
              onCall(settled)
              return settled
            }
          },
        })
      }
    },
  })
}

/**
 * Microseconds per call of `op`. Deployed workerd moves its clocks only across I/O (a Spectre
 * mitigation), so each batch is timed between two awaited I/O boundaries, minus the time of the
 * boundaries alone. The batch doubles until it runs BATCH_MS; the fastest of three is kept.
 */
/**
 * Base64 of a PNG just under MAX_PICTURE_BYTES (1 MiB): signature, a 512 × 512 IHDR, random bytes
 * as its image data, IEND. decodePicture reads the header and the end, never the pixels.
 */
function largePngBase64(): string {
  const chunk = (type: string, data: Uint8Array) => {
    const bytes = new Uint8Array(12 + data.length)
    const view = new DataView(bytes.buffer)
    view.setUint32(0, data.length)
    bytes.set(new TextEncoder().encode(type), 4)
    bytes.set(data, 8)
    return bytes // the CRC is left zero: nothing here checks it
  }
  const ihdr = new Uint8Array(13)
  new DataView(ihdr.buffer).setUint32(0, 512)
  new DataView(ihdr.buffer).setUint32(4, 512)
  ihdr.set([8, 6], 8) // 8-bit RGBA
  const data = new Uint8Array(1024 * 1024 - 100)
  for (let at = 0; at < data.length; at += 65_536)
    crypto.getRandomValues(data.subarray(at, at + 65_536))
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', data),
    Uint8Array.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]),
  ]
  let binary = ''
  for (const part of parts) for (const byte of part) binary += String.fromCharCode(byte)
  return btoa(binary)
}

async function timePerOperation(op: () => Promise<unknown>, io: () => Promise<unknown>) {
  const batch = async (n: number) => {
    await io()
    const start = performance.now()
    for (let i = 0; i < n; i++) await op()
    await io()
    return performance.now() - start
  }
  const baseline = Math.min(await batch(0), await batch(0), await batch(0))
  let operations = 16
  while ((await batch(operations)) - baseline < BATCH_MS && operations < 1_000_000) operations *= 2
  const best = Math.min(await batch(operations), await batch(operations), await batch(operations))
  return { microseconds: (Math.max(0, best - baseline) / operations) * 1000, operations }
}
