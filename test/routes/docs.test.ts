import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { call } from '../helpers/http.ts'

describe('GET /docs', () => {
  it('answers the HTML page with its own Content-Security-Policy', async () => {
    const response = await call('/docs')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/html; charset=UTF-8')
    const csp = response.headers.get('content-security-policy')
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/)
    expect(await response.text()).toContain('<div id="swagger-ui"></div>')
  })

  it('loads only same-origin files, every one of them a static asset', async () => {
    const page = await (await call('/docs')).text()
    expect(page).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/)
    const urls = [...page.matchAll(/\s(?:src|href)="([^"]+)"/g)].map(([, url]) => url!)
    expect(urls.length).toBeGreaterThan(3)
    for (const url of urls.filter((u) => u !== '/openapi.json')) {
      expect(url, url).toMatch(/^\/docs\//)
      // Missing after a fresh clone until scripts/docs-assets.ts runs (npm test runs it first).
      const asset = await env.ASSETS.fetch(new Request(`https://portero.test${url}`))
      expect(asset.status, url).toBe(200)
    }
  })
})

describe('GET /openapi.json', () => {
  it('is a static asset: Cloudflare serves it before the Worker, with its cache policy', async () => {
    // Missing after a fresh clone until scripts/docs-assets.ts runs (npm test runs it first).
    const asset = await env.ASSETS.fetch(new Request('https://portero.test/openapi.json'))
    expect(asset.status).toBe(200)
    expect(asset.headers.get('content-type')).toMatch(/^application\/json\b/)
    expect(asset.headers.get('cache-control')).toBe('public, max-age=300')
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff')
    expect(((await asset.json()) as { openapi: string }).openapi).toMatch(/^3\.1\./)
  })
})
