// `npm run deploy:check`: every refusal, each on a copy of wrangler.toml made wrong in one way.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkEnvironment } from '../../scripts/deploy-check.ts'

const committed = readFileSync('wrangler.toml', 'utf8')
const dir = mkdtempSync(join(tmpdir(), 'portero-deploy-check-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

type Env = 'local' | 'staging' | 'production'

/** wrangler.toml cut where each environment's section begins. */
function sections(toml: string): Record<Env, string> {
  const staging = toml.indexOf('[env.staging]')
  const production = toml.indexOf('[env.production]')
  return {
    local: toml.slice(0, staging),
    staging: toml.slice(staging, production),
    production: toml.slice(production),
  }
}

/** `from` replaced by `to` in one environment's section; throws if `from` is not there. */
function edit(toml: string, env: Env, from: string | RegExp, to: string): string {
  const parts = sections(toml)
  const changed = parts[env].replace(from, to)
  if (changed === parts[env]) throw new Error(`${String(from)} is not in [env.${env}]`)
  return Object.values({ ...parts, [env]: changed }).join('')
}

/** wrangler.toml as an operator fills it in: ids of their own, their hostnames. */
function fillIn(toml: string): string {
  const operators: Array<[Env, string, string, string]> = [
    ['staging', 'auth.staging.example.com', 'auth.staging.portero.dev', '1'],
    ['production', 'auth.example.com', 'auth.portero.dev', '2'],
  ]
  for (const [env, placeholderHost, host, digit] of operators) {
    const d1 = `${digit.repeat(8)}-aaaa-4bbb-8ccc-${'d'.repeat(12)}`
    toml = edit(toml, env, '00000000-0000-0000-0000-000000000000', d1)
    toml = edit(toml, env, '00000000000000000000000000000000', digit.repeat(32))
    toml = edit(toml, env, `"https://${placeholderHost}"`, `"https://${host}"`)
    toml = edit(toml, env, `pattern = "${placeholderHost}"`, `pattern = "${host}"`)
  }
  return toml
}
const filled = fillIn(committed)

let written = 0
function configWith(toml: string): string {
  const path = join(dir, `wrangler-${++written}.toml`)
  writeFileSync(path, toml)
  return path
}

function problemsOf(toml: string, env = 'production', placeholders = false) {
  return checkEnvironment(env, { config: configWith(toml), placeholders }).problems
}

describe('the committed wrangler.toml', () => {
  it.each(['staging', 'production'])(
    'has a sound %s environment once its placeholders are replaced',
    (env) => {
      const placeholders = checkEnvironment(env, { placeholders: true })
      expect(placeholders.problems).toEqual([])
      const paths = placeholders.placeholders.map((p) => p.path)
      expect(paths).toEqual([
        `env.${env}.d1_databases[DB].database_id`,
        `env.${env}.kv_namespaces[CACHE].id`,
        `env.${env}.vars.ISSUER`,
      ])
      // Without --placeholders, the same three are refusals.
      expect(checkEnvironment(env).problems.map((p) => p.path)).toEqual(paths)
    },
  )

  it('passes filled in with ids and hostnames of its own', () => {
    expect(problemsOf(filled, 'staging')).toEqual([])
    expect(problemsOf(filled, 'production')).toEqual([])
  })

  it('passes with fewer dispatch queues: one draining, one removed (decisions.md D49)', () => {
    const producer = (k: number) =>
      `[[env.production.queues.producers]]\nbinding = "DISPATCH_QUEUE_${k}"\nqueue = "portero-production-dispatch-${k}"\n\n`
    // DISPATCH_QUEUE_4 unbound while its consumer takes the jobs left; _3 gone altogether.
    let fewer = edit(filled, 'production', producer(4), '')
    fewer = edit(fewer, 'production', producer(3), '')
    fewer = edit(
      fewer,
      'production',
      /DISPATCH_QUEUE_NAME_3 = "[^"]+"/,
      'DISPATCH_QUEUE_NAME_3 = ""',
    )
    fewer = edit(
      fewer,
      'production',
      /\[\[env\.production\.queues\.consumers\]\]\nqueue = "portero-production-dispatch-3"\n(?:.+\n)+\n/,
      '',
    )
    expect(checkEnvironment('production', { config: configWith(fewer) })).toMatchObject({
      problems: [],
      summary: expect.stringContaining(
        'queues portero-production-dispatch, portero-production-dispatch-2, portero-production-audit',
      ),
    })
  })
})

describe('deploy:check refuses', () => {
  const refusals: Array<[string, string, RegExp, string, RegExp]> = [
    [
      'a missing D1 id',
      'env.production.d1_databases[DB].database_id',
      /database_id = "2{8}[^"]*"/,
      'database_id = ""',
      /is missing: run `npx wrangler d1 create portero-production`/,
    ],
    [
      'a KV namespace of another environment',
      'env.production.kv_namespaces[CACHE].id',
      /2{32}/,
      '1'.repeat(32),
      /another environment's namespace/,
    ],
    [
      'a required secret left out of the declaration',
      'env.production.secrets.required',
      /required = \["SIGNING_KEYS", "SECRET_PEPPER"\]/,
      'required = ["SECRET_PEPPER"]',
      /does not list SIGNING_KEYS/,
    ],
    [
      'an ISSUER that is not https',
      'env.production.vars.ISSUER',
      /ISSUER = "https:/,
      'ISSUER = "http:',
      /is not https:\/\//,
    ],
    [
      'an ISSUER naming localhost',
      'env.production.vars.ISSUER',
      /ISSUER = "[^"]+"/,
      'ISSUER = "https://localhost:8787"',
      /names localhost/,
    ],
    [
      'no route',
      'env.production.routes',
      /routes = \[[^\n]*\]\n/,
      '',
      /are missing: attach ISSUER's hostname, e\.g\. routes = \[\{ pattern = "auth\.portero\.dev"/,
    ],
    [
      'a route on another host than ISSUER',
      'env.production.routes',
      /pattern = "auth\.portero\.dev"/,
      'pattern = "api.portero.dev"',
      /name api\.portero\.dev, not ISSUER's host auth\.portero\.dev/,
    ],
    [
      'workers.dev left on',
      'env.production.workers_dev',
      /workers_dev = false/,
      'workers_dev = true',
      /workers\.dev would bypass/,
    ],
    [
      'preview URLs left on',
      'env.production.preview_urls',
      /preview_urls = false\n/,
      '',
      /preview URLs would bypass/,
    ],
    [
      'a var not declared again',
      'env.production.vars.AUDIT_RETENTION_DAYS',
      /AUDIT_RETENTION_DAYS = "30"\n/,
      '',
      /is missing: vars are not inherited/,
    ],
    [
      'a queue-name var that is not the bound queue',
      'env.production.vars.DEAD_LETTER_QUEUE_NAME',
      /DEAD_LETTER_QUEUE_NAME = "[^"]+"/,
      'DEAD_LETTER_QUEUE_NAME = "portero-dispatch-dlq"',
      /is "portero-dispatch-dlq", not the dead-letter queue "portero-production-dispatch-dlq"/,
    ],
    [
      'a queue of another environment',
      'env.production.queues',
      /queue = "portero-production-audit"\n(?=max_batch_size = 100)/,
      'queue = "portero-staging-audit"\n',
      /"portero-staging-audit" is another environment's queue/,
    ],
    [
      'a webhook queue-name var that is not the bound queue',
      'env.production.vars.WEBHOOK_QUEUE_NAME',
      /WEBHOOK_QUEUE_NAME = "[^"]+"/,
      'WEBHOOK_QUEUE_NAME = "portero-webhooks"',
      /is "portero-webhooks", not the queue bound as WEBHOOK_QUEUE "portero-production-webhooks"/,
    ],
    [
      "a webhook dead-letter var that is not the consumer's dead-letter queue",
      'env.production.vars.WEBHOOK_DEAD_LETTER_QUEUE_NAME',
      /WEBHOOK_DEAD_LETTER_QUEUE_NAME = "[^"]+"/,
      'WEBHOOK_DEAD_LETTER_QUEUE_NAME = "portero-production-dispatch-dlq"',
      /not the webhook dead-letter queue "portero-production-webhooks-dlq"/,
    ],
    [
      'no WEBHOOK_QUEUE binding',
      'env.production.queues.producers',
      /binding = "WEBHOOK_QUEUE"/,
      'binding = "WEBHOOK_QUEUE_OLD"',
      /has no WEBHOOK_QUEUE binding/,
    ],
    [
      'no consumer of the webhook dead-letter queue',
      'env.production.queues.consumers',
      /queue = "portero-production-webhooks-dlq"\n(?=max_batch_size)/,
      'queue = "portero-production-webhooks-dlq2"\n',
      /has no consumer of the webhook dead-letter queue/,
    ],
    [
      'a webhook queue of another environment',
      'env.production.queues',
      /queue = "portero-production-webhooks"\n(?=\n)/,
      'queue = "portero-staging-webhooks"\n',
      /"portero-staging-webhooks" is another environment's queue/,
    ],
    [
      'a rate-limit namespace id of another environment',
      'env.production.ratelimits[LOGIN_IP_LIMITER].namespace_id',
      /namespace_id = "3002"/,
      'namespace_id = "2002"',
      /2002 is another environment's/,
    ],
    [
      'a Worker name of another environment',
      'env.production.name',
      /name = "portero-production"/,
      'name = "portero-staging"',
      /another environment's Worker name/,
    ],
    [
      'no send shard binding',
      'env.production.durable_objects.bindings[SEND_SHARDS]',
      /\[\[env\.production\.durable_objects\.bindings\]\]\nname = "SEND_SHARDS"\nclass_name = "SendShard"\n/,
      '',
      /Durable Object bindings are not inherited/,
    ],
    [
      'no migration creating the send shard class',
      'env.production.migrations',
      /new_sqlite_classes = \["SendShard"\]/,
      'new_sqlite_classes = []',
      /create no class SendShard/,
    ],
    [
      'no Analytics Engine binding',
      'env.production.analytics_engine_datasets',
      /\[\[env\.production\.analytics_engine_datasets\]\]\nbinding = "METRICS"\ndataset = "[^"]+"\n/,
      '',
      /has no binding METRICS/,
    ],
    [
      'an Analytics Engine dataset of another environment',
      'env.production.analytics_engine_datasets[METRICS].dataset',
      /dataset = "portero_production"/,
      'dataset = "portero_staging"',
      /"portero_staging" is another environment's dataset/,
    ],
    [
      'a dispatch consumer without max_concurrency',
      'env.production.queues.consumers[portero-production-dispatch].max_concurrency',
      /max_concurrency = 1\n/,
      '',
      /is not set/,
    ],
    [
      'a dispatch queue without a consumer',
      'env.production.queues.consumers',
      /queue = "portero-production-dispatch-3"\n(?=max_batch_size)/,
      'queue = "portero-production-dispatch-5"\n',
      /has no consumer of "portero-production-dispatch-3"/,
    ],
    [
      "a dispatch queue's var that is not the bound queue",
      'env.production.vars.DISPATCH_QUEUE_NAME_2',
      /DISPATCH_QUEUE_NAME_2 = "[^"]+"/,
      'DISPATCH_QUEUE_NAME_2 = "portero-production-dispatch-3"',
      /is "portero-production-dispatch-3", not the queue bound as DISPATCH_QUEUE_2 "portero-production-dispatch-2"/,
    ],
    [
      'a dispatch queue dead-lettering elsewhere',
      'env.production.queues.consumers[portero-production-dispatch-4].dead_letter_queue',
      /(queue = "portero-production-dispatch-4"\n(?:.*\n){3})dead_letter_queue = "[^"]+"/,
      '$1dead_letter_queue = "portero-production-dispatch-4-dlq"',
      /is "portero-production-dispatch-4-dlq", not DEAD_LETTER_QUEUE_NAME "portero-production-dispatch-dlq"/,
    ],
    [
      'a dispatch consumer no var names',
      'env.production.queues.consumers[portero-production-dispatch-4]',
      /DISPATCH_QUEUE_NAME_4 = "[^"]+"/,
      'DISPATCH_QUEUE_NAME_4 = ""',
      /is named by no DISPATCH_QUEUE_NAME\* var/,
    ],
  ]

  it.each([
    ['["* * * * *"]', '*/5 * * * *', /the clean-up would never run/],
    ['[]', '*/5 * * * *', /the clean-up would never run/],
  ])('an environment whose own cron triggers are %s', (crons, lacking, message) => {
    const toml = edit(
      filled,
      'production',
      '[env.production]\n',
      `[env.production]\ntriggers = { crons = ${crons} }\n`,
    )
    const problems = problemsOf(toml, 'production')
    expect(problems).toEqual([
      { path: 'env.production.triggers.crons', message: expect.stringMatching(message) },
    ])
    expect(problems[0]!.message).toContain(`"${lacking}"`)
  })

  it.each(refusals)('%s', (_, path, from, to, message) => {
    const problems = problemsOf(edit(filled, 'production', from, to))
    expect(problems).toContainEqual({ path, message: expect.stringMatching(message) })
  })

  it('an environment wrangler.toml does not have', () => {
    expect(problemsOf(filled, 'prod')).toEqual([
      {
        path: 'env.prod',
        message: expect.stringMatching(
          /is not in .*: deploy one of its environments \(staging, production\)/,
        ),
      },
    ])
  })
})

describe('the commands', () => {
  const node = process.execPath
  const run = (script: string, args: string[]) =>
    spawnSync(node, [script, ...args], {
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    })

  it('deploy:check exits 1 with each problem on its line, and builds nothing', () => {
    const config = configWith(edit(filled, 'staging', /ISSUER = "https:/, 'ISSUER = "http:'))
    const result = run('scripts/deploy-check.ts', ['--env', 'staging', '--config', config])
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^✗ env\.staging\.vars\.ISSUER is not https:\/\//m)
    expect(result.stderr).toMatch(/fix wrangler\.toml and run the check again/)
    expect(result.stdout).not.toMatch(/Worker bundle/)
  })

  it('deploy:check and deploy refuse to run without an environment', () => {
    for (const script of ['scripts/deploy-check.ts', 'scripts/deploy.ts']) {
      const result = run(script, [])
      expect(result.status).toBe(2)
      expect(result.stderr).toMatch(/Name the environment: the local default is for `npm start`/)
    }
  })

  it('deploy stops before wrangler deploy when the check finds a placeholder', () => {
    const result = run('scripts/deploy.ts', ['--env', 'production'])
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/database_id is the placeholder/)
    expect(result.stderr).toMatch(/Nothing was deployed\./)
  })

  it('deploy refuses --placeholders', () => {
    const result = run('scripts/deploy.ts', ['--env', 'production', '--placeholders'])
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/a placeholder cannot be deployed/)
  })
})
