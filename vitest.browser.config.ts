// The API reference page in a real browser: Debian's headless Chromium, driven from Node by
// playwright-core, against the local system started the real way (`npm start`, through the e2e
// suite's globalSetup). Separate from vitest.config.ts, whose tests run inside workerd.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    environment: 'node',
    globalSetup: ['./test/e2e/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
