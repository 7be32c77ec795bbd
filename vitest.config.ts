// Tests run inside workerd with the bindings of wrangler.toml (real local D1, KV, rate limiters);
// only the secrets are made up here, fresh for every run.
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose'
import { defineConfig } from 'vitest/config'
import { generatePepper } from './src/domain/secrets.ts'
import { generateSigningKey } from './src/domain/signing-keys.ts'

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
            FCM_API_BASE_URL: 'https://stand-in.test/fcm',
            FCM_PROJECT_ID: 'portero-test',
            GOOGLE_TOKEN_URL: 'https://stand-in.test/google/token',
            FCM_SERVICE_ACCOUNT: JSON.stringify({
              client_email: 'portero-test@portero-test.iam.gserviceaccount.com',
              private_key: await exportPKCS8(serviceAccountKey.privateKey),
            }),
            TEST_SERVICE_ACCOUNT_PUBLIC_JWK: JSON.stringify(await exportJWK(serviceAccountKey.publicKey)),
            TEST_MIGRATIONS: await readD1Migrations('migrations'),
          },
          // The audit queue delivers to its consumer by itself, as deployed, but within 1 s instead
          // of wrangler.toml's 5 s, so that tests reading the audit log wait less.
          queueConsumers: { 'portero-audit': { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 10 } },
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts'],
      setupFiles: ['./test/setup/apply-migrations.ts'],
      restoreMocks: true,
      // One access-log line per request would bury the report; 5xx lines (level error) still show.
      onConsoleLog: (line) => !line.startsWith('{"level":"info","message":"request",'),
      // `npm run test:coverage`: Istanbul instruments src/ as Vite transforms it, so the counts are
      // taken inside workerd and handed back by the Workers pool.
      coverage: {
        provider: 'istanbul',
        include: ['src/**'],
        reporter: ['text-summary', 'json-summary'],
        reportsDirectory: 'coverage',
      },
    },
  }
})
