// `npm run deploy:check -- --env production`: refuses an environment of wrangler.toml that would
// deploy misconfigured, then builds it as `wrangler deploy` would (a dry run: no account needed)
// and prints the bundle's size. Each problem names the setting and says what to do.
//   node scripts/deploy-check.ts --env NAME [--placeholders] [--config wrangler.toml]
// --placeholders accepts the ids and example.com hostnames committed in wrangler.toml (CI checks
// the shape of both environments that way); an environment that needs it cannot be deployed.
import { parseArgs } from 'node:util'
import { experimental_readRawConfig, unstable_readConfig, type Unstable_Config } from 'wrangler'
import { issuerProblem } from '../src/http/misconfiguration.ts'
import { CLEAN_UP_CRON } from '../src/queue/schedule.ts'
import { dryRunBundle, formatBundleSize } from './bundle-size.ts'

/** The gzipped bundle's limit in KiB (decisions.md D23). */
export const MAX_BUNDLE_KIB = 188

export interface Problem {
  /** The setting at fault, as a path into wrangler.toml: `env.production.vars.ISSUER`. */
  path: string
  message: string
}

export interface CheckResult {
  problems: Problem[]
  /** Placeholders accepted because of --placeholders: each would be a problem without it. */
  placeholders: Problem[]
  /** One line on what was found sound, for the report. */
  summary: string
}

/** What every deployment must be told: the secrets of `[secrets] required` (docs/deployment.md). */
export const REQUIRED_SECRETS = ['SIGNING_KEYS', 'SECRET_PEPPER'] as const

const ZERO_ID = /^0+(-0+)*$/
/** RFC 2606 and RFC 6761 names: documentation and testing only, never a real deployment. */
const PLACEHOLDER_HOST = /(^|\.)(example(\.(com|net|org))?|test|invalid|localhost)$/i

type Config = Unstable_Config
type Route = NonNullable<Config['routes']>[number]

function readEnvironment(config: string, env: string | undefined): Config {
  return unstable_readConfig({ config, env }, { hideWarnings: true })
}

/** The hostname a route answers on: the custom domain, or the host of a `host/path*` pattern. */
function routeHost(route: Route): string {
  const pattern = typeof route === 'string' ? route : route.pattern
  return pattern
    .replace(/^https?:\/\//, '')
    .split('/')[0]!
    .replace(/^\*\.?/, '')
}

/** Every queue name an environment uses, to tell whether two environments share one. */
function queueNames(config: Config): Set<string> {
  const names = [
    ...(config.queues.producers ?? []).map((p) => p.queue),
    ...(config.queues.consumers ?? []).flatMap((c) => [c.queue, c.dead_letter_queue ?? '']),
  ]
  return new Set(names.filter((name): name is string => Boolean(name)))
}

/**
 * Checks environment `envName` of the Wrangler configuration at `config` against what a deployed
 * Portero needs, and against the other environments it shares an account with.
 */
export function checkEnvironment(
  envName: string,
  { config = 'wrangler.toml', placeholders = false } = {},
): CheckResult {
  const problems: Problem[] = []
  const accepted: Problem[] = []
  const at = (path: string) => `env.${envName}.${path}`
  const fail = (path: string, message: string) => problems.push({ path: at(path), message })
  /** A committed placeholder: accepted with --placeholders, a problem without. */
  const placeholder = (path: string, message: string) =>
    (placeholders ? accepted : problems).push({ path: at(path), message })

  const raw = experimental_readRawConfig({ config }).rawConfig as { env?: object }
  const envNames = Object.keys(raw.env ?? {})
  if (!envNames.includes(envName)) {
    const known = envNames.length ? envNames.join(', ') : 'none'
    const message = `is not in ${config}: deploy one of its environments (${known})`
    return { problems: [{ path: `env.${envName}`, message }], placeholders: [], summary: '' }
  }
  let local: Config, target: Config, others: Config[]
  try {
    local = readEnvironment(config, undefined)
    target = readEnvironment(config, envName)
    others = envNames.filter((n) => n !== envName).map((n) => readEnvironment(config, n))
  } catch (cause) {
    const message = `cannot be read by Wrangler: ${cause instanceof Error ? cause.message : cause}`
    return { problems: [{ path: config, message }], placeholders: [], summary: '' }
  }
  const vars = target.vars as Record<string, unknown>

  // A Worker of its own: the local default's name would deploy over another environment.
  if (!target.name || target.name === local.name || others.some((o) => o.name === target.name)) {
    fail('name', `"${target.name}" is another environment's Worker name: give it one of its own`)
  }

  // Resources: ids filled in, and not another environment's.
  const d1 = target.d1_databases.find((d) => d.binding === 'DB')
  if (!d1) fail('d1_databases', 'has no binding DB: declare [[env.…d1_databases]] binding = "DB"')
  else {
    const path = 'd1_databases[DB].database_id'
    const create = `npx wrangler d1 create ${d1.database_name ?? `portero-${envName}`}`
    if (!d1.database_id) fail(path, `is missing: run \`${create}\` and paste its id`)
    else if (ZERO_ID.test(d1.database_id)) {
      placeholder(path, `is the placeholder ${d1.database_id}: run \`${create}\` and paste its id`)
    } else if (others.some((o) => o.d1_databases.some((d) => d.database_id === d1.database_id))) {
      fail(path, `is another environment's database: create one for ${envName}`)
    }
  }
  const kv = target.kv_namespaces.find((k) => k.binding === 'CACHE')
  if (!kv) fail('kv_namespaces', 'has no binding CACHE: declare it with its namespace id')
  else {
    const create = `npx wrangler kv namespace create portero-${envName}-cache`
    if (!kv.id) fail('kv_namespaces[CACHE].id', `is missing: run \`${create}\` and paste its id`)
    else if (ZERO_ID.test(kv.id)) {
      const message = `is the placeholder ${kv.id}: run \`${create}\` and paste its id`
      placeholder('kv_namespaces[CACHE].id', message)
    } else if (others.some((o) => o.kv_namespaces.some((k) => k.id === kv.id))) {
      fail('kv_namespaces[CACHE].id', `is another environment's namespace: create one`)
    }
  }
  for (const { name } of local.ratelimits) {
    const limiter = target.ratelimits.find((r) => r.name === name)
    const path = `ratelimits[${name}]`
    if (!limiter) fail(path, 'is missing: every rate limiter of the local default is needed')
    else if (
      others.some((o) => o.ratelimits.some((r) => r.namespace_id === limiter.namespace_id))
    ) {
      fail(
        `${path}.namespace_id`,
        `${limiter.namespace_id} is another environment's: namespace ids are unique in an account`,
      )
    }
  }

  // Durable Objects (decisions.md D32): every binding of the local default, with the class
  // migrations that create its class (Wrangler inherits neither).
  for (const { name, class_name: className } of local.durable_objects.bindings) {
    const binding = target.durable_objects.bindings.find((b) => b.name === name)
    const path = `durable_objects.bindings[${name}]`
    if (!binding) fail(path, 'is missing: Durable Object bindings are not inherited, declare it')
    else if (binding.class_name !== className) {
      fail(`${path}.class_name`, `is "${binding.class_name}", not "${className}"`)
    }
    const created = target.migrations.some((m) =>
      [...(m.new_sqlite_classes ?? []), ...(m.new_classes ?? [])].includes(className),
    )
    if (!created) fail('migrations', `create no class ${className}: declare its migration`)
  }

  // Analytics Engine (docs/metrics.md): the METRICS binding, not inherited, on a dataset of this
  // environment's own, or its points would be counted as another's.
  const metrics = target.analytics_engine_datasets.find((a) => a.binding === 'METRICS')
  const datasetOf = (c: Config) =>
    c.analytics_engine_datasets.find((a) => a.binding === 'METRICS')?.dataset ?? c.name
  if (!metrics) {
    const example = `binding = "METRICS", dataset = "portero_${envName}"`
    fail(
      'analytics_engine_datasets',
      `has no binding METRICS: declare [[env.…analytics_engine_datasets]] ${example}`,
    )
  } else if ([local, ...others].some((o) => datasetOf(o) === datasetOf(target))) {
    fail(
      'analytics_engine_datasets[METRICS].dataset',
      `"${datasetOf(target)}" is another environment's dataset: name one for ${envName}`,
    )
  }

  // Every var of the local default, declared again (Wrangler does not inherit vars).
  for (const name of Object.keys(local.vars)) {
    if (!(name in vars)) fail(`vars.${name}`, 'is missing: vars are not inherited, declare it')
  }
  const secrets = target.secrets?.required ?? []
  for (const name of REQUIRED_SECRETS.filter((s) => !secrets.includes(s))) {
    fail('secrets.required', `does not list ${name}: every deployment needs it, declare it`)
  }

  // Queues: the names the Worker is told (vars) are the names of the queues it is bound to.
  const producer = (binding: string) =>
    target.queues.producers?.find((p) => p.binding === binding)?.queue
  const consumer = (queue: unknown) => target.queues.consumers?.find((c) => c.queue === queue)
  const queueVar = (name: string, expected: string | undefined, what: string) => {
    if (vars[name] !== expected) {
      fail(`vars.${name}`, `is "${vars[name]}", not the ${what} "${expected}"`)
    }
  }
  const dispatch = producer('DISPATCH_QUEUE')
  const audit = producer('AUDIT_QUEUE')
  if (!dispatch) fail('queues.producers', 'has no DISPATCH_QUEUE binding')
  if (!audit) fail('queues.producers', 'has no AUDIT_QUEUE binding')
  queueVar('AUDIT_QUEUE_NAME', audit, 'queue bound as AUDIT_QUEUE')
  // The dispatch queues (decisions.md D49): DISPATCH_QUEUE and those of DISPATCH_QUEUE_2.._4 it
  // binds, each named by its var, consumed, and dead-lettering to the one dead-letter queue.
  const dispatchQueues: string[] = []
  for (const suffix of ['', '_2', '_3', '_4']) {
    const binding = `DISPATCH_QUEUE${suffix}`
    const name = `DISPATCH_QUEUE_NAME${suffix}`
    const queue = producer(binding)
    // Unbound: a queue removed (docs/operations.md), its var set while its jobs drain, or empty.
    if (suffix && queue === undefined) continue
    queueVar(name, queue, `queue bound as ${binding}`)
    if (queue) dispatchQueues.push(queue)
    const settings = consumer(queue)
    if (!settings) fail('queues.consumers', `has no consumer of "${queue}"`)
    else {
      if (!suffix) {
        queueVar('DEAD_LETTER_QUEUE_NAME', settings.dead_letter_queue, 'dead-letter queue')
      } else if (settings.dead_letter_queue !== vars.DEAD_LETTER_QUEUE_NAME) {
        fail(
          `queues.consumers[${queue}].dead_letter_queue`,
          `is "${settings.dead_letter_queue}", not DEAD_LETTER_QUEUE_NAME "${vars.DEAD_LETTER_QUEUE_NAME}"`,
        )
      }
      if (settings.max_retries === undefined) {
        fail(`queues.consumers[${queue}].max_retries`, 'is not set: say how often to retry')
      }
      if (settings.max_concurrency == null) {
        fail(`queues.consumers[${queue}].max_concurrency`, 'is not set (docs/deployment.md)')
      }
    }
  }
  // A consumer dead-lettering there is a dispatch queue's: unnamed, its batches are thrown back.
  const dispatchNames = ['', '_2', '_3', '_4'].map((suffix) => vars[`DISPATCH_QUEUE_NAME${suffix}`])
  for (const { queue, dead_letter_queue } of target.queues.consumers ?? []) {
    if (dead_letter_queue === vars.DEAD_LETTER_QUEUE_NAME && !dispatchNames.includes(queue)) {
      fail(`queues.consumers[${queue}]`, 'is named by no DISPATCH_QUEUE_NAME* var: name it there')
    }
  }
  const deadLetters = consumer(vars.DEAD_LETTER_QUEUE_NAME)
  if (!deadLetters) fail('queues.consumers', `has no consumer of the dead-letter queue`)
  else if (deadLetters.max_retries === undefined) {
    fail(`queues.consumers[${deadLetters.queue}].max_retries`, 'is not set')
  }
  if (!consumer(audit)) fail('queues.consumers', `has no consumer of "${audit}"`)
  // Webhook events (decisions.md D25): a queue and a dead-letter queue, named as the vars say.
  const webhook = producer('WEBHOOK_QUEUE')
  if (!webhook) fail('queues.producers', 'has no WEBHOOK_QUEUE binding')
  queueVar('WEBHOOK_QUEUE_NAME', webhook, 'queue bound as WEBHOOK_QUEUE')
  const webhookConsumer = consumer(webhook)
  if (!webhookConsumer) fail('queues.consumers', `has no consumer of "${webhook}"`)
  else {
    queueVar(
      'WEBHOOK_DEAD_LETTER_QUEUE_NAME',
      webhookConsumer.dead_letter_queue,
      'webhook dead-letter queue',
    )
    if (webhookConsumer.max_retries === undefined) {
      fail(`queues.consumers[${webhook}].max_retries`, 'is not set: say how often to retry')
    }
  }
  const webhookDeadLetters = consumer(vars.WEBHOOK_DEAD_LETTER_QUEUE_NAME)
  if (!webhookDeadLetters)
    fail('queues.consumers', 'has no consumer of the webhook dead-letter queue')
  // The cron trigger (inherited unless an environment declares its own): the clean-up, or it
  // never runs. Deliveries need none: the send shards' alarms tend them (decisions.md D32).
  const crons = target.triggers?.crons ?? []
  if (!crons.includes(CLEAN_UP_CRON)) {
    fail('triggers.crons', `lacks "${CLEAN_UP_CRON}": the clean-up would never run`)
  }
  const shared = [...queueNames(target)].filter((q) => others.some((o) => queueNames(o).has(q)))
  for (const queue of shared) {
    fail('queues', `"${queue}" is another environment's queue: name one for ${envName}`)
  }

  // The public origin: https, not localhost, and the host the Worker answers on.
  const issuer = String(vars.ISSUER ?? '')
  const wrongIssuer = issuerProblem(issuer)
  let issuerHost = ''
  if (wrongIssuer) fail('vars.ISSUER', wrongIssuer)
  else {
    issuerHost = new URL(issuer).hostname
    if (PLACEHOLDER_HOST.test(issuerHost)) {
      placeholder(
        'vars.ISSUER',
        `names the placeholder host ${issuerHost}: set it and the route to your hostname`,
      )
    }
  }
  if (target.workers_dev !== false) {
    fail('workers_dev', 'is not false: workers.dev would bypass the zone’s WAF and rate rules')
  }
  if (target.preview_urls !== false) {
    fail('preview_urls', 'is not false: preview URLs would bypass the zone’s WAF and rate rules')
  }
  const routes = target.routes ?? (target.route ? [target.route] : [])
  if (routes.length === 0) {
    const host = issuerHost || 'auth.example.com'
    const example = `routes = [{ pattern = "${host}", custom_domain = true }]`
    fail('routes', `are missing: attach ISSUER's hostname, e.g. ${example}`)
  }
  for (const host of routes.map(routeHost)) {
    if (issuerHost && host !== issuerHost) {
      fail('routes', `name ${host}, not ISSUER's host ${issuerHost}: they must be the same`)
    }
  }

  const summary =
    `[env.${envName}] ${target.name}: D1 ${d1?.database_name}, KV, ` +
    `${target.ratelimits.length} rate limiters, queues ${[...dispatchQueues, audit, webhook].join(', ')}, ` +
    `metrics ${metrics?.dataset}, ` +
    `secrets ${secrets.join(' and ')}, ISSUER ${issuer}, routes ${routes.map(routeHost).join(', ')}`
  return { problems, placeholders: accepted, summary }
}

/** Prints the result; true when the environment may be deployed (or, with placeholders, built). */
export function reportCheck({ problems, placeholders, summary }: CheckResult): boolean {
  for (const p of placeholders) console.log(`· placeholder accepted: ${p.path} ${p.message}`)
  for (const p of problems) console.error(`✗ ${p.path} ${p.message}`)
  if (problems.length > 0) {
    const count = problems.length === 1 ? 'one problem' : `${problems.length} problems`
    console.error(`\n${count}: fix wrangler.toml and run the check again.`)
    return false
  }
  console.log(`✓ ${summary}`)
  return true
}

/** The dry-run build of `envName`: prints its size, false when it is over the limit. */
export function checkBundle(envName: string, config = 'wrangler.toml'): boolean {
  const size = dryRunBundle(['--env', envName, '--config', config])
  const over = size.gzip > MAX_BUNDLE_KIB * 1024
  const verdict = over ? `over the ${MAX_BUNDLE_KIB} KiB limit` : `limit ${MAX_BUNDLE_KIB} KiB`
  console.log(`Worker bundle: ${formatBundleSize(size)} (${verdict})`)
  return !over
}

export function parseDeployArgs(argv: string[], usage: string) {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: 'string', short: 'e' },
      config: { type: 'string', short: 'c', default: 'wrangler.toml' },
      placeholders: { type: 'boolean', default: false },
    },
    // Other arguments are wrangler's (npm run deploy passes them on).
    strict: false,
    allowPositionals: true,
  })
  if (typeof values.env !== 'string' || values.env === '') {
    console.error(
      `${usage}\nName the environment: the local default is for \`npm start\` only ` +
        '(its ISSUER is http://localhost:8787).',
    )
    process.exit(2)
  }
  return {
    env: values.env,
    config: String(values.config),
    placeholders: values.placeholders === true,
  }
}

if (import.meta.main) {
  process.env.WRANGLER_SEND_METRICS ??= 'false'
  const usage = 'usage: npm run deploy:check -- --env NAME [--placeholders] [--config FILE]'
  const { env, config, placeholders } = parseDeployArgs(process.argv.slice(2), usage)
  const sound = reportCheck(checkEnvironment(env, { config, placeholders }))
  if (!sound || !checkBundle(env, config)) process.exitCode = 1
}
