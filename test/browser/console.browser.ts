// The operator console (/console) in headless Chromium against `npm start`: an operator signs in
// with the seeded admin-client, onboards a provider (a client whose secret is shown once, a
// subscription whose service_token is shown once), follows the demo message to its end on its own
// page and finds what was done in the audit log. A provider's client cannot sign in, an expired
// token signs out, nothing is loaded from another origin, and axe-core finds no serious or critical
// violation on any page. Screenshots of every page at 360 and 1440 px go to test-artifacts/.
/// <reference types="node" />
import { generateKeyPairSync } from 'node:crypto'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient } from '../e2e/server.ts'
import { guardedPage, launchChromium, type GuardedPage } from './chromium.ts'
import {
  bearer,
  CONSOLE,
  expectClean,
  field,
  findRow,
  go,
  portero,
  signIn,
  snapshot,
  tokenFor,
} from './console.ts'
const stamp = Date.now()
const PROVIDER_ID = `9${String(stamp).slice(-8)}`
const CLIENT_ID = `console-${stamp}`
const SERVICE_ID = Number(String(stamp).slice(-9))

let browser: Browser
let wide: GuardedPage
let narrow: GuardedPage

beforeAll(async () => {
  browser = await launchChromium()
  wide = await guardedPage(browser, portero.base, { viewport: { width: 1440, height: 900 } })
  narrow = await guardedPage(browser, portero.base, { viewport: { width: 360, height: 780 } })
})

afterAll(async () => {
  await browser?.close()
})

describe('/console in Chromium', () => {
  it('is served from this origin under its own strict CSP', async () => {
    const { page } = wide
    const response = await page.goto(`${portero.base}/console`)
    expect(response?.status()).toBe(200)
    expect(new URL(page.url()).pathname).toBe('/console/')
    const csp = response?.headers()['content-security-policy'] ?? ''
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toContain('unsafe')
    expect(csp.split(',')).toHaveLength(1) // one policy, not /*'s appended to it
    expect(response?.headers()['x-content-type-options']).toBe('nosniff')
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor()
    await snapshot(wide, 'sign-in')
    expectClean(wide)
  })

  it("refuses a provider's client: only an operator client signs in", async () => {
    const { page } = wide
    const demo = seededClient('demo-client')
    await signIn(page, demo.id, demo.secret)
    await expect
      .poll(() => page.locator('.form-error').textContent())
      .toContain('cannot sign in to the console')
    expect(await page.getByRole('navigation').isVisible()).toBe(false)
    await field(page, 'Client id').fill(demo.id)
    await field(page, 'Client secret').fill('not-the-secret')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.locator('.form-error').textContent()).toContain('Wrong client')
    expectClean(wide)
  })

  it('signs in, creates a provider and a client, and shows the secret once', async () => {
    const { page } = wide
    const admin = seededClient('admin-client')
    await signIn(page, admin.id, admin.secret)
    // The console opens on the overview.
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
    await expect.poll(() => page.locator('#who').textContent()).toContain('admin-client')
    await go(page, '#/providers', 'Providers')

    // A field error from the API, next to its field.
    await page.getByRole('button', { name: 'Create provider' }).click()
    const nameField = field(page, 'Name')
    await expect.poll(() => nameField.getAttribute('aria-invalid')).toBe('true')
    const nameError = page.locator('.field-error:not([hidden])')
    expect(await nameError.textContent()).toContain('name')

    await field(page, 'Id').fill(PROVIDER_ID)
    await field(page, 'Name').fill(`Console test ${stamp}`)
    await page.getByRole('button', { name: 'Create provider' }).click()
    await expect.poll(() => page.locator('#status').textContent()).toContain(PROVIDER_ID)
    await findRow(page, PROVIDER_ID)
    // Disable and enable it again from its row.
    await page.getByRole('button', { name: `Disable provider ${PROVIDER_ID}` }).click()
    await findRow(page, PROVIDER_ID)
    await page.getByRole('button', { name: `Enable provider ${PROVIDER_ID}` }).click()
    await findRow(page, PROVIDER_ID)
    await page.getByRole('button', { name: `Disable provider ${PROVIDER_ID}` }).waitFor()
    await snapshot(wide, 'providers')

    await go(page, `#/providers/${PROVIDER_ID}/clients`, `Clients of provider ${PROVIDER_ID}`)
    await field(page, 'Client id').fill(CLIENT_ID)
    await field(page, 'Name').fill('Console test backend')
    await field(page, 'services:send').check()
    await page.getByRole('button', { name: 'Create client' }).click()
    const secret = (await page.locator('.once code.secret').textContent())!
    expect(secret.length).toBeGreaterThanOrEqual(32)
    expect((await tokenFor(CLIENT_ID, secret)).status).toBe(200)
    // The copy button puts it on the clipboard.
    await wide.context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: portero.base,
    })
    await page.getByRole('button', { name: 'Copy' }).click()
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(secret)
    await page.getByRole('row', { name: new RegExp(CLIENT_ID) }).waitFor()
    await snapshot(wide, 'clients')

    // The view again: the list, never the secret.
    await go(page, '#/providers', 'Providers')
    await go(page, `#/providers/${PROVIDER_ID}/clients`, `Clients of provider ${PROVIDER_ID}`)
    await page.getByRole('row', { name: new RegExp(CLIENT_ID) }).waitFor()
    expect(await page.getByText(secret).count()).toBe(0)
    expect(await page.content()).not.toContain(secret)

    // Rotation with overlap: the new secret once, the old one still valid for the grace period.
    const row = page.getByRole('row', { name: new RegExp(CLIENT_ID) })
    await row.getByText('Rotate or change scopes').click()
    await row.getByRole('button', { name: `Rotate secret of ${CLIENT_ID}` }).click()
    const rotated = (await page.locator('.once code.secret').textContent())!
    expect(rotated).not.toBe(secret)
    expect((await tokenFor(CLIENT_ID, rotated)).status).toBe(200)
    expect((await tokenFor(CLIENT_ID, secret)).status).toBe(200)
    await page.getByRole('button', { name: 'I have saved it: hide' }).click()
    expect(await page.getByText(rotated).count()).toBe(0)
    expectClean(wide)
  })

  it('shows a sandbox provider, and that its clients are in the sandbox', async () => {
    const { page } = wide
    const admin = seededClient('admin-client')
    const { access_token: token } = (await (await tokenFor(admin.id, admin.secret)).json()) as {
      access_token: string
    }
    const id = `8${String(stamp).slice(-8)}`
    const created = await fetch(`${portero.base}/admin/providers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, name: `Sandbox test ${stamp}`, sandbox: true }),
    })
    expect(created.status).toBe(201)
    await go(page, '#/providers', 'Providers')
    const row = await findRow(page, id)
    expect(await row.textContent()).toContain('sandbox')
    await go(page, `#/providers/${id}/clients`, `Clients of provider ${id}`)
    await page.getByText('These clients are in the sandbox').waitFor()
    await snapshot(wide, 'sandbox-clients')
    expectClean(wide)
  })

  it("registers, rotates and removes a client's public keys", async () => {
    const { page } = wide
    const jwk = (kid: string) => ({
      ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
      kid,
    })
    await go(page, `#/providers/${PROVIDER_ID}/clients`, `Clients of provider ${PROVIDER_ID}`)
    await page.getByRole('link', { name: `Keys of ${CLIENT_ID}` }).click()
    await page.getByRole('heading', { level: 1, name: `Keys of client ${CLIENT_ID}` }).waitFor()
    await page.getByText('No keys').waitFor()

    await field(page, 'Keys to add').fill('{ not json')
    await page.getByRole('button', { name: 'Register keys' }).click()
    await expect.poll(() => field(page, 'Keys to add').getAttribute('aria-invalid')).toBe('true')
    await field(page, 'Keys to add').fill(JSON.stringify({ keys: [jwk('k1'), jwk('k2')] }))
    await page.getByRole('button', { name: 'Register keys' }).click()
    await page.getByRole('row', { name: /k2/ }).waitFor()
    await page.getByRole('button', { name: 'Remove key k2' }).click()
    await expect.poll(() => page.getByRole('row', { name: /k2/ }).count()).toBe(0)

    await field(page, 'New keys').fill(JSON.stringify(jwk('k3')))
    await page.getByLabel(/^Keys held now keep working for/).fill('3600')
    await page.getByRole('button', { name: 'Rotate keys' }).click()
    await page.getByRole('row', { name: /k3/ }).waitFor()
    // k1 keeps working for the overlap: the list says until when.
    await expect
      .poll(() => page.getByRole('row', { name: /k1/ }).locator('time').count())
      .toBeGreaterThan(1)
    await snapshot(wide, 'client-keys')
    const admin = await bearer('admin-client')
    const held = (await (
      await fetch(`${portero.base}/admin/clients/${CLIENT_ID}/keys`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as { keys: { kid: string; expires_at: string | null }[] }
    expect(held.keys.map((k) => [k.kid, k.expires_at === null])).toEqual([
      ['k1', false],
      ['k3', true],
    ])
    expectClean(wide)
  })

  it("trusts and stops trusting a CI platform's issuer for a client", async () => {
    const { page } = wide
    const issuer = `${portero.standIn}/issuers/console-${crypto.randomUUID()}`
    await go(page, `#/providers/${PROVIDER_ID}/clients`, `Clients of provider ${PROVIDER_ID}`)
    await page.getByRole('link', { name: `Trusted issuers of ${CLIENT_ID}` }).click()
    await page
      .getByRole('heading', { level: 1, name: `Trusted issuers of client ${CLIENT_ID}` })
      .waitFor()
    await page.getByText('No trusted issuer').waitFor()

    await field(page, 'Issuer').fill(issuer)
    await field(page, 'Subject').fill('repo:example-org/deployer:ref:refs/heads/*')
    await page.getByLabel('Subject is').selectOption('pattern')
    await field(page, 'Required claims').fill('{ not json')
    await page.getByRole('button', { name: 'Trust issuer' }).click()
    await expect
      .poll(() => field(page, 'Required claims').getAttribute('aria-invalid'))
      .toBe('true')
    await field(page, 'Required claims').fill('{"repository_owner": "example-org"}')
    await page.getByRole('button', { name: 'Trust issuer' }).click()
    await page.getByRole('row', { name: /refs\/heads\/\* \(pattern\)/ }).waitFor()
    await snapshot(wide, 'client-issuers')
    const admin = await bearer('admin-client')
    const read = async () =>
      (await (
        await fetch(`${portero.base}/admin/clients/${CLIENT_ID}/issuers`, {
          headers: { authorization: `Bearer ${admin}` },
        })
      ).json()) as { issuers: { issuer: string; subject_pattern: string; claims: object }[] }
    expect((await read()).issuers).toMatchObject([
      {
        issuer,
        subject_pattern: 'repo:example-org/deployer:ref:refs/heads/*',
        claims: { repository_owner: 'example-org' },
      },
    ])
    await page.getByRole('button', { name: `Remove trust in ${issuer} for` }).click()
    await page.getByText('No trusted issuer').waitFor()
    expect((await read()).issuers).toEqual([])
    expectClean(wide)
  })

  it('creates a service and a subscription, and shows the service_token once', async () => {
    const { page } = wide
    await go(page, '#/services', 'Services')
    await field(page, 'Id').fill(String(SERVICE_ID))
    await field(page, 'Name').fill(`Console service ${stamp}`)
    await page.getByRole('button', { name: 'Create service' }).click()
    await findRow(page, `Console service ${stamp}`)
    await snapshot(wide, 'services')

    await go(page, `#/providers/${PROVIDER_ID}/subscriptions`, `Subscriptions of provider`)
    await field(page, 'Service').selectOption(String(SERVICE_ID))
    await page.getByRole('button', { name: 'Subscribe' }).click()
    const token = (await page.locator('.once code.secret').textContent())!
    expect(token.length).toBeGreaterThan(16)
    await page.getByRole('row', { name: new RegExp(String(SERVICE_ID)) }).waitFor()
    await snapshot(wide, 'subscriptions')
    await go(page, '#/services', 'Services')
    await go(page, `#/providers/${PROVIDER_ID}/subscriptions`, `Subscriptions of provider`)
    await page.getByRole('row', { name: new RegExp(String(SERVICE_ID)) }).waitFor()
    expect(await page.content()).not.toContain(token)
    expectClean(wide)
  })

  it("rotates a subscription's service_token, shown once, and edits the service", async () => {
    const { page } = wide
    const admin = await bearer('admin-client')
    const read = async (path: string) =>
      (await fetch(`${portero.base}${path}`, {
        headers: { authorization: `Bearer ${admin}` },
      }).then((r) => r.json())) as Record<string, unknown>
    const tokenOf = async () =>
      (
        (await read(`/admin/providers/${PROVIDER_ID}/subscriptions`)).items as {
          service_id: number
          service_token: string
        }[]
      ).find((s) => s.service_id === SERVICE_ID)!.service_token
    const before = await tokenOf()

    await go(page, '#/services', 'Services')
    await go(page, `#/providers/${PROVIDER_ID}/subscriptions`, `Subscriptions of provider`)
    await page
      .getByRole('button', { name: `Rotate service_token for service ${SERVICE_ID}` })
      .click()
    const rotated = (await page.locator('.once code.secret').textContent())!
    expect(rotated).not.toBe(before)
    expect(await tokenOf()).toBe(rotated)
    await go(page, '#/services', 'Services')
    await go(page, `#/providers/${PROVIDER_ID}/subscriptions`, `Subscriptions of provider`)
    await page.getByRole('row', { name: new RegExp(String(SERVICE_ID)) }).waitFor()
    expect(await page.content()).not.toContain(rotated)

    await go(page, '#/services', 'Services')
    const row = await findRow(page, `Console service ${stamp}`)
    await row.getByText('Edit').click()
    // An empty name: the API's field error, beside the field.
    await row.getByLabel(`Name of service ${SERVICE_ID}`).fill('')
    await row.getByRole('button', { name: `Save service ${SERVICE_ID}` }).click()
    await expect
      .poll(() => row.getByLabel(`Name of service ${SERVICE_ID}`).getAttribute('aria-invalid'))
      .toBe('true')
    await row.getByLabel(`Name of service ${SERVICE_ID}`).fill(`Console service ${stamp} v2`)
    await row.getByLabel('fcm', { exact: true }).check()
    await row.getByLabel(/^Direct numbers/).selectOption('true')
    await row.getByLabel('Country codes of direct numbers').fill('54, 52')
    await row.getByRole('button', { name: `Save service ${SERVICE_ID}` }).click()
    await findRow(page, `Console service ${stamp} v2`)
    await snapshot(wide, 'services')
    const service = await read(`/admin/services/${SERVICE_ID}`)
    expect(service).toMatchObject({
      name: `Console service ${stamp} v2`,
      allowed_channels: ['sms', 'fcm'],
      direct_numbers: true,
      direct_number_country_codes: ['54', '52'],
      enabled: true,
    })
    expectClean(wide)
  })

  it("lists the demo provider's recipients, read only", async () => {
    const { page } = wide
    await go(page, '#/providers/1001/recipients', 'Recipients of provider 1001')
    await page.getByRole('row', { name: new RegExp(portero.userId) }).waitFor()
    expect(await page.locator('main form').count()).toBe(0)
    await snapshot(wide, 'recipients')
    expectClean(wide)
  })

  it("suppresses numbers for a provider and lifts an operator's suppression", async () => {
    const { page } = wide
    const kept = `+54911${String(stamp).slice(-8)}`
    const lifted = `+54911${String(stamp + 1).slice(-8)}`
    await go(page, `#/providers/${PROVIDER_ID}/suppressions`, 'Suppressions of provider')
    // Not a number: the API's field error beside the field.
    await field(page, 'Phone').fill('not-a-number')
    await page.getByRole('button', { name: 'Suppress number' }).click()
    await expect.poll(() => field(page, 'Phone').getAttribute('aria-invalid')).toBe('true')
    for (const phone of [kept, lifted]) {
      await field(page, 'Phone').fill(phone)
      await page.getByRole('button', { name: 'Suppress number' }).click()
      await findRow(page, phone.replace('+', '\\+'))
    }
    await page.getByRole('button', { name: `Lift the suppression of ${lifted}` }).click()
    await expect.poll(() => page.getByRole('row', { name: lifted.slice(1) }).count()).toBe(0)
    await page.getByRole('row', { name: kept.slice(1) }).waitFor()
    await snapshot(wide, 'suppressions')
    // /Services would refuse it: the API lists it still.
    const admin = await bearer('admin-client')
    const listed = await fetch(`${portero.base}/admin/providers/${PROVIDER_ID}/suppressions`, {
      headers: { authorization: `Bearer ${admin}` },
    })
    const phones = ((await listed.json()) as { items: { phone: string }[] }).items.map(
      (s) => s.phone,
    )
    expect(phones).toContain(kept)
    expect(phones).not.toContain(lifted)
    expectClean(wide)
  })

  it('follows the demo message to its end on its own page', async () => {
    const { page } = wide
    const token = await bearer('demo-client')
    const sent = await fetch(`${portero.base}/Services`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        provider_id: 1001,
        service_token: readCredentials().serviceToken,
        service_id: portero.serviceId,
        parameters: {
          destination: portero.userId,
          notification: { title: 'Turno', message: 'Oftalmólogo lunes 9:15', channel: 'SMS' },
        },
      }),
    })
    expect(sent.status).toBe(201)
    const { id } = (await sent.json()) as { id: string }

    await go(page, '#/messages', 'Messages')
    await field(page, 'Provider id').fill('1001')
    await field(page, 'Status').selectOption('')
    // The index hears of a message from its send shard's alarm, a moment after it was accepted.
    const found = page.getByRole('link', { name: id })
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Search' }).click()
          await page.locator('table[aria-busy]').waitFor({ state: 'detached' })
          return found.isVisible()
        },
        { timeout: 15_000, interval: 300 },
      )
      .toBe(true)
    await found.click()
    await page.getByRole('heading', { level: 1, name: `Message ${id}` }).waitFor()
    // The page looks again by itself until the receipt arrives.
    const status = page.locator('.facts dd .badge').first()
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toBe('delivered')
    const timeline = page.locator('.timeline li .badge')
    expect(await timeline.allTextContents()).toEqual(['queued', 'sending', 'sent', 'delivered'])
    await snapshot(wide, 'message')
    await go(page, '#/messages', 'Messages')
    await page.getByRole('link', { name: id }).waitFor()
    await snapshot(wide, 'messages')
    expectClean(wide)
  })

  it('finds what the operator did in the audit log', async () => {
    const { page } = wide
    await go(page, '#/audit', 'Audit log')
    await field(page, 'Actor').fill('admin-client')
    await field(page, 'Target').fill(CLIENT_ID)
    const rows = page.locator('tbody tr')
    // Admin changes are written right after their response.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Search' }).click()
          await page.locator('table[aria-busy]').waitFor({ state: 'detached' })
          const text = (await rows.allTextContents()).join('\n')
          return ['client.create', 'client.rotate_secret'].filter((a) => text.includes(a))
        },
        { timeout: 15_000 },
      )
      .toEqual(['client.create', 'client.rotate_secret'])
    await field(page, 'Target').fill(PROVIDER_ID)
    await field(page, 'Action').fill('provider.create')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('row', { name: /provider\.create/ }).waitFor()
    await snapshot(wide, 'audit')
    expectClean(wide)
  })

  it('works at 360 px wide', async () => {
    const { page } = narrow
    await page.goto(CONSOLE)
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor()
    await snapshot(narrow, 'sign-in')
    const admin = seededClient('admin-client')
    await signIn(page, admin.id, admin.secret)
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
    await go(page, '#/providers', 'Providers')
    await page.locator('tbody tr').first().waitFor()
    await snapshot(narrow, 'providers')
    const pages: [string, string, string][] = [
      [`#/providers/${PROVIDER_ID}/clients`, 'Clients of provider', 'clients'],
      [`#/clients/${CLIENT_ID}/keys`, 'Keys of client', 'client-keys'],
      ['#/services', 'Services', 'services'],
      [`#/providers/${PROVIDER_ID}/subscriptions`, 'Subscriptions of provider', 'subscriptions'],
      ['#/providers/1001/recipients', 'Recipients of provider', 'recipients'],
      [`#/providers/${PROVIDER_ID}/suppressions`, 'Suppressions of provider', 'suppressions'],
      ['#/messages', 'Messages', 'messages'],
      ['#/audit', 'Audit log', 'audit'],
    ]
    for (const [hash, heading, name] of pages) {
      await go(page, hash, heading)
      await page.locator('tbody tr').first().waitFor()
      await snapshot(narrow, name)
    }
    await go(page, '#/messages', 'Messages')
    await page.locator('tbody tr a').first().click()
    await page.locator('.timeline').first().waitFor()
    await snapshot(narrow, 'message')
    // Keyboard: the first control after the heading is reachable with Tab, and shows its focus.
    await page.keyboard.press('Tab')
    const outline = await page.evaluate<string>(
      'getComputedStyle(document.activeElement).outlineStyle',
    )
    expect(outline).not.toBe('none')
    expectClean(narrow)
  })

  it('signs out when the token expires', async () => {
    const { page, context } = narrow
    // An operator client whose tokens live 60 s, the shortest lifetime a client may have.
    const admin = await bearer('admin-client')
    const created = await fetch(`${portero.base}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: `console-short-${stamp}`,
        provider_id: null,
        name: 'Console test: short-lived tokens',
        allowed_scopes: ['admin'],
        token_lifetime: 60,
      }),
    })
    expect(created.status).toBe(201)
    const short = (await created.json()) as { client_id: string; client_secret: string }
    await context.clock.install()
    await signIn(page, short.client_id, short.client_secret)
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor()
    await context.clock.fastForward('01:01')
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor()
    await expect.poll(() => page.locator('.notice').textContent()).toContain('expired')
    expect(await page.getByRole('navigation').isVisible()).toBe(false)
    // Nothing of the session is kept anywhere the browser would keep it.
    const kept = await page.evaluate<Record<string, unknown>>(
      '({ local: localStorage.length, session: sessionStorage.length, ' +
        'cookie: document.cookie, url: location.href })',
    )
    expect(kept).toEqual({ local: 0, session: 0, cookie: '', url: expect.not.stringMatching(/ey/) })
    await fetch(`${portero.base}/admin/clients/${short.client_id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    })
    expectClean(narrow)
  })
})
