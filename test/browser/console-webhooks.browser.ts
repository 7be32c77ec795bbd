// The console's webhook pages in headless Chromium against `npm start`: an endpoint the demo
// provider registers through POST /webhooks shows on its provider's page, and a message sent to
// it leaves events and attempts the endpoint's page lists, where an event can be sent again; no
// secret is ever on the page. Same checks as
// every console page (test/browser/console.ts).
/// <reference types="node" />
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient } from '../e2e/server.ts'
import { guardedPage, launchChromium, type GuardedPage } from './chromium.ts'
import { bearer, expectClean, findRow, go, portero, signIn, snapshot } from './console.ts'

const PROVIDER_ID = '1001'
const RECEIVER = `console-${Date.now()}`
let browser: Browser
let wide: GuardedPage
let narrow: GuardedPage
let provider: string
let endpoint: { id: string; secret: string; url: string }

const asProvider = (path: string, init: { method?: string; body?: unknown } = {}) =>
  fetch(`${portero.base}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${provider}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })

beforeAll(async () => {
  provider = await bearer('demo-client')
  const url = `${portero.standIn}/webhooks/receiver/${RECEIVER}`
  const registered = await asProvider('/webhooks', {
    method: 'POST',
    body: { url, event_types: ['message.sent', 'message.delivered'] },
  })
  expect(registered.status).toBe(201)
  endpoint = { ...((await registered.json()) as { id: string; secret: string }), url }
  // The receiver verifies as a provider's would, and answers 2xx: it is told the secret.
  await fetch(`${portero.standIn}/_control/webhooks/${RECEIVER}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secrets: [endpoint.secret] }),
  })

  browser = await launchChromium()
  wide = await guardedPage(browser, portero.base, { viewport: { width: 1440, height: 900 } })
  narrow = await guardedPage(browser, portero.base, { viewport: { width: 360, height: 780 } })
  const admin = seededClient('admin-client')
  for (const { page } of [wide, narrow]) {
    await signIn(page, admin.id, admin.secret)
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
  }
})

// The local database outlives the run: the endpoint goes with it (a provider may have 10).
afterAll(async () => {
  if (endpoint) await asProvider(`/webhooks/${endpoint.id}`, { method: 'DELETE' })
  await browser?.close()
})

describe('/console webhooks in Chromium', () => {
  it("shows a provider's endpoint and its attempts, never its secret", async () => {
    const { page } = wide
    const sent = await asProvider('/Services', {
      method: 'POST',
      body: {
        provider_id: Number(PROVIDER_ID),
        service_token: readCredentials().serviceToken,
        service_id: portero.serviceId,
        parameters: {
          destination: portero.userId,
          notification: { title: 'Turno', message: 'Kinesiología martes 10:30', channel: 'SMS' },
        },
      },
    })
    expect(sent.status).toBe(201)
    // Events leave through the queue: wait for this endpoint's first attempt.
    const admin = await bearer('admin-client')
    const attemptsPath = `/admin/providers/${PROVIDER_ID}/webhooks/${endpoint.id}/attempts`
    await expect
      .poll(
        async () => {
          const answer = await fetch(`${portero.base}${attemptsPath}`, {
            headers: { authorization: `Bearer ${admin}` },
          })
          return ((await answer.json()) as { items: unknown[] }).items.length
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBeGreaterThan(0)

    await go(page, '#/providers', 'Providers')
    const providerRow = await findRow(page, `^${PROVIDER_ID}\\s`)
    await providerRow.getByRole('link', { name: 'Webhooks' }).click()
    await page
      .getByRole('heading', { level: 1, name: `Webhook endpoints of provider ${PROVIDER_ID}` })
      .waitFor()
    const row = await findRow(page, RECEIVER)
    expect(await row.textContent()).toContain('message.sent, message.delivered')
    expect(await row.locator('.badge').textContent()).toBe('enabled')
    await snapshot(wide, 'webhooks')

    await row.getByRole('link', { name: `Events and attempts of ${endpoint.url}` }).click()
    await page.getByRole('heading', { level: 1, name: `Webhook endpoint ${endpoint.id}` }).waitFor()
    const attempts = page.getByRole('table', { name: 'Recent attempts, newest first' })
    await attempts
      .getByRole('row', { name: /message\.(sent|delivered)/ })
      .first()
      .waitFor()
    await expect
      .poll(() => page.getByText('No dead events.').isVisible(), { timeout: 5_000 })
      .toBe(true)
    await snapshot(wide, 'webhook-endpoint')

    // An event sent again on the provider's behalf reaches the receiver a second time.
    const events = page.getByRole('table', { name: 'Recent events, newest first' })
    const first = events.getByRole('row', { name: /succeeded/ }).first()
    const eventId = (await first.textContent())!.match(/msg_[0-9a-f]{32}/)![0]
    await first.getByRole('button', { name: `Send again the event ${eventId}` }).click()
    await page.getByText(`Event ${eventId} will be sent again.`).waitFor()
    await expect
      .poll(
        async () => {
          const answer = await fetch(`${portero.standIn}/_control/webhooks/${RECEIVER}`)
          const { received } = (await answer.json()) as { received: { id: string }[] }
          return received.filter((r) => r.id === eventId).length
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe(2)
    expect(await page.content()).not.toContain(endpoint.secret.slice(6))
    expectClean(wide)
  }, 60_000)

  it('works at 360 px wide', async () => {
    const { page } = narrow
    await go(
      page,
      `#/providers/${PROVIDER_ID}/webhooks`,
      `Webhook endpoints of provider ${PROVIDER_ID}`,
    )
    await findRow(page, RECEIVER)
    await snapshot(narrow, 'webhooks')
    await go(
      page,
      `#/providers/${PROVIDER_ID}/webhooks/${endpoint.id}`,
      `Webhook endpoint ${endpoint.id}`,
    )
    await snapshot(narrow, 'webhook-endpoint')
    expectClean(narrow)
  })
})
