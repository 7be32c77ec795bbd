// Tests run inside workerd with the bindings of wrangler.toml (real local D1, KV, rate limiters);
// only the secrets are made up here, fresh for every run.
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'
import { generatePepper } from './src/domain/secrets.ts'
import { generateSigningKey } from './src/domain/signing-keys.ts'

export default defineConfig(async () => {
  const signingKeys = { keys: [await generateSigningKey('ES256')] }
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            ISSUER: 'https://portero.test',
            SIGNING_KEYS: JSON.stringify(signingKeys),
            SECRET_PEPPER: generatePepper(),
            TEST_MIGRATIONS: await readD1Migrations('migrations'),
          },
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts'],
      setupFiles: ['./test/setup/apply-migrations.ts'],
      restoreMocks: true,
    },
  }
})
