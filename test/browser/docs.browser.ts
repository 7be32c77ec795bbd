// GET /docs in headless Chromium (Debian's; CHROMIUM_PATH overrides it) against `npm start`: the
// page loads from this origin alone, lists every operation, and its own "Try it out" gets a token
// from POST /oauth/token. Screenshots go to test-artifacts/ (gitignored).
/// <reference types="node" />
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ARTIFACTS, guardedPage, launchChromium } from './chromium.ts'

const portero = inject('portero')
let browser: Browser
let page: Page
/** Requests to any other origin, refused before they leave the browser. */
let foreign: string[]
/** Console errors and uncaught exceptions: a CSP violation shows up here. */
let errors: string[]

beforeAll(async () => {
  browser = await launchChromium()
  ;({ page, foreign, errors } = await guardedPage(browser, portero.base, {
    viewport: { width: 1280, height: 900 },
  }))
})

afterAll(async () => {
  await browser?.close()
})

describe('GET /docs in Chromium', () => {
  it('loads from this origin only, under its own CSP, and lists every operation', async () => {
    const assets: Record<string, string>[] = []
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/docs/')) assets.push(r.headers())
    })
    const response = await page.goto(`${portero.base}/docs`)
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'")

    type Operations = Record<string, Record<string, { operationId: string; tags: string[] }>>
    const document = (await (await fetch(`${portero.base}/openapi.json`)).json()) as {
      paths: Operations
      webhooks: Operations
    }
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item))
    const webhooks = Object.values(document.webhooks).flatMap((item) => Object.values(item))
    await page.locator('.opblock').first().waitFor()
    // Every operation, and every event Portero sends (the description's webhooks).
    expect(await page.locator('.opblock').count()).toBe(operations.length + webhooks.length)
    expect(webhooks.length).toBeGreaterThan(0)
    // Swagger UI's element ids are operations-<tag>-<operationId>.
    for (const { tags, operationId } of operations) {
      expect(await page.locator(`#operations-${tags[0]}-${operationId}`).count(), operationId).toBe(
        1,
      )
    }
    await page.screenshot({ path: join(ARTIFACTS, 'docs.png') })
    // The static assets (public/_headers) are hardened like the Worker's own answers.
    expect(assets.length).toBeGreaterThanOrEqual(3)
    for (const headers of assets) {
      expect(headers['x-content-type-options']).toBe('nosniff')
      expect(headers['strict-transport-security']).toMatch(/^max-age=\d+/)
    }
    expect(foreign).toEqual([])
    expect(errors).toEqual([])
  })

  it('gets a token from POST /oauth/token through its own "Try it out"', async () => {
    const demo = portero.clients.find((c) => c.id === 'demo-client')
    if (!demo) throw new Error('npm start seeded no demo-client')
    const operation = page.locator('#operations-Tokens-issueToken')
    await operation.locator('.opblock-summary').click()
    await operation.getByRole('button', { name: 'Try it out' }).click()

    // The form-urlencoded body, one input per field (client_secret_post); empty fields are not
    // sent.
    const values: Record<string, string> = {
      grant_type: 'client_credentials',
      client_id: demo.id,
      client_secret: demo.secret,
    }
    const fields = operation.locator('.opblock-section-request-body tr[data-property-name]')
    await fields.first().waitFor()
    const names = await fields.evaluateAll((rows) =>
      rows.map((row) => row.getAttribute('data-property-name')!),
    )
    for (const name of names) {
      await operation
        .locator(`tr[data-property-name="${name}"] input[type=text]`)
        .fill(values[name] ?? '')
    }
    // Swagger UI ticks "Send empty value" on the fields emptied above; leave those out instead.
    for (const name of names.filter((n) => !values[n])) {
      await operation
        .locator(`tr[data-property-name="${name}"] input[type=checkbox]`)
        .setChecked(false)
    }
    await operation.getByRole('button', { name: 'Execute' }).click()

    // "Server response": one row, the status and the body as the page shows them.
    const answer = operation.locator('.live-responses-table tbody tr.response')
    expect(await answer.locator('.response-col_status').textContent()).toBe('200')
    expect(await operation.locator('.request-url pre').textContent()).toBe(
      `${portero.base}/oauth/token`,
    )
    // What the page sent, as its curl line shows it (the fields in any order).
    const curl = (await operation.locator('.curl-command').textContent()) ?? ''
    const sent = new URLSearchParams(/-d '([^']*)'/.exec(curl)?.[1] ?? '')
    expect(Object.fromEntries(sent)).toEqual(values)
    const shown = await answer
      .locator('.response-col_description pre.microlight')
      .first()
      .textContent()
    const body = JSON.parse(shown!) as { access_token: string; token_type: string }
    expect(body.access_token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(body.token_type).toBe('Bearer')

    // From the operation's title down to the server's answer (the static response list omitted).
    const from = (await operation.boundingBox())!
    const to = (await operation.locator('.live-responses-table').boundingBox())!
    const scrollY = await page.evaluate<number>('window.scrollY')
    await page.screenshot({
      path: join(ARTIFACTS, 'docs-token.png'),
      fullPage: true,
      clip: {
        x: from.x,
        y: from.y + scrollY,
        width: from.width,
        height: to.y + to.height - from.y,
      },
    })
    expect(foreign).toEqual([])
    expect(errors).toEqual([])
  })
})
