// Paging in the console's lists, in headless Chromium against `npm start`: forward with the API's
// cursors, back with the stack of cursors the page keeps, and to the first page again. A provider
// with 45 suppressed numbers gives three pages of 20. Same checks as every console page
// (test/browser/console.ts).
/// <reference types="node" />
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededClient } from '../e2e/server.ts'
import { guardedPage, launchChromium, type GuardedPage } from './chromium.ts'
import { bearer, expectClean, go, portero, signIn, snapshot } from './console.ts'

const stamp = Date.now()
const PROVIDER_ID = `8${String(stamp).slice(-8)}`
let browser: Browser
let wide: GuardedPage
let narrow: GuardedPage

beforeAll(async () => {
  const admin = await bearer('admin-client')
  const post = (path: string, body: unknown) =>
    fetch(`${portero.base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const provider = await post('/admin/providers', { id: PROVIDER_ID, name: `Paging ${stamp}` })
  expect(provider.status).toBe(201)
  for (let i = 0; i < 45; i++) {
    const phone = `+4477009${String(i).padStart(5, '0')}`
    expect((await post(`/admin/providers/${PROVIDER_ID}/suppressions`, { phone })).status).toBe(201)
  }
  browser = await launchChromium()
  wide = await guardedPage(browser, portero.base, { viewport: { width: 1440, height: 900 } })
  narrow = await guardedPage(browser, portero.base, { viewport: { width: 360, height: 780 } })
  const { id, secret } = seededClient('admin-client')
  for (const { page } of [wide, narrow]) {
    await signIn(page, id, secret)
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  }
})

afterAll(async () => {
  await browser?.close()
})

describe('/console paging in Chromium', () => {
  it('goes forward, back and to the first page of a list', async () => {
    const { page } = wide
    const button = (name: string) => page.getByRole('button', { name, exact: true })
    const firstPhone = async () => {
      await page.locator('table[aria-busy]').waitFor({ state: 'detached' })
      return page.locator('tbody tr th').first().textContent()
    }
    await go(page, `#/providers/${PROVIDER_ID}/suppressions`, 'Suppressions of provider')
    expect(await firstPhone()).toBe('+447700900000')
    expect(await button('Previous page').isVisible()).toBe(false)

    await button('Next page').click()
    expect(await firstPhone()).toBe('+447700900020')
    await page.getByText('Page 2').waitFor()
    await button('Next page').click()
    expect(await firstPhone()).toBe('+447700900040')
    expect(await page.locator('tbody tr').count()).toBe(5)
    expect(await button('Next page').isVisible()).toBe(false)
    await snapshot(wide, 'paging')

    await button('Previous page').click()
    expect(await firstPhone()).toBe('+447700900020')
    await button('Next page').click()
    expect(await firstPhone()).toBe('+447700900040')
    await button('First page').click()
    expect(await firstPhone()).toBe('+447700900000')
    expect(await button('Previous page').isVisible()).toBe(false)
    await button('Next page').click()
    await button('Previous page').click()
    expect(await firstPhone()).toBe('+447700900000')
    expectClean(wide)
  })

  it('fits 360 px with every paging button shown', async () => {
    const { page } = narrow
    await go(page, `#/providers/${PROVIDER_ID}/suppressions`, 'Suppressions of provider')
    for (let i = 0; i < 2; i++) {
      await page.locator('table[aria-busy]').waitFor({ state: 'detached' })
      await page.getByRole('button', { name: 'Next page' }).click()
    }
    await page.getByText('Page 3').waitFor()
    await page.getByRole('button', { name: 'First page' }).waitFor()
    await snapshot(narrow, 'paging')
    expectClean(narrow)
  })
})
