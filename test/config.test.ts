import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { loadConfig, loadMessageRetentionDays, loadSendQuotas } from '../src/config.ts'

const withResource = (API_RESOURCE: string): Env => ({ ...env, API_RESOURCE })

describe('loadConfig, API_RESOURCE', () => {
  it("is the issuer when empty, so existing clients' tokens keep their aud", async () => {
    expect((await loadConfig(withResource(''))).resource).toBe(env.ISSUER)
  })

  it('drops a trailing slash, as from ISSUER, and keeps a path', async () => {
    expect((await loadConfig(withResource('https://api.portero.test/'))).resource).toBe(
      'https://api.portero.test',
    )
    expect((await loadConfig(withResource('https://portero.test/api/'))).resource).toBe(
      'https://portero.test/api',
    )
  })

  it.each([
    'api.portero.test',
    'ftp://api.portero.test',
    'https://api.portero.test/#api',
    'urn:portero',
  ])('refuses %s as a misconfiguration (500, logged)', async (value) => {
    await expect(loadConfig(withResource(value))).rejects.toMatchObject({
      status: 500,
      code: 'internal_error',
    })
  })
})

describe('loadSendQuotas', () => {
  it("reads wrangler.toml's defaults", () => {
    expect(loadSendQuotas(env)).toEqual({
      perMinute: Number(env.SEND_QUOTA_PER_MINUTE),
      perDay: Number(env.SEND_QUOTA_PER_DAY),
      perDestinationHour: Number(env.SEND_QUOTA_PER_DESTINATION_HOUR),
    })
  })

  for (const [name, value] of [
    ['SEND_QUOTA_PER_MINUTE', ''],
    ['SEND_QUOTA_PER_DAY', '0'],
    ['SEND_QUOTA_PER_DESTINATION_HOUR', '1.5'],
    ['SEND_QUOTA_PER_MINUTE', '99999999'],
    ['SEND_QUOTA_PER_DAY', undefined],
  ] as const) {
    it(`fails loudly, naming ${name}, when it is ${JSON.stringify(value)}`, () => {
      const broken = { ...env, [name]: value } as Env
      let thrown: unknown
      try {
        loadSendQuotas(broken)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toMatchObject({ code: 'internal_error' })
      expect(String((thrown as Error).cause)).toContain(name)
    })
  }
})

describe('loadMessageRetentionDays', () => {
  it("reads wrangler.toml's default of 30 days", () => {
    expect(loadMessageRetentionDays(env)).toBe(30)
  })

  it.each([
    ['1', 1],
    ['3650', 3650],
    ['007', 7],
  ])('reads %j as %i days', (value, days) => {
    expect(loadMessageRetentionDays({ ...env, MESSAGE_RETENTION_DAYS: value })).toBe(days)
  })

  it.each(['', '0', '-5', '30.5', 'thirty', '3651', '1e3', ' 30', undefined])(
    'fails loudly, naming MESSAGE_RETENTION_DAYS, when it is %j',
    (value) => {
      const broken = { ...env, MESSAGE_RETENTION_DAYS: value } as Env
      expect(() => loadMessageRetentionDays(broken)).toThrow(/^MESSAGE_RETENTION_DAYS (must|is)/)
    },
  )
})
