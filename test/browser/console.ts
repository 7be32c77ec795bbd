// What the console's browser tests share: signing in, finding fields, rows and pages, and each
// page's check (no console error, no foreign request, axe-core with no serious or critical
// violation, a screenshot in test-artifacts/, no sideways scrolling).
/// <reference types="node" />
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { expect, inject } from 'vitest'
import { seededClient } from '../e2e/server.ts'
import { ARTIFACTS, type GuardedPage } from './chromium.ts'

export const portero = inject('portero')
export const CONSOLE = `${portero.base}/console/`
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** Chromium logs every 4xx answer to fetch; the console shows those itself. Anything else counts. */
const unexpected = (errors: string[]) =>
  errors.filter(
    (e) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(e),
  )

export function expectClean(p: GuardedPage) {
  expect(p.foreign).toEqual([])
  expect(unexpected(p.errors)).toEqual([])
}

export async function tokenFor(id: string, secret: string, scope?: string): Promise<Response> {
  return fetch(`${portero.base}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${id}:${secret}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: `grant_type=client_credentials${scope ? `&scope=${scope}` : ''}`,
  })
}

export async function bearer(id: string, scope?: string): Promise<string> {
  const { secret } = seededClient(id)
  const answer = (await (await tokenFor(id, secret, scope)).json()) as { access_token: string }
  return answer.access_token
}

/** axe-core, evaluated in the page by the DevTools protocol (the page's CSP allows no injection). */
async function axeCheck(page: Page, name: string) {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(AXE)
  // A string, evaluated as is: the test's TypeScript knows no DOM.
  const violations = await page.evaluate<string[]>(`(async () => {
    const results = await window.axe.run(document, { resultTypes: ['violations'] })
    return results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '))
  })()`)
  expect(violations, name).toEqual([])
}

/** The page's accessibility check and its screenshot at this width. */
export async function snapshot(p: GuardedPage, name: string) {
  await p.page
    .locator('[aria-busy]')
    .first()
    .waitFor({ state: 'detached' })
    .catch(() => {})
  await axeCheck(p.page, name)
  const width = p.page.viewportSize()!.width
  await p.page.screenshot({ path: join(ARTIFACTS, `console-${name}-${width}.png`), fullPage: true })
  // Only a table may be wider than the screen, and it scrolls inside its own box.
  const overflow = await p.page.evaluate<number>(
    'document.documentElement.scrollWidth - document.documentElement.clientWidth',
  )
  expect(overflow, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0)
}

export async function signIn(page: Page, id: string, secret: string) {
  await page.goto(CONSOLE)
  await field(page, 'Client id').fill(id)
  await field(page, 'Client secret').fill(secret)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** The control labelled `label`, marked "(optional)" or not. */
export const field = (page: Page, label: string) =>
  page.getByLabel(new RegExp(`^${label}( \\(optional\\))?$`))

/** The row naming `text`, following "Next page" until it shows (lists are ordered by id). */
export async function findRow(page: Page, text: string) {
  const row = page.getByRole('row', { name: new RegExp(text) })
  const next = page.getByRole('button', { name: 'Next page' })
  await page.locator('table[aria-busy]').waitFor({ state: 'detached' })
  while (!(await row.isVisible()) && (await next.isVisible())) {
    await next.click()
    await page.locator('table[aria-busy]').waitFor({ state: 'detached' })
  }
  await row.waitFor()
  return row
}

export async function go(page: Page, hash: string, heading: string) {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`)
  await page.getByRole('heading', { level: 1, name: heading }).waitFor()
}
