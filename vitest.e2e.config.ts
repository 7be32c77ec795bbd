// Conformance tests against the real local system: `npm start` (Portero and the SMS/FCM stand-in
// under wrangler dev) driven over HTTP from Node by independent client libraries and curl.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    environment: 'node',
    globalSetup: ['./test/e2e/global-setup.ts'],
    // One server for all files, and one file restarts it (key rotation): never two files at once.
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 60_000,
    restoreMocks: true,
  },
})
