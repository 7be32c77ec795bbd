// The console's login locks page in headless Chromium against `npm start`: a client locked out by
// failed logins gets its token again once the operator lifts its locks, and an address that is not
// one is refused beside its field. Same checks as every console page (test/browser/console.ts).
/// <reference types="node" />
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededClient } from '../e2e/server.ts'
import { guardedPage, launchChromium, type GuardedPage } from './chromium.ts'
import { bearer, expectClean, field, go, portero, signIn, snapshot, tokenFor } from './console.ts'

const stamp = Date.now()
let browser: Browser
let wide: GuardedPage
let narrow: GuardedPage

beforeAll(async () => {
  browser = await launchChromium()
  wide = await guardedPage(browser, portero.base, { viewport: { width: 1440, height: 900 } })
  narrow = await guardedPage(browser, portero.base, { viewport: { width: 360, height: 780 } })
  const admin = seededClient('admin-client')
  for (const { page } of [wide, narrow]) {
    await signIn(page, admin.id, admin.secret)
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  }
})

afterAll(async () => {
  await browser?.close()
})

describe('/console login locks in Chromium', () => {
  it("lifts a client's login locks, and refuses what is not an address", async () => {
    const { page } = wide
    const admin = await bearer('admin-client')
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }
    const created = await fetch(`${portero.base}/admin/clients`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        id: `console-locked-${stamp}`,
        provider_id: '1001',
        name: `Console test: locked out ${stamp}`,
        allowed_scopes: ['services:send'],
      }),
    })
    expect(created.status).toBe(201)
    const locked = (await created.json()) as { client_id: string; client_secret: string }
    // SECURITY.md "Lockouts": over 10 failures a minute from one address locks the pair.
    for (let i = 0; i < 11; i++) await tokenFor(locked.client_id, 'not-the-secret')
    expect((await tokenFor(locked.client_id, locked.client_secret)).status).toBe(429)

    await go(page, '#/login-locks', 'Login locks')
    await field(page, 'Client id').fill(locked.client_id)
    await page.getByRole('button', { name: 'Lift client locks' }).click()
    await expect.poll(() => page.locator('#status').textContent()).toContain('lifted')
    expect((await tokenFor(locked.client_id, locked.client_secret)).status).toBe(200)

    await field(page, 'Address').fill('not-an-address')
    await page.getByRole('button', { name: 'Lift address lock' }).click()
    await expect.poll(() => field(page, 'Address').getAttribute('aria-invalid')).toBe('true')
    await field(page, 'Address').fill('192.0.2.7')
    await page.getByRole('button', { name: 'Lift address lock' }).click()
    await expect.poll(() => page.locator('#status').textContent()).toContain('192.0.2.7')
    await snapshot(wide, 'login-locks')

    await page.getByRole('link', { name: 'Failed logins in the audit log' }).click()
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor()
    expect(await field(page, 'Action').inputValue()).toBe('login.failed')
    await fetch(`${portero.base}/admin/clients/${locked.client_id}`, { method: 'DELETE', headers })
    expectClean(wide)
  })

  it('works at 360 px wide', async () => {
    await go(narrow.page, '#/login-locks', 'Login locks')
    await snapshot(narrow, 'login-locks')
    expectClean(narrow)
  })
})
