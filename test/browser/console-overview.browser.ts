// The console's overview in headless Chromium against `npm start`: a provider of this run's own
// sends 3 SMS, of which the stand-in delivers 2 and reports 1 undelivered (error 30003), and the
// overview the console opens on shows those counts, in its totals and in the tables behind its
// charts. Same checks as every console page (test/browser/console.ts), at 360 and 1440 px.
/// <reference types="node" />
import { setTimeout as sleep } from 'node:timers/promises'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seededClient } from '../e2e/server.ts'
import { guardedPage, launchChromium, type GuardedPage } from './chromium.ts'
import { bearer, expectClean, field, go, portero, signIn, snapshot, tokenFor } from './console.ts'

const stamp = Date.now()
const PROVIDER_ID = `8${String(stamp).slice(-8)}`
let browser: Browser
let wide: GuardedPage
let narrow: GuardedPage

async function call(token: string, path: string, body?: unknown) {
  const response = await fetch(`${portero.base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  expect(response.status, path).toBeLessThan(300)
  return (await response.json()) as Record<string, unknown>
}

/** A provider with a sending client and a subscription to the demo service; its token. */
async function onboard(): Promise<{ token: string; serviceToken: string }> {
  const admin = await bearer('admin-client')
  await call(admin, '/admin/providers', { id: PROVIDER_ID, name: `Overview test ${stamp}` })
  const client = await call(admin, '/admin/clients', {
    id: `overview-${stamp}`,
    provider_id: PROVIDER_ID,
    name: 'Overview test backend',
    allowed_scopes: ['services:send', 'recipients:manage'],
  })
  const subscription = await call(admin, `/admin/providers/${PROVIDER_ID}/subscriptions`, {
    service_id: portero.serviceId,
  })
  const answer = await tokenFor(String(client.client_id), String(client.client_secret))
  const { access_token } = (await answer.json()) as { access_token: string }
  return { token: access_token, serviceToken: String(subscription.service_token) }
}

/** Sends one SMS to a new recipient of the provider; its message id. */
async function send(sender: { token: string; serviceToken: string }, undeliverable: boolean) {
  const phone = `+5491177${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`
  const userId = `overview-${crypto.randomUUID()}`
  await call(sender.token, '/recipients', { user_id: userId, phone })
  if (undeliverable) {
    const marked = await fetch(`${portero.standIn}/_control/undeliverable`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: phone, errorCode: 30003 }),
    })
    expect(marked.status).toBe(201)
  }
  const message = await call(sender.token, '/Services', {
    provider_id: PROVIDER_ID,
    service_token: sender.serviceToken,
    service_id: portero.serviceId,
    parameters: {
      destination: userId,
      notification: { title: 'Turno', message: 'Lunes 9:15', channel: 'SMS' },
    },
  })
  return String(message.id)
}

/** Waits until each message has its final status; the statuses, in order. */
async function settled(token: string, ids: string[]): Promise<string[]> {
  for (let i = 0; i < 80; i++) {
    const statuses = await Promise.all(
      ids.map(async (id) => String((await call(token, `/Services/messages/${id}`)).status)),
    )
    if (statuses.every((s) => s === 'delivered' || s === 'undelivered')) return statuses
    await sleep(250)
  }
  throw new Error('the messages did not settle')
}

/** The overview's totals as the page shows them: each term and its value. */
async function totals(page: Page): Promise<Record<string, string>> {
  const terms = await page.locator('.facts dt').allTextContents()
  const values = await page.locator('.facts dd').allTextContents()
  return Object.fromEntries(terms.map((t, i) => [t, values[i]!]))
}

async function showProvider(page: Page) {
  await field(page, 'Range').selectOption('hour')
  await field(page, 'Provider id').fill(PROVIDER_ID)
  await page.getByRole('button', { name: 'Show' }).click()
  await page
    .getByRole('heading', { level: 2, name: `Last hour, provider ${PROVIDER_ID}` })
    .waitFor()
}

beforeAll(async () => {
  const sender = await onboard()
  const ids = [await send(sender, false), await send(sender, false), await send(sender, true)]
  expect(await settled(sender.token, ids)).toEqual(['delivered', 'delivered', 'undelivered'])
  browser = await launchChromium()
  wide = await guardedPage(browser, portero.base, { viewport: { width: 1440, height: 900 } })
  narrow = await guardedPage(browser, portero.base, { viewport: { width: 360, height: 780 } })
})

afterAll(async () => {
  await browser?.close()
})

describe('/console overview in Chromium', () => {
  it('opens on the overview and counts what was sent: 3 accepted, 2 delivered, 1 undelivered', async () => {
    const { page } = wide
    const admin = seededClient('admin-client')
    await signIn(page, admin.id, admin.secret)
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
    await page.getByRole('heading', { level: 2, name: /^Last day, every provider$/ }).waitFor()
    // The shard hands its counts to D1 a moment after each change.
    await expect
      .poll(
        async () => {
          await showProvider(page)
          return totals(page)
        },
        { timeout: 20_000, interval: 500 },
      )
      .toMatchObject({
        Accepted: '3',
        Delivered: '2',
        Undelivered: '1',
        Failed: '0',
        Dead: '0',
        // The one token its client was issued, counted from the audit log.
        'Tokens issued': '1',
      })
    expect((await totals(page))['Latency p50']).toMatch(/^≤ \d+ s$/)
    // The error code, and the same numbers in the table behind the chart.
    await page.getByRole('row', { name: /30003\s+1/ }).waitFor()
    await page.getByText('Messages: the numbers per hour').click()
    const table = page.getByRole('table', { name: 'Messages, per hour' })
    // Two hours (the one before and the one in progress): summed, in case the hour turned.
    const cells = await Promise.all(
      (await table.locator('tbody tr').all()).map((row) => row.locator('td').allTextContents()),
    )
    expect(cells).toHaveLength(2)
    const sum = (column: number) => cells.reduce((n, row) => n + Number(row[column]), 0)
    expect([sum(0), sum(1), sum(2)]).toEqual([3, 2, 1])
    await snapshot(wide, 'overview')
    // Every range of every provider draws too.
    for (const range of ['day', 'week']) {
      await field(page, 'Range').selectOption(range)
      await field(page, 'Provider id').fill('')
      await page.getByRole('button', { name: 'Show' }).click()
      await page.getByRole('heading', { level: 2, name: /every provider$/ }).waitFor()
      await page.getByRole('heading', { level: 2, name: new RegExp(`^Last ${range}`) }).waitFor()
    }
    expectClean(wide)
  })

  it('works at 360 px wide', async () => {
    const { page } = narrow
    const admin = seededClient('admin-client')
    await signIn(page, admin.id, admin.secret)
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
    await showProvider(page)
    await expect.poll(() => totals(page)).toMatchObject({ Accepted: '3' })
    await snapshot(narrow, 'overview')
    await go(page, '#/providers', 'Providers')
    await go(page, '#/overview', 'Overview')
    expectClean(narrow)
  })
})
