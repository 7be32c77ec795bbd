// Tests of the project's scripts (scripts/) and of the TypeScript client (clients/typescript/):
// plain Node, no server and no workerd. Separate from vitest.config.ts, whose tests run inside
// workerd.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/scripts/**/*.test.ts', 'clients/typescript/test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
  },
})
