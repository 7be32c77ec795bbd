// `npm run bench`: serves the bundled Worker on workerd through Miniflare, seeds it through the
// public API, drives each scenario from a separate autocannon process (and oidc-provider's token
// and introspection endpoints, before and after Portero's, with the same settings), times the hot
// paths and counts their binding round trips inside workerd, then prints the figures and writes
// them to bench/RESULTS.md.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { parseArgs, promisify } from 'node:util'
import { decodeJwt } from 'jose'
import { parseSigningKeySet } from '../src/domain/signing-keys.ts'
import { issueAccessToken } from '../src/domain/tokens.ts'
import type { AccessTokenClaims } from '../src/token-claims.ts'
import type { CpuReport, ProbeInput } from './cpu-worker.ts'
import type { LoadResult, LoadSpec } from './load.ts'
import {
  JWT_RESOURCE,
  OPAQUE_RESOURCE,
  PEER_BASE,
  PEER_CLIENT,
  PEER_READY,
  PEER_SCOPE,
} from './peer.ts'
import {
  describeMachine,
  renderReport,
  type ConsumerFigure,
  type PeerRow,
  type ScenarioRow,
} from './report.ts'
import {
  BASE,
  BUILD,
  buildWorkers,
  dispatchConsumer,
  generateSecrets,
  startPortero,
} from './server.ts'
import { issueToken, seed } from './seed.ts'

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
process.env.WRANGLER_SEND_METRICS ??= 'false'

const CONNECTIONS = 16
const WARMUP_SECONDS = 2
const DURATION_SECONDS = 8
/**
 * Unmeasured /healthz load before the first scenario. A freshly started workerd (and Miniflare's
 * log pipe) serves the first seconds at about two thirds of its later rate, which a 2 s warm-up
 * does not cover: without this the ceiling every ratio is taken against came out 30–50 % low.
 */
const PRIME_SECONDS = 10
/**
 * Enough fresh tokens for the cold-cache scenario's warm-up and run at a few thousand per second.
 */
const COLD_TOKENS = 40_000
const CONSUMER_MESSAGES = 2_000
const CONSUMER_TIMEOUT_MS = 90_000
/** What Cloudflare's edge adds to every request; login locks are then checked per IP too. */
const EDGE_HEADERS = { 'cf-connecting-ip': '203.0.113.7' }
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_BODY = { 'content-type': 'application/json' }

type Scenario = {
  name: string
  /** Where the scenario's path is served: Portero unless given. */
  base?: string
  spec: Omit<LoadSpec, 'url' | 'connections'> & { path: string }
  /** Required share of /healthz's requests per second. */
  target?: number
  /** Required multiple of a peer scenario's requests per second (the mean of its two runs). */
  versus?: ScenarioRow['versus']
  /** Text the answer to one probe request must contain, so a wrong setup cannot pass as fast. */
  expect: string
  /** The probe's body when the scenario sends its bodies from a file. */
  probeBody?: string
}

// `npm run bench -- --only tokeninfo`: /healthz plus the parts whose name contains the text
// ("consumer" and "cpu" name those sections); printed only, RESULTS.md is left as it is.
const { values: args } = parseArgs({ options: { only: { type: 'string' } } })
const only = args.only?.toLowerCase()
const wanted = (name: string) => only === undefined || name.toLowerCase().includes(only)

// oidc-provider's endpoints under its default routes; what its probes must answer.
const PEER_TOKEN = 'oidc-provider: POST /token (ES256 JWT access token)'
const PEER_INTROSPECTION = 'oidc-provider: POST /token/introspection (warm opaque token)'
const PEER_BASIC = `Basic ${btoa(`${PEER_CLIENT.id}:${PEER_CLIENT.secret}`)}`
/** `{"alg":"ES256",` base64url-encoded: the token must be a JWT signed with ES256. */
const ES256_JWT = '"access_token":"eyJhbGciOiJFUzI1NiIs'

const started = new Date()
const loadBefore = loadavg()
const step = (text: string) => console.error(`\u25b8 ${text}`)

step('Bundling the Workers (wrangler deploy --dry-run)')
buildWorkers()
const secrets = await generateSecrets()
step('Starting workerd through Miniflare, applying migrations/, seeding through the API')
const portero = await startPortero(secrets)
try {
  await portero.migrate()
  const db = await portero.mf.getD1Database('DB')
  const seeded = await seed(BASE, db, secrets.SECRET_PEPPER)
  const token = await issueToken(BASE, seeded.clientId, seeded.clientSecret)
  const caller = await issueToken(BASE, seeded.clientId, seeded.clientSecret)

  step(`Minting ${COLD_TOKENS} tokens for the cold-cache scenario`)
  const coldTokens = await mintTokensLike(token, COLD_TOKENS + 1)
  const coldFile = `${BUILD}/cold-bodies.json`
  writeFileSync(coldFile, JSON.stringify(coldTokens.slice(1).map((t) => `token=${t}`)))

  const basic = `Basic ${btoa(`${seeded.clientId}:${seeded.clientSecret}`)}`
  const servicesBody = JSON.stringify({
    provider_id: Number(seeded.providerId),
    service_token: seeded.serviceToken,
    service_id: seeded.serviceId,
    parameters: {
      destination: seeded.userId,
      notification: { titulo: 'Bench', mensaje: 'Turno el lunes a las 9:15', canal: 'SMS' },
    },
  })
  const servicesSpec: Scenario['spec'] = {
    path: '/Services',
    method: 'POST',
    headers: { ...JSON_BODY, authorization: `Bearer ${token}` },
    body: servicesBody,
    uniqueHeader: 'idempotency-key',
  }
  const healthz: Scenario = { name: 'GET /healthz', spec: { path: '/healthz' }, expect: '"ok"' }
  const driftCheck: Scenario = { ...healthz, name: 'GET /healthz (again, last: drift check)' }
  const scenarios: Scenario[] = [
    healthz,
    {
      name: 'POST /oauth/token',
      target: 0.4,
      versus: { peer: PEER_TOKEN, target: 1 },
      spec: {
        path: '/oauth/token',
        method: 'POST',
        headers: { ...FORM, authorization: basic },
        body: 'grant_type=client_credentials',
      },
      expect: '"access_token"',
    },
    {
      name: 'POST /auth/login (Bridge)',
      spec: {
        path: '/auth/login',
        method: 'POST',
        headers: JSON_BODY,
        body: JSON.stringify({ clientId: seeded.clientId, clientSecret: seeded.clientSecret }),
      },
      expect: '"ack":0',
    },
    {
      name: 'POST /auth/login (Yativo)',
      spec: {
        path: '/auth/login',
        method: 'POST',
        headers: JSON_BODY,
        body: JSON.stringify({ account_id: seeded.clientId, app_secret: seeded.clientSecret }),
      },
      expect: '"status":"success"',
    },
    {
      name: 'POST /auth/me',
      target: 0.6,
      versus: { peer: PEER_INTROSPECTION, target: 0.75 },
      spec: { path: '/auth/me', method: 'POST', headers: { 'x-access-token': token } },
      expect: '"active":true',
    },
    {
      name: 'POST /mcg/v1/tokeninfo, warm cache',
      target: 0.6,
      versus: { peer: PEER_INTROSPECTION, target: 0.5 },
      spec: {
        path: '/mcg/v1/tokeninfo',
        method: 'POST',
        headers: { ...FORM, authorization: `Bearer ${caller}` },
        body: `token=${token}`,
      },
      expect: '"active":true',
    },
    {
      name: 'POST /mcg/v1/tokeninfo, cold cache',
      target: 0.3,
      spec: {
        path: '/mcg/v1/tokeninfo',
        method: 'POST',
        headers: { ...FORM, authorization: `Bearer ${caller}` },
        bodiesFile: coldFile,
      },
      expect: '"active":true',
      probeBody: `token=${coldTokens[0]}`,
    },
    { name: 'POST /Services', target: 0.3, spec: servicesSpec, expect: '"status":"queued"' },
    {
      name: 'GET /.well-known/jwks.json',
      spec: { path: '/.well-known/jwks.json' },
      expect: '"keys"',
    },
    driftCheck,
  ]

  const selected = scenarios.filter((s, i) => i === 0 || wanted(s.name))
  // A peer scenario runs when it or a scenario compared with it is selected.
  const peerWanted = (name: string) => wanted(name) || selected.some((s) => s.versus?.peer === name)
  const peerNames = [PEER_TOKEN, PEER_INTROSPECTION].filter(peerWanted)

  step(`Priming workerd: ${PRIME_SECONDS} s of /healthz, not measured`)
  await runLoadProcess({
    url: BASE + healthz.spec.path,
    headers: EDGE_HEADERS,
    connections: CONNECTIONS,
    durationSeconds: PRIME_SECONDS,
  })

  const rows: ScenarioRow[] = []
  const peers: PeerRow[] = peerNames.map((name) => ({ name, runs: [] }))
  const runPeers = async (when: string) => {
    for (const scenario of await peerScenarios()) {
      const row = peers.find((p) => p.name === scenario.name)
      if (row)
        row.runs.push({
          ...(await runScenario(scenario, `${when} Portero's`)),
          name: `${scenario.name}, ${when}`,
        })
    }
  }
  // oidc-provider right after the ceiling, and again after Portero's last scenario (before the
  // drift check at the end).
  const lastOfPortero = Math.max(
    0,
    selected.findLastIndex((s) => s !== driftCheck),
  )
  let peer: ChildProcess | undefined
  try {
    if (peerNames.length) peer = await startPeer()
    for (const [i, scenario] of selected.entries()) {
      rows.push(await runScenario(scenario))
      if (peer && i === 0) await runPeers('before')
      if (peer && i === lastOfPortero) await runPeers('after')
    }
  } finally {
    peer?.kill('SIGTERM')
  }

  let consumer: ConsumerFigure | undefined
  if (wanted('consumer')) {
    step(
      `Consumer: ${CONSUMER_MESSAGES} messages through /Services, the queue ` +
        "and the stand-in's SMS API",
    )
    await portero.setConsumer(true)
    const standIn = await portero.mf.getWorker('stand-in')
    consumer = await measureConsumer(
      { fetch: (url) => standIn.fetch(url) as unknown as Promise<Response> },
      servicesSpec,
    )
  }

  let cpu: CpuReport = { figures: [], roundTrips: [] }
  if (wanted('cpu')) {
    step('CPU per operation and binding round trips per route inside workerd (bench/cpu-worker.ts)')
    const cpuWorker = await portero.mf.getWorker('bench-cpu')
    const input: ProbeInput = {
      clientId: seeded.clientId,
      clientSecret: seeded.clientSecret,
      token,
      caller,
      servicesBody,
      dispatchBatchSize: dispatchConsumer().maxBatchSize,
    }
    const response = await cpuWorker.fetch('http://bench/', {
      method: 'POST',
      body: JSON.stringify(input),
    })
    if (!response.ok)
      throw new Error(`bench/cpu-worker.ts answered ${response.status}: ${await response.text()}`)
    cpu = (await response.json()) as CpuReport
  }

  const report = renderReport({
    machine: describeMachine({ started, loadBefore, loadAfter: loadavg() }),
    settings: {
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_SECONDS,
      durationSeconds: DURATION_SECONDS,
    },
    rows,
    peers,
    consumer,
    cpu: cpu.figures,
    roundTrips: cpu.roundTrips,
    life: cpu.life,
    dispatchConsumer: dispatchConsumer(),
    workerErrors: portero.errors,
  })
  if (only === undefined) writeFileSync('bench/RESULTS.md', report)
  console.log(report)
} finally {
  await portero.dispose()
}

/** Fresh tokens with the claims of one /oauth/token issued, signed with the Worker's own key. */
async function mintTokensLike(issued: string, count: number): Promise<string[]> {
  const keys = await parseSigningKeySet(secrets.SIGNING_KEYS)
  const claims = decodeJwt<AccessTokenClaims>(issued)
  const input = {
    issuer: claims.iss,
    clientId: claims.client_id,
    providerId: claims.provider_id,
    scopes: claims.scope.split(' '),
    audiences: [claims.aud].flat(),
    lifetimeSeconds: claims.exp - claims.iat,
  }
  const now = new Date()
  const tokens: string[] = []
  for (let i = 0; i < count; i++) tokens.push((await issueAccessToken(keys, input, now)).token)
  return tokens
}

/** Probes the scenario once, then loads it with the settings every scenario shares. */
async function runScenario(scenario: Scenario, note = ''): Promise<ScenarioRow> {
  step(
    `${scenario.name}${note ? ` (${note})` : ''}: ` +
      `${WARMUP_SECONDS} s warm-up, ${DURATION_SECONDS} s measured`,
  )
  const probe = await probeOnce(scenario)
  const result = await runLoadProcess({
    ...scenario.spec,
    url: (scenario.base ?? BASE) + scenario.spec.path,
    headers: edgeHeaders(scenario),
    connections: CONNECTIONS,
    warmupSeconds: WARMUP_SECONDS,
    durationSeconds: DURATION_SECONDS,
  })
  return { name: scenario.name, result, target: scenario.target, versus: scenario.versus, probe }
}

/** What Cloudflare's edge adds in front of Portero; the peer gets the scenario's headers only. */
function edgeHeaders({ base, spec }: Scenario): Record<string, string> {
  return base === undefined ? { ...EDGE_HEADERS, ...spec.headers } : { ...spec.headers }
}

async function probeOnce(scenario: Scenario): Promise<ScenarioRow['probe']> {
  const { spec, expect, probeBody } = scenario
  const headers = {
    ...edgeHeaders(scenario),
    ...(spec.uniqueHeader ? { [spec.uniqueHeader]: crypto.randomUUID() } : {}),
  }
  const response = await fetch((scenario.base ?? BASE) + spec.path, {
    method: spec.method ?? 'GET',
    headers,
    body: probeBody ?? spec.body,
  })
  const text = await response.text()
  return { status: response.status, ok: response.ok && text.includes(expect) }
}

/**
 * oidc-provider's scenarios: client_credentials for the JWT resource, and introspection of an
 * opaque token issued just before (its in-memory adapter keeps a bounded number of entries).
 */
async function peerScenarios(): Promise<Scenario[]> {
  const headers = { ...FORM, authorization: PEER_BASIC }
  const grant = (resource: string) =>
    `grant_type=client_credentials&resource=${encodeURIComponent(resource)}` +
    `&scope=${encodeURIComponent(PEER_SCOPE)}`
  const issued = await fetch(`${PEER_BASE}/token`, {
    method: 'POST',
    headers,
    body: grant(OPAQUE_RESOURCE),
  })
  const { access_token: opaque } = (await issued.json()) as { access_token: string }
  return [
    {
      name: PEER_TOKEN,
      base: PEER_BASE,
      spec: { path: '/token', method: 'POST', headers, body: grant(JWT_RESOURCE) },
      expect: ES256_JWT,
    },
    {
      name: PEER_INTROSPECTION,
      base: PEER_BASE,
      spec: { path: '/token/introspection', method: 'POST', headers, body: `token=${opaque}` },
      expect: '"active":true',
    },
  ]
}

/** Starts bench/peer.ts (oidc-provider) in its own process and waits until it listens. */
async function startPeer(): Promise<ChildProcess> {
  step('Starting oidc-provider (bench/peer.ts) on loopback')
  const child = spawn(process.execPath, ['bench/peer.ts'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let errors = ''
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes(PEER_READY) && resolve())
    child.once('exit', (code) => reject(new Error(`bench/peer.ts exited with ${code}: ${errors}`)))
  })
  return child
}

/** Runs bench/load.ts in its own process, so the load generator never shares this event loop. */
async function runLoadProcess(spec: LoadSpec): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['bench/load.ts', JSON.stringify(spec)],
    {
      encoding: 'utf8',
    },
  )
  return JSON.parse(stdout) as LoadResult
}

/**
 * Enqueues CONSUMER_MESSAGES messages (one SMS each) through /Services and waits until the
 * stand-in's SMS API has accepted each (a delivery `sent`) and its `delivered` status callback was
 * answered 200 by Portero (the delivery `delivered`). Counted at the stand-in, which records when
 * each SMS reached it and when each callback was answered, rather than read from Portero's storage
 * while it is under load. The consumer's rate runs from the first SMS to reach the stand-in to the
 * last, so polling and process start-up do not count; the end-to-end rate runs from the first
 * /Services request to the last `delivered` answered, the stand-in's own delay before each
 * callback (its default, 500 ms before `sent` and again before `delivered`) included.
 */
async function measureConsumer(
  standIn: { fetch(url: string): Promise<Response> },
  spec: Scenario['spec'],
): Promise<ConsumerFigure> {
  const started = Date.now()
  const since = new Date(started).toISOString()
  const enqueue = runLoadProcess({
    ...spec,
    url: BASE + spec.path,
    headers: { ...EDGE_HEADERS, ...spec.headers },
    connections: CONNECTIONS,
    amount: CONSUMER_MESSAGES,
  })
  const deadline = Date.now() + CONSUMER_TIMEOUT_MS
  type Sms = { at: string; method: string; status: number; response: { sid?: string } }
  type Callback = {
    form: Record<string, string>
    answer: number | string | null
    answeredAt: string | null
  }
  let sent: Sms[] = []
  let refused: Sms[] = []
  let delivered: Callback[] = []
  for (;;) {
    const answer = await standIn.fetch('http://stand-in/_control/received')
    const { sms, callbacks } = (await answer.json()) as { sms: Sms[]; callbacks: Callback[] }
    const ours = sms.filter((r) => r.method === 'POST' && r.at >= since)
    sent = ours.filter((r) => r.status === 201)
    refused = ours.filter((r) => r.status !== 201)
    const sids = new Set(sent.map((r) => r.response.sid))
    delivered = callbacks.filter(
      (c) =>
        c.form.MessageStatus === 'delivered' && c.answer === 200 && sids.has(c.form.MessageSid),
    )
    const settled = sent.length + refused.length >= CONSUMER_MESSAGES
    if ((settled && delivered.length >= sent.length) || Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  const times = sent.map((r) => Date.parse(r.at)).sort((a, b) => a - b)
  const seconds = times.length > 1 ? (times.at(-1)! - times[0]!) / 1000 : NaN
  const lastDelivered = Math.max(...delivered.map((c) => Date.parse(c.answeredAt!)))
  const deliveredSeconds = delivered.length > 0 ? (lastDelivered - started) / 1000 : NaN
  return {
    messages: CONSUMER_MESSAGES,
    sent: sent.length,
    failed: refused.length,
    unfinished: Math.max(0, CONSUMER_MESSAGES - sent.length - refused.length),
    seconds,
    perSecond: sent.length / seconds,
    delivered: delivered.length,
    deliveredSeconds,
    deliveredPerSecond: delivered.length / deliveredSeconds,
    enqueue: await enqueue,
  }
}
