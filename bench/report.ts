// The benchmark report: the machine it ran on, then every figure with its ratio to /healthz and to
// oidc-provider and whether its target is met, the latency the counted binding round trips imply at
// the edge, and the messages a second the published binding limits allow for the calls a message
// makes, as Markdown (bench/RESULTS.md and the terminal).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { CpuFigure, MessageLife, RouteTrips } from './cpu-worker.ts'
import {
  DISPATCH_QUEUES,
  EDGE_COSTS,
  EDGE_LIMITS,
  edgeLatency,
  PLACEMENTS,
  type Kind,
  type Span,
} from './edge-costs.ts'
import type { LoadResult } from './load.ts'

export type ScenarioRow = {
  name: string
  result: LoadResult
  /** Required share of /healthz's requests per second, if any. */
  target?: number
  /** Required multiple of a peer scenario's requests per second, if any. */
  versus?: { peer: string; target: number }
  /** One request sent before the load: its status, and whether its body was the expected one. */
  probe: { status: number; ok: boolean }
}

/** A scenario of the peer (oidc-provider), run before and after Portero's scenarios. */
export type PeerRow = { name: string; runs: ScenarioRow[] }

export type ConsumerFigure = {
  messages: number
  sent: number
  failed: number
  unfinished: number
  seconds: number
  perSecond: number
  /** Deliveries whose `delivered` status callback Portero answered 200. */
  delivered: number
  /** From the first /Services request to the last `delivered` callback answered. */
  deliveredSeconds: number
  deliveredPerSecond: number
  enqueue: LoadResult
}

type Machine = Record<string, string>

/** p99 may be at most this many times p50, for every scenario. */
const TAIL_RATIO = 5
/** CPU targets in microseconds, by the cpu-worker figure they apply to. */
const CPU_TARGETS: Record<string, number> = {
  'issueAccessToken (ES256 sign)': 1000,
  'introspectToken, warm cache': 300,
  // The whole request, middleware and access log included: what a caller's introspection costs.
  'app: POST /mcg/v1/tokeninfo, warm cache': 300,
}

export function describeMachine({
  started,
  loadBefore,
  loadAfter,
}: {
  started: Date
  loadBefore: number[]
  loadAfter: number[]
}): Machine {
  const version = (pkg: string) =>
    (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')) as { version: string })
      .version
  const run = (command: string, ...args: string[]) =>
    execFileSync(command, args, { encoding: 'utf8' }).trim()
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1])
  const load = (l: number[]) => l.map((n) => n.toFixed(2)).join(' ')
  return {
    date: started.toISOString(),
    nproc: run('nproc'),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memory: `${(memKiB / 1024 / 1024).toFixed(1)} GiB`,
    node: process.version,
    workerd: `${version('workerd')} (${run('node_modules/.bin/workerd', '--version')})`,
    wrangler: version('wrangler'),
    miniflare: version('miniflare'),
    autocannon: version('autocannon'),
    'oidc-provider': version('oidc-provider'),
    commit: `${run('git', 'rev-parse', '--short', 'HEAD')}${run('git', 'status', '--porcelain', '--', 'src', 'migrations', 'wrangler.toml') ? ' + uncommitted changes in src/' : ''}`,
    'load average (1, 5, 15 min)': `${load(loadBefore)} before, ${load(loadAfter)} after`,
  }
}

/**
 * What each route with a ratio target waits on, for the profile in the report: the Worker's own CPU
 * (rows of the CPU table) and the local binding operations on its path, each priced by a
 * wall-time row of the same run. Read off the code: src/domain/login.ts, token-state.ts,
 * dispatch.ts.
 */
const PATHS: Record<
  string,
  {
    cpu: string[]
    kv: number
    d1Reads: number
    d1Writes: number
    /** Calls to a provider's send shard. */
    shard?: number
    also?: string
  }
> = {
  // Under a steady load the isolate's memory of reads (EDGE_MEMORY_MS) answers almost every request:
  // the KV bulk read (client record and locks; a token's entries) is paid about once a second.
  'POST /oauth/token': {
    cpu: ['app: GET /healthz', 'secretMatches', 'issueAccessToken (ES256 sign)'],
    kv: 0,
    d1Reads: 0,
    d1Writes: 0,
    also: 'one KV bulk read a second per isolate, the audit event to the audit queue (after the response)',
  },
  'POST /auth/me': {
    cpu: ['app: POST /auth/me, warm cache'],
    kv: 0,
    d1Reads: 0,
    d1Writes: 0,
    also: 'one KV bulk read a second per isolate',
  },
  'POST /mcg/v1/tokeninfo, warm cache': {
    cpu: ['app: POST /mcg/v1/tokeninfo, warm cache'],
    kv: 0,
    d1Reads: 0,
    d1Writes: 0,
    also: 'one KV bulk read a second per isolate',
  },
  'POST /mcg/v1/tokeninfo, cold cache': {
    cpu: ['app: POST /mcg/v1/tokeninfo, warm cache', 'verifyAccessToken (ES256 verify)'],
    kv: 1,
    d1Reads: 1, // the client and the revocations, when the client is not at the edge
    d1Writes: 0,
    also: 'KV writes of the verified claims and the client fill (after the response)',
  },
  'POST /Services': {
    cpu: ['app: POST /auth/me, warm cache'],
    kv: 1, // the bearer token's entries
    d1Reads: 1, // service, subscription, earlier message of the Idempotency-Key, recipient: one batch
    d1Writes: 1, // message and deliveries in one batch
    shard: 1, // the provider's send shard admits the message (quotas, Idempotency-Key)
    also: 'JSON validation of the body, and a queue send (after the response)',
  },
}

/**
 * What was changed for these figures, with the before and after measured when each change was made
 * (2026-11-22, on the machine kind of the run below; single runs, which vary by up to a third here).
 * A record, not re-measured by this run.
 */
const CHANGES = [
  "The consumer records a batch's deliveries of one shard in one call (`runEach`, each delivery's " +
    'record its own transaction) instead of one call each: Durable Object calls per delivered SMS ' +
    '3.2 → 2.3, the modelled ceiling of a provider with one shard (the shard binds) 313 → 435 ' +
    'messages/s (2026-12-07, counted).',
  'Four dispatch queues, each job through the one its delivery id picks (decisions.md D49): the ' +
    "queues' and their consumers' ceilings fourfold. Modelled, one provider with 64 send shards " +
    '2,500 → 10,000 messages/s and 10 providers of 4 shards each 2,500 → 10,000 (the consumers ' +
    'bind at the slow end of a batch). Locally Miniflare then runs four consumers on the two ' +
    "cores: the consumer's figure 192 → 202 messages/s, `/Services` while it ran 250 → 143 req/s " +
    '(2026-12-07, one full run each).',
  "A send shard's alarm runs about once a second while busy instead of again at once, hands the " +
    "overview's hours to D1 at most every 10 s, and drops the webhook events no endpoint of the " +
    "provider wants without a D1 statement (the shard's copy of the send facts says what they " +
    'want): D1 statements per delivered SMS 0.07–0.08 → 0.04 (2026-12-07, counted).',
  "The SMS API's status callbacks for a status on the way (`sent`, one of the two each SMS gets) " +
    'are answered without a call to the shard, since they change nothing: Durable Object calls ' +
    'per delivered SMS 4.2 → 3.2, the modelled ceiling of one provider (the shard binds) 238 → ' +
    '312 messages/s (2026-12-07, counted).',
  'Each send shard checks `/Services` against its copy of the send facts (decisions.md D48): ' +
    "`/Services` waits for its token check and one call to the shard, no D1; the consumer's send " +
    "policy is one statement on the shard's copy. The message-life probe sends 100 messages " +
    "(20 before), as many as the alarm hands to D1's index in one statement, and counts every D1 " +
    "statement a shard makes (the copies' upkeep too). Full runs on 2026-12-07, before → after: " +
    '`POST /Services` 301–330 → 380–402 req/s, its edge latency one ocean away 83–125 → at most ' +
    '15.1 ms in every placement, D1 statements per delivered SMS 5.25 → 0.07 (0.15 with 20 ' +
    'messages), the modelled ceiling of one provider 190 → 238 messages/s and of one with 64 send ' +
    'shards 190 → 2,500 (the Durable Object binds first, then the consumers); the first ' +
    "`/Services`-to-`delivered` figure, 146–178 messages/s, once the stand-in's callbacks reached " +
    'Portero.',
  "Messages live in their provider's send shard (decisions.md D32): `/Services` waits for one D1 " +
    'read batch and one call to the shard, which admits and stores the message, instead of a D1 ' +
    "read batch, the shard's admission and a D1 write batch; the consumer claims a shard's " +
    'deliveries in one call and a receipt is one call to its shard. Full runs on 2026-12-07, ' +
    'before → after: `POST /Services` 213 → 301–330 req/s, its edge latency one ocean away ' +
    '163–235 → 83–125 ms, D1 statements per delivered SMS 26 → 5.25, the consumer 114 → 187–196 ' +
    'messages/s, the modelled ceiling of a deployment 38 → 190 messages/s (D1 binds first, on ' +
    "`/Services`' reads).",
  "A `/Services` picture is decoded by the platform's `Uint8Array.fromBase64` (strict) instead of a " +
    'regular expression and `atob` copied byte by byte: a 1 MiB picture about 65 ms → under 1 ms of CPU ' +
    '(2026-12-07, timed inside workerd; the CPU table\'s "decodePicture, 1 MiB base64 PNG" row).',
  "The QR code PNG is compressed by the platform's `CompressionStream` instead of fast-png, and " +
    '`/openapi.json` is built at build time instead of in the Worker: the bundle 160.2 → 147.8 KiB ' +
    'gzipped (2026-12-07).',
  "Load goes to the socket workerd opens for the Worker itself instead of Miniflare's entry socket, " +
    'whose own entry Worker every request passed first: an empty Worker 2,052 → 6,405 req/s, ' +
    '`GET /healthz` 1,424 → 2,874 req/s.',
  "The access log masks only the caller's input (method and path) instead of passing the whole line " +
    'through redaction: `app: GET /healthz` 149 → 103 µs (51 µs with no access log at all, which is ' +
    'kept for operators).',
  "A token check reads its cached state and its client's marker in one KV bulk read, and a login " +
    "reads the client's and the address's locks in one: `POST /auth/me` 459 → 482 req/s here, where " +
    'the local KV prices each key; on Cloudflare one round trip instead of two.',
  'Form bodies (`/oauth/token`, introspection, revocation) are parsed by URLSearchParams into the ' +
    'validated object instead of through a FormData copy of the body: `app: POST /mcg/v1/tokeninfo, ' +
    'warm cache` 461 → 373 µs, `POST /mcg/v1/tokeninfo, warm cache` 8 % → 11 % of /healthz.',
  'A run first loads `/healthz` for 10 s unmeasured: a freshly started workerd served its first ' +
    'seconds at about two thirds of its later rate, so the first `/healthz` row (the ceiling of every ' +
    'ratio) came out 30–50 % below the drift check at the end (3,420 and 5,414 req/s, back to back); ' +
    'with the priming, 5,379 and 4,951. Over a whole run the drift check still moves with the ' +
    'machine, which varies by up to a third over minutes here.',
  'The "app:" rows of the CPU table send a Content-Length with their body, as HTTP clients do and ' +
    'the HTTP scenarios did: without one the body-size limit reads the body through a stream to ' +
    'count it, a path real requests with a fixed body do not take. `app: POST /mcg/v1/tokeninfo, ' +
    'warm cache` 190–324 → 145–162 µs over several runs.',
  "Token issue and token checks read only KV on their success path: a login reads the client's " +
    "edge record with its locks in one bulk read, a check reads the token's claims, tombstone and " +
    'client record in one, an introspection does so for caller and subject together, and audit ' +
    'events and cache fills go out after the response; `/Services` reads in one D1 batch and writes ' +
    'in another. Full runs on 2026-11-29, before → after: `POST /oauth/token` 299 → 572 req/s (7 → 11 % ' +
    'of /healthz), `POST /auth/login` 316–354 → 487–550, warm `tokeninfo` 474 → 662, cold 223 → 318, ' +
    '`POST /Services` 131 → 239; `POST /auth/me` 824 → 762 (one KV read before and after; the ' +
    "machine's drift between the runs is of that size).",
  'Each isolate remembers its edge reads for up to a second (EDGE_MEMORY_MS): a check or login whose ' +
    'every KV entry it read within that window answers without KV. Full runs on 2026-11-29, before → ' +
    'after (two runs): `POST /oauth/token` 572 → 957–1,445 req/s, `POST /auth/login` 487–550 → ' +
    '847–1,474, `POST /auth/me` 762 → 3,097–3,602, warm `tokeninfo` 662 → 2,456–2,884.',
  'Already in place before: signing keys and the pepper imported once per isolate (`parseSigningKeySet` ' +
    'is the once-per-isolate cost in the CPU table), a warm token check with no D1 query and no ' +
    'signature check, and no middleware that reads a binding.',
]

/** Portero's req/s over the mean of the peer's runs, and whether that meets the row's target. */
function versusPeer(row: ScenarioRow, peers: PeerRow[]) {
  const runs = peers.find((p) => p.name === row.versus?.peer)?.runs ?? []
  if (!row.versus || runs.length === 0) return undefined
  const mean = runs.reduce((sum, run) => sum + run.result.rps, 0) / runs.length
  const ratio = row.result.rps / mean
  return {
    ratio,
    mean,
    runs,
    target: row.versus.target,
    met: ratio >= row.versus.target,
    probesOk: runs.every((r) => r.probe.ok),
  }
}

function renderProfile(
  rows: ScenarioRow[],
  healthz: number,
  cpu: CpuFigure[],
  peers: PeerRow[],
): string[] {
  const figure = (name: string) => cpu.find((f) => f.name === name)?.microseconds ?? NaN
  const kvRead =
    figure('checkAccessToken, warm local KV binding (wall time)') -
    figure('checkAccessToken, warm cache')
  const d1Read = figure('local D1 binding: SELECT by primary key (wall time)')
  const d1Write = figure('local D1 binding: INSERT of one row (wall time)')
  const shardCall = figure('local Durable Object binding: send shard admit (wall time)')
  if ([kvRead, d1Read, d1Write, shardCall].some(Number.isNaN)) return []
  const us = (n: number) => `${Math.round(n)}`
  const plural = (n: number, what: string) => (n ? `${n} ${what}${n === 1 ? '' : 's'}` : '')
  let reachable = false
  let bindingFree = false
  const lines = rows.flatMap((row) => {
    const { name, target, result } = row
    const path = PATHS[name]
    const ratio = result.rps / healthz
    const peer = versusPeer(row, peers)
    const ratioMissed = target !== undefined && ratio < target
    if (!path || (!ratioMissed && !(peer && !peer.met))) return []
    const own = path.cpu.reduce((sum, row) => sum + (figure(row) || 0), 0)
    const shards = path.shard ?? 0
    const bindings =
      path.kv * kvRead + path.d1Reads * d1Read + path.d1Writes * d1Write + shards * shardCall
    const ops = [
      plural(path.kv, 'KV read'),
      plural(path.d1Reads, 'D1 read'),
      plural(path.d1Writes, 'D1 write'),
      plural(shards, 'send shard call'),
      path.also ?? '',
    ]
    // A path the isolate's memory of reads answers (no binding call on most requests) is all Worker.
    const share = bindings === 0 ? 1 : own / (own + bindings)
    // With Portero's own share of each request gone, the same bindings would serve this many more.
    const gain = share >= 1 ? Infinity : 1 / (1 - share)
    bindingFree ||= share >= 1
    if (ratioMissed) reachable ||= ratio * gain >= target
    if (peer && !peer.met) reachable ||= peer.ratio * gain >= peer.target
    return [
      [
        name,
        us(own),
        ops.filter(Boolean).join(', '),
        us(bindings),
        pct(share),
        target === undefined
          ? '—'
          : share >= 1
            ? 'no binding to wait for'
            : `${pct(ratio * gain)} (target ≥ ${pct(target)})`,
        peer
          ? share >= 1
            ? 'no binding to wait for'
            : `${times(peer.ratio * gain)} (target ≥ ${times(peer.target)})`
          : '—',
      ],
    ]
  })
  if (lines.length === 0) return []
  return [
    '## What bounds the missed ratio targets here',
    '',
    "The profile of each route that missed its ratio to /healthz or to oidc-provider: the Worker's",
    'own CPU per request (sums of rows of the CPU table above) against the local binding operations',
    'on its path, priced by the "wall time" rows of this run:',
    `a KV read ${us(kvRead)} µs, a D1 read ${us(d1Read)} µs, a D1 write ${us(d1Write)} µs, a send shard`,
    `call (a local Durable Object that commits one count to its SQLite storage) ${us(shardCall)} µs.`,
    'Locally workerd emulates those bindings on the same two cores as the Worker; on Cloudflare they',
    "run outside the isolate, and oidc-provider keeps its tokens in its own process's memory (its",
    'development adapter), which costs it no round trip.',
    '"Worker share" is the part of the path that is Portero\'s own code; the "if Portero cost',
    'nothing" columns are the measured ratios with that share removed: the most any change to',
    "Portero's code could reach on this machine with these bindings (bench/README.md).",
    bindingFree
      ? "Rows with no binding to wait for are answered from the isolate's memory of reads: what bounds them is the Worker's own work per request (the \"app:\" rows of the CPU table) and the runtime's, not storage."
      : reachable
        ? "In at least one row a missed ratio reaches its target that way: there the miss is Portero's to fix."
        : 'No missed ratio reaches its target that way: what bounds them is the local binding emulation.',
    '',
    table(
      [
        'scenario',
        'Worker CPU (µs)',
        'local binding operations on the path',
        'their time here (µs)',
        'Worker share',
        'of /healthz if Portero cost nothing',
        '× oidc-provider if Portero cost nothing',
      ],
      lines,
    ),
    '',
  ]
}

export function renderReport({
  machine,
  settings,
  rows,
  peers,
  consumer,
  cpu,
  roundTrips,
  life,
  dispatchConsumer,
  workerErrors,
}: {
  machine: Machine
  settings: { connections: number; warmupSeconds: number; durationSeconds: number }
  rows: ScenarioRow[]
  peers: PeerRow[]
  consumer?: ConsumerFigure
  cpu: CpuFigure[]
  roundTrips: RouteTrips[]
  life?: MessageLife
  /** wrangler.toml's settings of the dispatch queue's consumer. */
  dispatchConsumer: { queues: number; maxBatchSize: number; maxConcurrency?: number }
  workerErrors: string[]
}): string {
  const healthz = rows[0]!.result.rps
  const ms = (n: number) => n.toFixed(2)
  const missed: string[] = []
  const metTargets: string[] = []
  const tailsMet: string[] = []

  const httpRows = rows.map((row) => {
    const { name, result, target, probe } = row
    const ratio = result.rps / healthz
    const tailMet = result.p99 <= TAIL_RATIO * result.p50
    const ratioMet = target === undefined || ratio >= target
    if (!ratioMet) missed.push(`${name}: ${pct(ratio)} of /healthz, target ≥ ${pct(target!)}`)
    else if (target !== undefined)
      metTargets.push(`${name}: ${pct(ratio)} of /healthz, target ≥ ${pct(target)}`)
    if (!tailMet)
      missed.push(
        `${name}: p99 ${ms(result.p99)} ms is ${(result.p99 / result.p50).toFixed(1)}× p50`,
      )
    else tailsMet.push(name)
    const peer = versusPeer(row, peers)
    // A comparison counts only when every probe, Portero's and the peer's, answered as it should.
    const peerMet = peer !== undefined && peer.met && peer.probesOk && probe.ok
    if (peer && !peerMet) {
      missed.push(
        `${name}: ${times(peer.ratio)} oidc-provider's ${shortPeer(peer.runs[0]!.name)}, target ≥ ${times(peer.target)}`,
      )
    } else if (peer) {
      metTargets.push(
        `${name}: ${times(peer.ratio)} oidc-provider's ${shortPeer(peer.runs[0]!.name)}, target ≥ ${times(peer.target)}`,
      )
    }
    const notes = [
      probe.ok ? '' : `probe answered ${probe.status} without the expected body`,
      result.wrapped ? 'ran out of fresh tokens: later requests hit a warm cache' : '',
    ].filter(Boolean)
    return [
      name,
      result.rps.toFixed(0),
      ms(result.p50),
      ms(result.p99),
      `${result.errors} / ${result.non2xx}`,
      pct(ratio),
      target === undefined ? '—' : `≥ ${pct(target)}: ${verdict(ratioMet)}`,
      peer
        ? `${shortPeer(peer.runs[0]!.name)}: ${peer.runs.map((r) => r.result.rps.toFixed(0)).join(' / ')} (mean ${peer.mean.toFixed(0)})`
        : '—',
      peer ? `${times(peer.ratio)}, ≥ ${times(peer.target)}: ${verdict(peerMet)}` : '—',
      `${(result.p99 / result.p50).toFixed(1)}×: ${verdict(tailMet)}`,
      notes.join('; '),
    ]
  })

  const peerRows = peers.flatMap(({ runs }) =>
    runs.map(({ name, result, probe }) => {
      if (!probe.ok)
        missed.push(`${name}: the probe answered ${probe.status} without the expected body`)
      return [
        name,
        result.rps.toFixed(0),
        ms(result.p50),
        ms(result.p99),
        `${result.errors} / ${result.non2xx}`,
        probe.ok ? '' : `probe answered ${probe.status} without the expected body`,
      ]
    }),
  )

  const edge = renderEdge(roundTrips, cpu)
  missed.push(...edge.missed)
  metTargets.push(...edge.met)
  const capacity = life ? renderCapacity(life, dispatchConsumer) : undefined
  missed.push(...(capacity?.missed ?? []))
  metTargets.push(...(capacity?.met ?? []))

  const cpuRows = cpu.map(({ name, microseconds, operations }) => {
    const target = CPU_TARGETS[name]
    const met = target === undefined || microseconds <= target
    if (!met) missed.push(`${name}: ${microseconds.toFixed(0)} µs, target ≤ ${target} µs`)
    else if (target !== undefined)
      metTargets.push(`${name}: ${microseconds.toFixed(0)} µs, target ≤ ${target} µs`)
    return [
      name,
      microseconds.toFixed(1),
      String(operations),
      target === undefined ? '—' : `≤ ${target} µs: ${verdict(met)}`,
    ]
  })

  return [
    '# Portero benchmark results',
    '',
    'Written by `npm run bench` (bench/README.md says how to read it). Every figure is from one run on',
    'the machine below; compare ratios to /healthz across runs, not absolute numbers.',
    '',
    '## Machine',
    '',
    ...Object.entries(machine).map(([key, value]) => `- ${key}: ${value}`),
    '',
    '## HTTP scenarios',
    '',
    `${settings.connections} connections, ${settings.warmupSeconds} s warm-up then ${settings.durationSeconds} s measured per scenario,`,
    'from a separate autocannon process to a socket workerd opens for the Worker itself (no wrangler',
    'dev proxy, no Miniflare entry Worker). bench/README.md explains what the ratios are made of.',
    'Latencies in ms; "errors / non-2xx" counts socket errors and timeouts, then non-2xx answers.',
    '',
    table(
      [
        'scenario',
        'req/s',
        'p50',
        'p99',
        'errors / non-2xx',
        'of /healthz',
        'target',
        'oidc-provider req/s (before / after)',
        '× oidc-provider (of the mean)',
        'p99 ≤ 5× p50',
        'notes',
      ],
      httpRows,
    ),
    '',
    ...(peerRows.length
      ? [
          '## oidc-provider under the same load',
          '',
          PEER_NOTE,
          '',
          table(['scenario', 'req/s', 'p50', 'p99', 'errors / non-2xx', 'notes'], peerRows),
          '',
        ]
      : []),
    ...(consumer ? ['## Queue consumer', '', renderConsumer(consumer), ''] : []),
    ...(cpu.length
      ? [
          '## CPU per operation inside workerd',
          '',
          CPU_NOTE,
          '',
          table(['operation', 'µs/op', 'ops per batch', 'target'], cpuRows),
          '',
        ]
      : []),
    ...renderProfile(rows, healthz, cpu, peers),
    ...edge.lines,
    ...(capacity?.lines ?? []),
    ...(rows.some(({ result }) => result.p99 > TAIL_RATIO * result.p50) ? TAIL_NOTE : []),
    '## Changes made for these figures',
    '',
    'Measured before and after when each change was made (on the date each gives, or 2026-11-22, this',
    'kind of machine, single runs that vary by up to a third here); a record, not re-measured by this',
    'run.',
    '',
    ...CHANGES.map((c) => `- ${c}`),
    '',
    '## Targets met',
    '',
    ...(metTargets.length ? metTargets.map((m) => `- ${m}`) : ['None.']),
    ...(tailsMet.length ? [`- p99 ≤ ${TAIL_RATIO}× p50: ${tailsMet.join('; ')}`] : []),
    '',
    '## Targets missed',
    '',
    ...(missed.length ? missed.map((m) => `- ${m}`) : ['None.']),
    '',
    ...(workerErrors.length
      ? [
          '## Errors the Worker logged',
          '',
          ...workerErrors.map((e) => `- \`${e.slice(0, 300)}\``),
          '',
        ]
      : []),
  ].join('\n')
}

/** Measured on 2026-11-27 on this kind of machine, with the access log commented out. */
const TAIL_NOTE = [
  '## Why the tails miss p99 ≤ 5× p50 here',
  '',
  "Every request writes one access-log line. Locally workerd hands it through a pipe to Miniflare's",
  'Node process, which parses it as JSON, on the same two cores as the Worker and the load generator;',
  "a stall there holds the Worker's writes and shows in the p99 of every busy route. Measured with the",
  'access log commented out (`--only` runs, same machine, same day), every tail was within its target:',
  '',
  table(
    ['scenario', 'with the access log (full runs)', 'without it'],
    [
      [
        'GET /healthz',
        '3,700–6,100 req/s, p99 5.2–9.0× p50',
        '6,300–8,450 req/s, p99 3.9–4.5× p50',
      ],
      ['GET /.well-known/jwks.json', 'p99 5.6–11.7× p50', 'p99 4.0× p50'],
      ['POST /auth/me', 'p99 4.3–6.3× p50', 'p99 4.4× p50'],
      ['POST /mcg/v1/tokeninfo, warm cache', 'p99 4.1–6.0× p50', 'p99 3.4× p50'],
    ],
  ),
  '',
  'On Cloudflare the log is collected outside the isolate. The access log stays: it is what operators',
  'read, and /healthz pays for it as every other route does, so the ratios compare like with like.',
  '',
]

const PEER_NOTE = `oidc-provider (bench/peer.ts, version above), an OpenID-certified authorization server for
Node.js, as a client_credentials server: one client with client_secret_basic; a resource whose
access tokens are ES256 JWTs (RFC 9068, chosen by an RFC 8707 resource indicator), and a second
resource whose opaque tokens its RFC 7662 introspection endpoint answers to the same client; its
default in-memory adapter; one Node process on loopback. Same autocannon settings as above, run
right after the first /healthz and again after Portero's last scenario: the "× oidc-provider"
column above divides Portero's req/s by the mean of the two runs. Each run is probed first and must
answer an ES256 JWT access token, or "active":true.`

/** The Worker's CPU per route at the edge, in rows of the CPU table. */
const EDGE_CPU: Record<string, string[]> = {
  'POST /oauth/token': ['app: GET /healthz', 'secretMatches', 'issueAccessToken (ES256 sign)'],
  'POST /auth/login': ['app: GET /healthz', 'secretMatches', 'issueAccessToken (ES256 sign)'],
  'POST /auth/me': ['app: POST /auth/me, warm cache'],
  'POST /mcg/v1/tokeninfo, warm cache': ['app: POST /mcg/v1/tokeninfo, warm cache'],
  // A lower bound: the body's validation and the dispatch's own work have no row of their own.
  'POST /Services': ['app: POST /auth/me, warm cache'],
  'GET /.well-known/jwks.json': ['app: GET /.well-known/jwks.json'],
}

/**
 * Edge targets: the most milliseconds in every placement with warm edge state, D1 rounds, or
 * Durable Object calls before the response.
 */
const EDGE_TARGETS: Record<string, { ms?: number; d1?: number; do?: number }> = {
  'POST /oauth/token': { ms: 10 },
  'POST /auth/me': { ms: 10 },
  // Its token check's KV read and one call to the provider's send shard; no D1.
  'POST /Services': { ms: 30, d1: 0, do: 1 },
}

function renderEdge(
  trips: RouteTrips[],
  cpu: CpuFigure[],
): { lines: string[]; missed: string[]; met: string[] } {
  if (trips.length === 0) return { lines: [], missed: [], met: [] }
  const figure = (name: string) => cpu.find((f) => f.name === name)?.microseconds ?? NaN
  const missed: string[] = []
  const metTargets: string[] = []
  const bounds: string[] = []
  const rows = trips.map(({ name, status, ok, waited, steps, deferred }) => {
    const cpuMs = (EDGE_CPU[name] ?? []).reduce((sum, row) => sum + figure(row), 0) / 1000
    const kinds = steps.map((step) => step.map((call) => call.split('.')[0] as Kind))
    const latencies = PLACEMENTS.map((placement) => ({
      placement,
      ...edgeLatency(kinds, cpuMs, placement),
    }))
    // What reading KV cold instead of hot adds, over all placements.
    const cold = PLACEMENTS.map((placement, i) => {
      const { low, high } = edgeLatency(kinds, cpuMs, placement, EDGE_COSTS.kvColdRead)
      return { low: low - latencies[i]!.low, high: high - latencies[i]!.high }
    })
    const coldAdds = {
      low: Math.min(...cold.map((c) => c.low)),
      high: Math.max(...cold.map((c) => c.high)),
    }
    // What a shard an ocean from its caller would add, over all placements.
    const far = PLACEMENTS.map((placement, i) => {
      const { low, high } = edgeLatency(
        kinds,
        cpuMs,
        placement,
        EDGE_COSTS.kvHotRead,
        EDGE_COSTS.durableObjectCall.oceanAway,
      )
      return { low: low - latencies[i]!.low, high: high - latencies[i]!.high }
    })
    const farAdds = {
      low: Math.min(...far.map((c) => c.low)),
      high: Math.max(...far.map((c) => c.high)),
    }
    const target = EDGE_TARGETS[name]
    const verdicts: string[] = []
    if (!ok) {
      verdicts.push(`probe answered ${status} without the expected body`)
      missed.push(`${name}: the round-trip probe answered ${status} without the expected body`)
    }
    if (target?.ms !== undefined) {
      const limit = target.ms
      const over = latencies.filter((l) => !(l.high <= limit))
      const met = ok && over.length === 0
      verdicts.push(`≤ ${limit} ms in every placement: ${verdict(met)}`)
      if (!met)
        missed.push(
          `${name} at the edge: ${over.map((l) => `${span(l)} ms ${l.placement}`).join('; ')}; target ≤ ${limit} ms`,
        )
      else {
        const worst = Math.max(...latencies.map((l) => l.high))
        metTargets.push(
          `${name} at the edge: at most ${span({ low: worst, high: worst })} ms in every placement, target ≤ ${limit} ms`,
        )
      }
      for (const l of over) {
        const largest = l.parts.reduce((a, b) => (b.span.high > a.span.high ? b : a))
        const rest = { low: l.low - largest.span.low, high: l.high - largest.span.high }
        bounds.push(
          `${name}, ${l.placement}: ${span(l)} ms, of which ${largest.what} ${span(largest.span)} ms ` +
            `(the rest ${span(rest)} ms${rest.high <= limit ? `, within ${limit} ms` : ''}).`,
        )
      }
    }
    if (target?.do !== undefined) {
      const met = ok && waited.do <= target.do
      verdicts.push(`≤ ${count(target.do, 'Durable Object call')}: ${verdict(met)}`)
      const counted = `${name}: ${count(waited.do, 'Durable Object call')} before the response, target ≤ ${target.do}`
      if (met) metTargets.push(counted)
      else missed.push(counted)
    }
    if (target?.d1 !== undefined) {
      const met = ok && waited.d1 <= target.d1
      const most = target.d1 === 0 ? 'no D1 round trip' : `≤ ${count(target.d1, 'D1 round trip')}`
      verdicts.push(`${most}: ${verdict(met)}`)
      if (!met) {
        missed.push(
          `${name}: ${waited.d1} D1 round trips before the response, target ≤ ${target.d1}`,
        )
        const d1Steps = steps.filter((step) => step.some((call) => call.startsWith('d1.')))
        bounds.push(
          `${name}: ${waited.d1} D1 round trips one after the other: ${d1Steps.map((step) => step.join(' + ')).join(' → ')}.`,
        )
      } else {
        metTargets.push(
          `${name}: ${waited.d1} D1 round trips before the response, target ≤ ${target.d1}`,
        )
      }
    }
    return [
      name,
      `${waited.kv} KV, ${waited.d1} D1 (${waited.d1Statements} statement${waited.d1Statements === 1 ? '' : 's'}), ${waited.queue} queue, ${waited.do} DO`,
      steps.map((step) => step.join(' + ')).join(' → ') || 'none',
      deferred.join(', ') || '—',
      cpuMs.toFixed(2),
      ...latencies.map((l) => span(l)),
      `+${span(coldAdds)}`,
      farAdds.high > 0 ? `+${span(farAdds)}` : '—',
      verdicts.join('; ') || '—',
    ]
  })
  const d1 = PLACEMENTS.map((p) => `${span(EDGE_COSTS.d1RoundTrip[p])} ms ${p}`).join(', ')
  const lines = [
    '## Latency at the edge, modelled',
    '',
    'The binding round trips one request of each hot route waits for, counted inside workerd by',
    'bench/cpu-worker.ts with test/helpers/round-trips.ts (calls of one kind that overlap count once)',
    'on the local bindings the HTTP scenarios used, after one unmeasured request of the same route',
    "that warmed KV, with the isolate's memory of reads emptied first (a repeat within",
    'EDGE_MEMORY_MS in the same isolate waits for no KV read at all). Work the app defers runs',
    'after the response and is listed apart, not priced. "calls" shows the waited-for steps in order (→),',
    'with the calls that overlap in one step joined by +. Each placement of the Worker prices every',
    'step at its slowest call, with the unit costs in bench/edge-costs.ts (sources in',
    `bench/README.md): a hot KV read ${span(EDGE_COSTS.kvHotRead)} ms (every KV call is priced as one), a D1 round trip`,
    `${d1}, a queue send ${span(EDGE_COSTS.queueSend)} ms, a Durable Object call (DO: the provider's send shard)`,
    `${span(EDGE_COSTS.durableObjectCall.nearby)} ms in every placement, since a shard lives in the region its provider's requests come`,
    "from (it is created near its first caller and stays there); plus the Worker's CPU from the CPU",
    'table. Milliseconds, from the low to the high end of the unit costs; "KV cold instead" is what',
    `reading KV cold (${span(EDGE_COSTS.kvColdRead)} ms) instead of hot would add, "shard an ocean away instead" what a caller an`,
    `ocean from its shard (${span(EDGE_COSTS.durableObjectCall.oceanAway)} ms a call) would add. A target in milliseconds is met when the high`,
    'end meets it in every placement.',
    '',
    table(
      [
        'route',
        'rounds waited for',
        'calls',
        'after the response',
        'Worker CPU (ms)',
        ...PLACEMENTS,
        'KV cold instead',
        'shard an ocean away instead',
        'target',
      ],
      rows,
    ),
    '',
    ...(bounds.length
      ? ['What bounds the missed edge targets:', '', ...bounds.map((b) => `- ${b}`), '']
      : []),
  ]
  return { lines, missed, met: metTargets }
}

/** Targets of the capacity table: messages a second, and D1 statements per delivered SMS. */
const CAPACITY_TARGETS = { oneProvider: 2000, tenProviders: 10_000, d1StatementsPerSms: 0.05 }
const PROVIDERS = 10
/** The most send shards a provider may have (src/domain/admission.ts MAX_SEND_SHARDS). */
const MOST_SHARDS = 64
/**
 * The send shards each of PROVIDERS providers is given when together they send the target: a
 * tenth of it each, 1,000 messages/s, more than one shard takes (docs/sending.md "A provider that
 * sends a lot").
 */
const SHARDS_EACH = 4

/**
 * A message's life counted by bench/cpu-worker.ts, per delivered SMS, and what the published limits
 * of each binding (bench/edge-costs.ts) then allow in messages a second: each limit divided by the
 * calls a delivered SMS makes on it. The lowest is the ceiling, and names the limit that binds.
 */
function renderCapacity(
  life: MessageLife,
  consumer: { queues: number; maxBatchSize: number; maxConcurrency?: number },
): { lines: string[]; missed: string[]; met: string[] } {
  const missed: string[] = []
  const met: string[] = []
  const sum = (pick: (p: MessageLife['phases'][number]) => number) =>
    life.phases.reduce((total, p) => total + pick(p), 0)
  const queueNames = [...new Set(life.phases.flatMap((p) => Object.keys(p.queueMessages)))]
  const delivered = life.delivered
  const per = (n: number) => (delivered > 0 ? n / delivered : NaN)
  const perSms = {
    d1Calls: per(sum((p) => p.d1Calls)),
    d1Statements: per(sum((p) => p.d1Statements)),
    doCalls: per(sum((p) => p.doCalls)),
    queue: Object.fromEntries(
      queueNames.map((q) => [q, per(sum((p) => p.queueMessages[q] ?? 0))]),
    ) as Record<string, number>,
  }
  const queueCell = (messages: Record<string, number>) =>
    queueNames
      .filter((q) => (messages[q] ?? 0) > 0)
      .map((q) => `${q} ${fixed(messages[q]!)}`)
      .join(', ') || '0'
  const lifeRows = [
    ...life.phases.map((p) => [
      p.name,
      String(p.runs),
      String(p.d1Calls),
      String(p.d1Statements),
      String(p.doCalls),
      queueCell(p.queueMessages),
    ]),
    [
      '**per delivered SMS**',
      '—',
      fixed(perSms.d1Calls),
      fixed(perSms.d1Statements),
      fixed(perSms.doCalls),
      queueCell(perSms.queue),
    ],
  ]
  if (life.problem) missed.push(`The message-life probe did not run to delivered: ${life.problem}`)

  // Each row: a published limit over the calls a delivered SMS makes on it.
  type Row = {
    limit: string
    published: string
    calls: string
    formula: string
    one: Span
    ten: Span
    /** One provider spread over MOST_SHARDS send shards. */
    sharded: Span
    /** PROVIDERS providers of SHARDS_EACH send shards each. */
    tenSharded: Span
  }
  const flat = (n: number): Span => ({ low: n, high: n })
  const L = EDGE_LIMITS
  const dispatch = perSms.queue[DISPATCH_QUEUES] ?? NaN
  const Q = consumer.queues
  const batch = consumer.maxBatchSize
  const T = L.consumerBatchSeconds
  // Every shard's deliveries spread over all the dispatch queues (by their ids).
  const consumers = (concurrency: number): Span => ({
    low: (Q * concurrency * batch) / T.high / dispatch,
    high: (Q * concurrency * batch) / T.low / dispatch,
  })
  const shards = (count: number) =>
    flat((count * L.durableObjectRequestsPerSecond) / perSms.doCalls)
  const rows: Row[] = [
    {
      limit: 'the send shard (a Durable Object; one per provider, or as many as it is given)',
      published: `${n(L.durableObjectRequestsPerSecond)} requests/s per object`,
      calls: count(perSms.doCalls, 'call'),
      formula: `shards × ${n(L.durableObjectRequestsPerSecond)} / ${fixed(perSms.doCalls)}`,
      one: shards(1),
      ten: shards(PROVIDERS),
      sharded: shards(MOST_SHARDS),
      tenSharded: shards(PROVIDERS * SHARDS_EACH),
    },
    {
      limit: 'the D1 database (one per deployment)',
      published: `${n(L.d1QueriesPerSecond)} queries/s`,
      calls: count(perSms.d1Statements, 'statement'),
      formula: `${n(L.d1QueriesPerSecond)} / ${fixed(perSms.d1Statements)}, whatever the shards`,
      one: flat(L.d1QueriesPerSecond / perSms.d1Statements),
      ten: flat(L.d1QueriesPerSecond / perSms.d1Statements),
      sharded: flat(L.d1QueriesPerSecond / perSms.d1Statements),
      tenSharded: flat(L.d1QueriesPerSecond / perSms.d1Statements),
    },
    {
      limit: `the dispatch queues (${Q} per deployment, decisions.md D49)`,
      published: `${n(L.queueMessagesPerSecond)} messages/s per queue`,
      calls: count(dispatch, 'message'),
      formula: `${Q} × ${n(L.queueMessagesPerSecond)} / ${fixed(dispatch)}`,
      one: flat((Q * L.queueMessagesPerSecond) / dispatch),
      ten: flat((Q * L.queueMessagesPerSecond) / dispatch),
      sharded: flat((Q * L.queueMessagesPerSecond) / dispatch),
      tenSharded: flat((Q * L.queueMessagesPerSecond) / dispatch),
    },
    ...queueNames
      .filter((q) => q !== DISPATCH_QUEUES && (perSms.queue[q] ?? 0) > 0)
      .map((q) => ({
        limit: `the queue of ${q} (one per deployment)`,
        published: `${n(L.queueMessagesPerSecond)} messages/s`,
        calls: count(perSms.queue[q]!, 'message'),
        formula: `${n(L.queueMessagesPerSecond)} / ${fixed(perSms.queue[q]!)}`,
        one: flat(L.queueMessagesPerSecond / perSms.queue[q]!),
        ten: flat(L.queueMessagesPerSecond / perSms.queue[q]!),
        sharded: flat(L.queueMessagesPerSecond / perSms.queue[q]!),
        tenSharded: flat(L.queueMessagesPerSecond / perSms.queue[q]!),
      })),
    {
      limit: "the dispatch queues' consumers",
      published: `${n(L.queueConcurrentConsumers)} consumers at once per queue`,
      calls: `${count(dispatch, 'queue message')}, ${batch} a batch (wrangler.toml)`,
      formula: `${Q} × ${n(L.queueConcurrentConsumers)} × ${batch} / (${seconds(T)} s a batch) / ${fixed(dispatch)}`,
      one: consumers(L.queueConcurrentConsumers),
      ten: consumers(L.queueConcurrentConsumers),
      sharded: consumers(L.queueConcurrentConsumers),
      tenSharded: consumers(L.queueConcurrentConsumers),
    },
  ]
  const rate = (x: Span) =>
    Number.isFinite(x.low) ? (x.low === x.high ? n(x.low) : `${n(x.low)}–${n(x.high)}`) : 'no limit'
  // A limit a delivered SMS makes no call on never binds; NaN (nothing delivered) binds at once.
  const bound = (x: Span) => (Number.isNaN(x.low) ? -Infinity : x.low)
  const binding = (pick: (r: Row) => Span) =>
    rows.reduce((a, b) => (bound(pick(b)) < bound(pick(a)) ? b : a))
  const ceilings = [
    { who: 'one provider', pick: (r: Row) => r.one, target: CAPACITY_TARGETS.oneProvider },
    {
      who: `one provider with ${MOST_SHARDS} send shards`,
      pick: (r: Row) => r.sharded,
      target: CAPACITY_TARGETS.oneProvider,
    },
    { who: `${PROVIDERS} providers, one send shard each`, pick: (r: Row) => r.ten },
    {
      who: `${PROVIDERS} providers, ${SHARDS_EACH} send shards each`,
      pick: (r: Row) => r.tenSharded,
      target: CAPACITY_TARGETS.tenProviders,
    },
  ].map(({ who, pick, target }: { who: string; pick: (r: Row) => Span; target?: number }) => {
    const row = binding(pick)
    const ceiling = bound(pick(row))
    const shown = rate(flat(Math.max(0, ceiling)))
    if (target === undefined) return [who, shown, row.limit, '—']
    const ok = !life.problem && ceiling >= target
    const text = `${who}: at most ${shown} messages/s, bound by ${row.limit}; target ≥ ${n(target)}`
    if (ok) met.push(`Capacity, ${text}`)
    else missed.push(`Capacity, ${text}`)
    return [who, shown, row.limit, `≥ ${n(target)}: ${verdict(ok)}`]
  })
  const d1Ok = !life.problem && perSms.d1Statements <= CAPACITY_TARGETS.d1StatementsPerSms
  const d1Text = `D1 statements per delivered SMS: ${fixed(perSms.d1Statements)}, target ≤ ${CAPACITY_TARGETS.d1StatementsPerSms}`
  if (d1Ok) met.push(d1Text)
  else missed.push(d1Text)
  const configured = consumer.maxConcurrency

  const lines = [
    "## A message's life and the capacity it allows",
    '',
    "Every binding call of a message's life, counted by bench/cpu-worker.ts with the counting proxies",
    `of test/helpers/round-trips.ts through Portero's own code on its local bindings: ${life.messages} one-SMS`,
    '`POST /Services` requests of the seeded provider (what they defer included), the dispatch',
    "queue's handler over their deliveries in batches of wrangler.toml's size, and the SMS API's two",
    'status callbacks of each SMS (`sent`, then `delivered`); the probe plays the dispatch queue and',
    `the SMS API. ${life.sent} SMS sent, ${delivered} delivered${life.problem ? ` (${life.problem})` : ''}. A D1 call is one round`,
    'trip, a batch of n statements n queries; a Durable Object call is one request to the object.',
    'What the send shard reads and writes of D1 itself (its alarms handing the outboxes on, its copy of the send facts brought up to date) is counted in the shard and shown as a part of its own.',
    '',
    table(
      ['part', 'runs', 'D1 calls', 'D1 statements', 'Durable Object calls', 'queue messages'],
      lifeRows,
    ),
    '',
    `- ${d1Text}: ${verdict(d1Ok)}.`,
    '',
    'Each limit Cloudflare publishes (bench/edge-costs.ts; sources in bench/README.md) divided by the',
    'calls a delivered SMS makes on it is the most messages a second that binding lets through; the',
    'lowest is the ceiling and names the limit that binds first. A provider has one send shard, or as',
    `many as an operator gives it (docs/sending.md "A provider that sends a lot"; up to ${MOST_SHARDS}), and shards with equal`,
    `traffic add up: ${PROVIDERS} providers of one shard have ${PROVIDERS} times one shard's capacity. Each delivery's job goes`,
    `through one of the ${Q} dispatch queues, picked by its id (decisions.md D49), so every shard's deliveries spread over`,
    `all ${Q}; the queues and the D1 database are shared by the whole deployment. ${PROVIDERS} providers that send ${n(CAPACITY_TARGETS.tenProviders)} messages/s between them send ${n(CAPACITY_TARGETS.tenProviders / PROVIDERS)} each, more than one`,
    `shard takes: they are given ${SHARDS_EACH} shards each, and that row carries the target. A D1 query that writes takes several`,
    `ms, not 1: the D1 row is an upper bound. The consumers row assumes a batch takes ${seconds(T)} s (its SMS go`,
    'out in parallel: one SMS API answer plus its round trips), not a published figure; the slow end is used.',
    '',
    table(
      [
        'limit',
        'published',
        'calls per delivered SMS',
        'formula (messages/s)',
        'one provider (messages/s)',
        `one provider, ${MOST_SHARDS} shards`,
        `${PROVIDERS} providers, one shard each`,
        `${PROVIDERS} providers, ${SHARDS_EACH} shards each`,
      ],
      rows.map((r) => [
        r.limit,
        r.published,
        r.calls,
        r.formula,
        rate(r.one),
        rate(r.sharded),
        rate(r.ten),
        rate(r.tenSharded),
      ]),
    ),
    '',
    table(['deployment', 'ceiling (messages/s)', 'binds first', 'target'], ceilings),
    '',
    ...(configured !== undefined
      ? [
          `wrangler.toml sets each dispatch queue's max_concurrency to ${configured} (the SMS API account's`,
          `concurrency, docs/operations.md): as configured the ${Q} queues' consumers pass ${rate(consumers(configured))} messages/s, a`,
          'setting an operator raises with the SMS account, not a limit of the platform.',
          '',
        ]
      : []),
  ]
  return { lines, missed, met }
}

/** `1 call`, `2 calls`, `0.5 calls`. */
function count(x: number, what: string): string {
  return `${fixed(x)} ${what}${x === 1 ? '' : 's'}`
}

/** Seconds, as many decimals as they have. */
function seconds({ low, high }: Span): string {
  return low === high ? String(low) : `${low}–${high}`
}

/** A count with thousands separators and no decimals. */
function n(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : String(x)
}

/** A per-SMS figure: two decimals, fewer when they are zeros. */
function fixed(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toFixed(2))) : '—'
}

function span({ low, high }: Span): string {
  const f = (n: number) => (n >= 100 ? n.toFixed(0) : String(Number(n.toFixed(1))))
  return f(low) === f(high) ? f(low) : `${f(low)}–${f(high)}`
}

function verdict(met: boolean): string {
  return met ? 'met' : '**missed**'
}

function times(ratio: number): string {
  return `${ratio.toFixed(2)}×`
}

/** A peer scenario's name without the peer's and the run's: "POST /token (ES256 JWT access token)". */
function shortPeer(name: string): string {
  return name.replace(/^oidc-provider: /, '').replace(/, (before|after)$/, '')
}

const CPU_NOTE = `From bench/cpu-worker.ts: the real functions (and, for "app:" rows, the whole Hono app) in a
loop, KV replaced by an in-memory map so that only the isolate's own work counts, except in the
rows marked "wall time", which use the local KV and D1 bindings. Microseconds per operation, the
fastest of three batches.`

function renderConsumer({
  perSecond,
  messages,
  sent,
  failed,
  unfinished,
  seconds,
  delivered,
  deliveredSeconds,
  deliveredPerSecond,
  enqueue,
}: ConsumerFigure): string {
  return table(
    ['figure', 'value'],
    [
      [
        'messages/s end to end: /Services to `delivered` (the receipt applied)',
        `${deliveredPerSecond.toFixed(0)} (${delivered} delivered in ${deliveredSeconds.toFixed(2)} s)`,
      ],
      ['messages/s from the queue to the stand-in SMS API', perSecond.toFixed(0)],
      [
        'messages (sent / failed / unfinished)',
        `${messages} (${sent} / ${failed} / ${unfinished})`,
      ],
      ['first SMS to last at the stand-in', `${seconds.toFixed(2)} s`],
      ...(sent + failed > messages
        ? [
            [
              'SMS beyond the messages sent',
              `${sent + failed - messages}: deliveries of the /Services scenario above (whose queue ` +
                "has no consumer), taken up by the send shard's alarm once overdue",
            ],
          ]
        : []),
      [
        '/Services while the consumer ran (req/s, p50, p99)',
        `${enqueue.rps.toFixed(0)}, ${enqueue.p50.toFixed(2)} ms, ${enqueue.p99.toFixed(2)} ms`,
      ],
    ],
  )
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(0)} %`
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}
