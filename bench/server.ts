// Runs the bundled Portero Worker, the SMS/FCM stand-in and the CPU bench Worker on workerd through
// Miniflare's API (no `wrangler dev` proxy), with wrangler.toml's bindings (the send shards'
// Durable Objects among them) and fresh local storage.
// Load goes to a socket workerd opens for the Portero Worker itself: Miniflare's own entry socket
// routes every request through a Worker of its own first, which on this kind of machine cuts an
// empty Worker from about 6,400 to about 2,000 requests/s and would hide Portero's own cost.
import { MAX_SEND_QUOTA } from '../src/domain/quotas.ts'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { convertV4MiniflareOptions, Miniflare, type V4WorkerOptions } from 'miniflare'
import { unstable_readConfig, unstable_splitSqlQuery, type Unstable_Config } from 'wrangler'
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose'
import { generatePepper } from '../src/domain/secrets.ts'
import { generateSigningKey } from '../src/domain/signing-keys.ts'

/** Miniflare's entry socket (unused by the load, but Miniflare always opens one). */
const ENTRY_PORT = 8797
/** workerd's socket straight into the Portero Worker. */
export const PORT = 8796
export const BASE = `http://127.0.0.1:${PORT}`
export const BUILD = 'bench/.build'
const WRANGLER = 'node_modules/.bin/wrangler'
// Outbound fetches go to the stand-in worker whatever the host; the path picks the emulated API.
const STAND_IN = 'http://stand-in.bench'
const TWILIO = {
  accountSid: 'ACbench000000000000000000000000000',
  authToken: 'bench-auth-token',
  from: '+15005550006',
}
const FCM = { projectId: 'portero-bench', email: 'bench@portero-bench.iam.gserviceaccount.com' }

/** A dispatch queue's producer binding: DISPATCH_QUEUE, DISPATCH_QUEUE_2… (decisions.md D49). */
const DISPATCH_BINDING = /^DISPATCH_QUEUE(_[0-9]+)?$/

/** wrangler.toml's dispatch queues' consumers, and its dead-letter queue's. */
function queueConsumers(config: Unstable_Config) {
  const dispatchQueues = new Set(
    (config.queues.producers ?? [])
      .filter((p) => DISPATCH_BINDING.test(p.binding))
      .map((p) => p.queue),
  )
  const consumers = config.queues.consumers ?? []
  return {
    dispatch: consumers.filter((c) => dispatchQueues.has(c.queue)),
    deadLetters: consumers.find((c) => c.queue === config.vars.DEAD_LETTER_QUEUE_NAME),
  }
}

/**
 * The dispatch queues' consumer as wrangler.toml sets them up (each the same): how many queues,
 * each one's batch size and concurrency.
 */
export function dispatchConsumer(): {
  queues: number
  maxBatchSize: number
  maxConcurrency: number | undefined
} {
  const { dispatch } = queueConsumers(unstable_readConfig({ config: 'wrangler.toml' }))
  return {
    queues: dispatch.length,
    maxBatchSize: dispatch[0]?.max_batch_size ?? 10,
    maxConcurrency: dispatch[0]?.max_concurrency ?? undefined,
  }
}

export type Secrets = { SIGNING_KEYS: string; SECRET_PEPPER: string }

/** Bundles each Worker as `wrangler deploy --dry-run --outdir` would. */
export function buildWorkers(): void {
  rmSync(BUILD, { recursive: true, force: true })
  const wrangler = (...args: string[]) =>
    execFileSync(WRANGLER, ['deploy', '--dry-run', ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  // Absolute: wrangler resolves --outdir against the config file's folder.
  // --env '': the local default environment, named (wrangler.toml has staging and production).
  wrangler('--env', '', '--outdir', resolve(BUILD, 'portero'))
  wrangler('--config', 'stand-in/wrangler.toml', '--outdir', resolve(BUILD, 'stand-in'))
  wrangler(
    'bench/cpu-worker.ts',
    ...['--env', '', '--name', 'portero-bench-cpu', '--outdir', resolve(BUILD, 'cpu')],
  )
}

/** Fresh development-style secrets, made with the project's own generators. */
export async function generateSecrets(): Promise<Secrets> {
  return {
    SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningKey('ES256')] }),
    SECRET_PEPPER: generatePepper(),
  }
}

export type Portero = {
  mf: Miniflare
  /** What the Workers logged at level error (their stdout is not printed: one line per request). */
  errors: string[]
  /** Restarts workerd with or without the dispatch queues' consumers; storage is kept. */
  setConsumer(on: boolean): Promise<void>
  /** Applies migrations/ in order through the D1 binding. */
  migrate(): Promise<void>
  dispose(): Promise<void>
}

export async function startPortero(
  secrets: Secrets,
  { inspectorPort }: { inspectorPort?: number } = {},
): Promise<Portero> {
  const errors: string[] = []
  const config: Unstable_Config = unstable_readConfig({ config: 'wrangler.toml' })
  const serviceAccount = await generateKeyPair('RS256', { extractable: true })
  const serviceAccountKey = await exportPKCS8(serviceAccount.privateKey)
  const serviceAccountJwk = JSON.stringify(await exportJWK(serviceAccount.publicKey))
  const persist = `${BUILD}/state`
  const { dispatch, deadLetters } = queueConsumers(config)
  const sqliteClasses = new Set(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []))
  const consumer = (q: NonNullable<typeof deadLetters>) => ({
    maxBatchSize: q.max_batch_size,
    maxBatchTimeout: q.max_batch_timeout,
    maxRetries: q.max_retries,
    deadLetterQueue: q.dead_letter_queue,
  })

  // Portero's bindings, which the CPU bench Worker shares (same ids, so the same local storage) to
  // count the round trips of the app's routes on the data the HTTP scenarios used.
  const porteroBindings = (withConsumer: boolean, owner = 'portero') => ({
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    bindings: {
      ...config.vars,
      ...secrets,
      // An https:// issuer, as deployed: wrangler.toml's local one would make every request to a
      // host other than localhost (the CPU probes use https://portero.bench) a 503
      // server_misconfigured (decisions.md D24).
      ISSUER: 'https://portero.bench',
      // The load scenarios send thousands of messages a minute to one recipient: the quotas would
      // answer most of them 429 (docs/sending.md "Send quotas"). Measured here is the path that sends.
      SEND_QUOTA_PER_MINUTE: String(MAX_SEND_QUOTA),
      SEND_QUOTA_PER_DAY: String(MAX_SEND_QUOTA),
      SEND_QUOTA_PER_DESTINATION_HOUR: String(MAX_SEND_QUOTA),
      SMS_API_BASE_URL: `${STAND_IN}/twilio`,
      SMS_ACCOUNT_SID: TWILIO.accountSid,
      SMS_AUTH_TOKEN: TWILIO.authToken,
      SMS_FROM: TWILIO.from,
      FCM_API_BASE_URL: `${STAND_IN}/fcm`,
      FCM_PROJECT_ID: FCM.projectId,
      GOOGLE_TOKEN_URL: `${STAND_IN}/google/token`,
      FCM_SERVICE_ACCOUNT: JSON.stringify({
        type: 'service_account',
        client_email: FCM.email,
        private_key: serviceAccountKey,
      }),
    },
    kvNamespaces: Object.fromEntries(config.kv_namespaces.map((kv) => [kv.binding, kv.id!])),
    d1Databases: Object.fromEntries(config.d1_databases.map((d1) => [d1.binding, d1.database_id!])),
    ratelimits: Object.fromEntries(
      config.ratelimits.map((r) => [r.name, { namespace_id: r.namespace_id, simple: r.simple }]),
    ),
    // The classes Portero's bundle exports, with the SQLite storage their migrations declare, kept
    // under the state folder like D1. The CPU bench Worker binds its own subclass of the send
    // shard (bench/cpu-worker.ts), whose alarms count their D1 statements for the message-life
    // probe.
    durableObjects: Object.fromEntries(
      config.durable_objects.bindings.map((d) => [
        d.name,
        {
          className: d.class_name,
          scriptName: owner,
          useSQLite: sqliteClasses.has(d.class_name),
        },
      ]),
    ),
    // Without the consumer, /Services is measured alone (on 2 cores a draining backlog would take
    // its CPU) and its messages go to a queue nobody reads, so they never reach the consumer's
    // figure.
    queueProducers: Object.fromEntries(
      (config.queues.producers ?? []).map((p) => [
        p.binding,
        { queueName: `${p.queue}${withConsumer ? '' : '-unconsumed'}` },
      ]),
    ),
  })

  const portero = (withConsumer: boolean): V4WorkerOptions => ({
    name: 'portero',
    modules: true,
    scriptPath: `${BUILD}/portero/index.js`,
    ...porteroBindings(withConsumer),
    queueConsumers: {
      ...(withConsumer ? Object.fromEntries(dispatch.map((q) => [q.queue, consumer(q)])) : {}),
      ...(deadLetters ? { [deadLetters.queue]: consumer(deadLetters) } : {}),
    },
    outboundService: 'stand-in',
    unsafeDirectSockets: [{ host: '127.0.0.1', port: PORT }],
  })

  const others = (withConsumer: boolean): V4WorkerOptions[] => [
    {
      name: 'stand-in',
      modules: true,
      scriptPath: `${BUILD}/stand-in/worker.js`,
      compatibilityDate: config.compatibility_date,
      // Its status callbacks go to https://portero.bench/callbacks/sms/status (the issuer's host,
      // which no resolver knows): handed to Portero's Worker instead, as the deployed API reaches it.
      outboundService: 'portero',
      bindings: {
        TWILIO_ACCOUNT_SID: TWILIO.accountSid,
        TWILIO_AUTH_TOKEN: TWILIO.authToken,
        FCM_PROJECT_ID: FCM.projectId,
        SERVICE_ACCOUNT_EMAIL: FCM.email,
        SERVICE_ACCOUNT_PUBLIC_JWK: serviceAccountJwk,
        TOKEN_URL: `${STAND_IN}/google/token`,
      },
    },
    {
      name: 'bench-cpu',
      modules: true,
      scriptPath: `${BUILD}/cpu/cpu-worker.js`,
      ...porteroBindings(withConsumer, 'bench-cpu'),
    },
  ]

  const options = (withConsumer: boolean) =>
    convertV4MiniflareOptions({
      host: '127.0.0.1',
      port: ENTRY_PORT,
      inspectorPort,
      resourcePersistencePath: persist,
      logRequests: false,
      handleStructuredLogs: ({ level, message }) => {
        if (level === 'error' && errors.length < 20) errors.push(message)
      },
      workers: [portero(withConsumer), ...others(withConsumer)],
    } as Parameters<typeof convertV4MiniflareOptions>[0])

  rmSync(persist, { recursive: true, force: true })
  const mf = new Miniflare(options(false))
  await mf.ready
  return {
    mf,
    errors,
    setConsumer: (on) => mf.setOptions(options(on)),
    async migrate() {
      const db = await mf.getD1Database('DB')
      const dir = config.d1_databases[0]!.migrations_dir ?? 'migrations'
      for (const file of readdirSync(dir)
        .filter((f) => f.endsWith('.sql'))
        .sort()) {
        const statements = unstable_splitSqlQuery(readFileSync(join(dir, file), 'utf8'))
        await db.batch(statements.map((sql) => db.prepare(sql)))
      }
    },
    dispose: () => mf.dispose(),
  }
}
