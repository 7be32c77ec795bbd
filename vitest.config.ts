// Tests run inside workerd with the bindings of wrangler.toml (real local D1, KV, rate limiters);
// only the secrets are made up here, fresh for every run.
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose'
import { defineConfig } from 'vitest/config'
import { unstable_readConfig, type Unstable_Config } from 'wrangler'
import { generatePepper } from './src/domain/secrets.ts'
import { generateSigningKey } from './src/domain/signing-keys.ts'

/**
 * wrangler.toml's queue consumers, delivering by themselves as deployed, but without waiting to
 * fill a batch: dispatch at once, audit within 0.1 s (deployed: 1 s and 5 s), so a test waiting for
 * a send or for the audit log waits for the consumer only.
 */
function promptQueueConsumers() {
  const { queues, vars }: Unstable_Config = unstable_readConfig({ config: './wrangler.toml' })
  const batchTimeout: Record<string, number> = { [String(vars.AUDIT_QUEUE_NAME)]: 0.1 }
  return Object.fromEntries(
    (queues.consumers ?? []).map((consumer) => [
      consumer.queue,
      {
        maxBatchSize: consumer.max_batch_size,
        maxBatchTimeout: batchTimeout[consumer.queue] ?? 0,
        maxRetries: consumer.max_retries,
        deadLetterQueue: consumer.dead_letter_queue,
      },
    ]),
  )
}

export default defineConfig(async () => {
  const signingKeys = { keys: [await generateSigningKey('ES256')] }
  // A Google service account for FCM, whose public half the stand-in (test/helpers/stand-in.ts)
  // checks token assertions with.
  const serviceAccountKey = await generateKeyPair('RS256', { extractable: true })
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            ISSUER: 'https://portero.test',
            // Every test sees KV as it is; test/edge/memory.test.ts turns the isolate's memory on.
            EDGE_MEMORY_MS: '0',
            SIGNING_KEYS: JSON.stringify(signingKeys),
            SECRET_PEPPER: generatePepper(),
            // The outside world is the stand-in, reached through a fetch spy (never the network).
            SMS_API_BASE_URL: 'https://stand-in.test/twilio',
            SMS_ACCOUNT_SID: 'ACtest0000000000000000000000000000',
            SMS_AUTH_TOKEN: 'test-auth-token',
            SMS_FROM: '+15005550006',
            TWILIO_WHATSAPP_FROM: '+14155238886',
            // No second SMS route, whatever .dev.vars holds: a test turns it on with VONAGE_VARS
            // (test/helpers/stand-in.ts).
            VONAGE_API_BASE_URL: 'https://stand-in.test/vonage',
            VONAGE_API_KEY: '',
            VONAGE_FROM: '',
            FCM_API_BASE_URL: 'https://stand-in.test/fcm',
            FCM_PROJECT_ID: 'portero-test',
            GOOGLE_TOKEN_URL: 'https://stand-in.test/google/token',
            FCM_SERVICE_ACCOUNT: JSON.stringify({
              client_email: 'portero-test@portero-test.iam.gserviceaccount.com',
              private_key: await exportPKCS8(serviceAccountKey.privateKey),
            }),
            TEST_SERVICE_ACCOUNT_PUBLIC_JWK: JSON.stringify(
              await exportJWK(serviceAccountKey.publicKey),
            ),
            TEST_MIGRATIONS: await readD1Migrations('migrations'),
          },
          queueConsumers: promptQueueConsumers(),
          // A request no test's stand-in took (a queued send delivered after its test ended)
          // never leaves the machine: it gets the answer of an unreachable API, a transient failure.
          outboundService: () => new Response('no network in tests', { status: 503 }),
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts'],
      // The scripts' tests run in Node (vitest.scripts.config.ts).
      exclude: ['test/scripts/**'],
      setupFiles: ['./test/setup/apply-migrations.ts', './test/setup/declared-answers.ts'],
      // One workerd (and its D1, KV and module graph) for all files a worker runs, instead of one
      // started for each file: files share storage, so every test makes fresh ids of its own.
      isolate: false,
      restoreMocks: true,
      // One access-log line per request would bury the report; 5xx lines (level error) still show.
      onConsoleLog: (line: string) => !line.startsWith('{"level":"info","message":"request",'),
      // `npm run test:coverage`: Istanbul instruments src/ as Vite transforms it, so the counts are
      // taken inside workerd and handed back by the Workers pool.
      coverage: {
        provider: 'istanbul' as const,
        include: ['src/**'],
        reporter: ['text-summary', 'json-summary'],
        reportsDirectory: 'coverage',
      },
    },
  }
})
