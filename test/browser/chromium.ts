// Headless Chromium for the browser suite (Debian's; CHROMIUM_PATH overrides it), and a context
// that refuses every request to another origin and records console errors: a CSP violation shows
// up there. Screenshots go to test-artifacts/ (gitignored).
/// <reference types="node" />
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core'

export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// The machine's network is closed: keep Chromium from calling home. Playwright itself adds
// --headless and a fresh temporary --user-data-dir, deleted on close.
const CHROMIUM_ARGS = [
  '--no-sandbox', // CI runs as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true })
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
}

export type GuardedPage = {
  context: BrowserContext
  page: Page
  /** Requests to any other origin, refused before they leave the browser. */
  foreign: string[]
  /** Console errors and uncaught exceptions. */
  errors: string[]
}

/** A context and page that may reach `base`'s origin (and data: URLs) only. */
export async function guardedPage(
  browser: Browser,
  base: string,
  options: BrowserContextOptions = {},
): Promise<GuardedPage> {
  const context = await browser.newContext(options)
  // Fail on a missing element well inside the test's own timeout, naming the locator.
  context.setDefaultTimeout(10_000)
  const origin = new URL(base).origin
  const foreign: string[] = []
  const errors: string[] = []
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue()
    foreign.push(url)
    return route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(String(error)))
  return { context, page, foreign, errors }
}
