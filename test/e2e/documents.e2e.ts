// The source documents' own examples (../shared/seeds), replayed against the running server as
// their readers would send them: curl with the documents' arguments, bodies byte for byte.
/// <reference types="node" />
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { readCredentials, seededClient, type DevCredentials } from './server.ts'

type Reply = { status: number; contentType: string; body: string }

const STATUS_LINE = '\n%{http_code} %{content_type}'

/**
 * Runs curl with one option (and its values) per group, as a document prints one per line. No
 * shell: every argument reaches curl as written. Splits the status and content type off the body.
 */
async function curl(...options: string[][]): Promise<Reply> {
  const args = ['-sS', '--write-out', STATUS_LINE, ...options.flat()]
  const { stdout } = await promisify(execFile)('curl', args)
  const cut = stdout.lastIndexOf('\n')
  const [status, contentType = ''] = stdout.slice(cut + 1).split(' ')
  return { status: Number(status), contentType, body: stdout.slice(0, cut) }
}

const json = (reply: Reply) => JSON.parse(reply.body) as Record<string, unknown>

/** The document's text, when ../shared/seeds is beside the checkout (it is in CI and locally). */
function seed(prefix: string): string | null {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'seeds')
  if (!existsSync(dir)) return null
  const name = readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.txt'))
  return name ? readFileSync(join(dir, name), 'utf8') : null
}

let portero: DevCredentials
beforeAll(() => {
  portero = readCredentials()
})

describe('document 003 (Bridge)', () => {
  // The body of its curl example, blank lines with their three spaces included.
  const LOGIN_BODY =
    '{\n   \n  "clientId":"bridge-api-client",\n   \n' +
    '  "clientSecret":"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"\n}'

  it.skipIf(seed('003_') === null)('is quoted here byte for byte', () => {
    expect(seed('003_')).toContain(`--data-raw '${LOGIN_BODY}'`)
  })

  // Its curl example, with this server's address for http://localhost:8090.
  async function login() {
    return curl(
      ['--location', '--request', 'POST', `${portero.base}/auth/login`],
      // Printed folded over two lines ('Content-Type:\n  application/json'). Header folding is
      // obsolete (RFC 9112 §5.2) and HTTP servers, workerd included, reject it: sent on one line.
      ['--header', 'Content-Type: application/json'],
      ['--data-raw', LOGIN_BODY],
    )
  }

  it('POST /auth/login answers {ack: 0, token}', async () => {
    const reply = await login()
    expect(reply.status).toBe(200)
    expect(reply.contentType).toMatch(/^application\/json/)
    const body = json(reply)
    expect(body).toMatchObject({
      ack: 0,
      token: expect.stringMatching(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/),
    })
  })

  it('POST /auth/me with x-access-token and an empty body says the token is valid', async () => {
    const { token } = json(await login()) as { token: string }
    // Printed with a blank line after each trailing backslash, where a shell would end the
    // command; these are the options it shows.
    const reply = await curl(
      ['--location', '--request', 'POST', `${portero.base}/auth/me`],
      ['--header', `x-access-token: ${token}`],
      ['--data-raw', ''],
    )
    expect(reply.status).toBe(200)
    expect(json(reply)).toMatchObject({
      ack: 0,
      active: true,
      client_id: 'bridge-api-client',
      sub: 'bridge-api-client',
    })
  })
})

describe('document 002 (Yativo)', () => {
  // "Cuerpo de la Solicitud", exactly as written (no indentation).
  const LOGIN_BODY = '{\n"account_id": "account_id",\n"app_secret": "app_secret"\n}'

  it.skipIf(seed('002_') === null)('is quoted here byte for byte', () => {
    expect(seed('002_')).toContain(`-d '${LOGIN_BODY}'`)
  })

  it('POST /auth/login answers the Yativo shape; the token works as a Bearer token', async () => {
    // curl -X POST {{baseUrl}}/auth/login -H "Content-Type: application/json" -d '…'
    const reply = await curl(
      ['-X', 'POST', `${portero.base}/auth/login`],
      ['-H', 'Content-Type: application/json'],
      ['-d', LOGIN_BODY],
    )
    expect(reply.status).toBe(200)
    const body = json(reply)
    expect(body).toEqual({
      status: 'success',
      status_code: 200,
      message: expect.any(String),
      data: { access_token: expect.any(String), token_type: 'bearer', expires_in: 600 },
    })

    const { access_token: token } = body.data as { access_token: string }
    const me = await curl(
      ['-X', 'POST', `${portero.base}/auth/me`],
      ['-H', `Authorization: Bearer ${token}`],
    )
    expect(me.status).toBe(200)
    expect(json(me)).toMatchObject({ active: true, client_id: 'account_id' })
  })
})

describe('document 001 (MCG)', () => {
  async function demoToken(): Promise<string> {
    const { id, secret } = seededClient('demo-client')
    const reply = await curl(
      ['-u', `${id}:${secret}`],
      ['-d', 'grant_type=client_credentials', `${portero.base}/oauth/token`],
    )
    expect(reply.status).toBe(200)
    return (json(reply) as { access_token: string }).access_token
  }

  // Its request table: POST mcg/v1/tokeninfo, `Authorization: $TYPE $JWT`, `Content-type` spelled
  // as there, and a form body with token and token_type_hint.
  const tokeninfo = (caller: string, token: string) =>
    curl(
      ['-X', 'POST', `${portero.base}/mcg/v1/tokeninfo`],
      ['-H', `Authorization: Bearer ${caller}`],
      ['-H', 'Content-type: application/x-www-form-urlencoded'],
      ['--data', `token=${token}&token_type_hint=access_token`],
    )

  it('POST mcg/v1/tokeninfo answers RFC 7662 fields with ti', async () => {
    const token = await demoToken()
    const reply = await tokeninfo(token, token)
    expect(reply.status).toBe(200)
    expect(reply.contentType).toMatch(/^application\/json/)
    const body = json(reply)
    expect(body).toMatchObject({
      active: true,
      client_id: 'demo-client',
      sub: 'demo-client',
      iss: portero.base,
      token_type: 'Bearer',
      scope: expect.stringContaining('tokens:introspect'),
    })
    expect(body.ti).toBe(body.jti)
    for (const claim of ['exp', 'iat', 'nbf']) expect(body[claim]).toEqual(expect.any(Number))
  })

  it('POST mcg/v1/tokeninfo answers per caller: a foreign token looks inactive', async () => {
    // 001: different answers for the same token depending on who asks, to avoid leaks. The
    // demo client asks about a token of the Bridge client (same provider, not its own).
    const { id, secret } = seededClient('bridge-api-client')
    const login = await curl(
      ['-H', 'Content-Type: application/json'],
      ['--data-raw', JSON.stringify({ clientId: id, clientSecret: secret })],
      [`${portero.base}/auth/login`],
    )
    const { token: foreign } = json(login) as { token: string }
    const reply = await tokeninfo(await demoToken(), foreign)
    expect(reply.status).toBe(200)
    expect(json(reply)).toEqual({ active: false })
  })

  // Up to a retry: Portero keeps its Google access token in KV (.wrangler/state) across restarts,
  // the stand-in forgets the tokens it issued, so the first push may get 401, drop the token and
  // be retried by the queue 5 to 10 s later (src/queue/backoff.ts).
  it(
    'POST /Services delivers its example by SMS and FCM, seen at the stand-in',
    { timeout: 45_000 },
    async () => {
      const token = await demoToken()
      // The example of its Services table with the seeded provider, subscription and patient. The
      // document prints it with typographic quotes and no commas, so it is written here as JSON,
      // keeping its field spellings (titulo, mensaje, canal) and texts.
      const example = JSON.stringify({
        provider_id: 1001,
        service_token: portero.serviceToken,
        service_id: portero.serviceId,
        parameters: {
          destination: portero.userId,
          notification: {
            titulo: 'Clínica Dr. Nano. Turno',
            mensaje: 'Oftalmologo Lunes 29-10 a las 9:15Hs.',
            canal: 'SMS',
          },
          advertisement: {
            titulo: 'Autos usados CHECHO',
            mensaje: 'Lleve su auto usado con Financiameiento ...',
            canal: 'FCM',
          },
        },
      })
      const response = await fetch(`${portero.base}/Services`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: example,
      })
      expect(response.status).toBe(201)
      const accepted = (await response.json()) as MessageView
      expect(response.headers.get('location')).toBe(`/Services/messages/${accepted.id}`)

      const done = await poll(
        async () => {
          const read = await fetch(new URL(response.headers.get('location')!, portero.base), {
            headers: { authorization: `Bearer ${token}` },
          })
          expect(read.status).toBe(200)
          return (await read.json()) as MessageView
        },
        (m) => m.status !== 'queued' && m.status !== 'sending',
      )
      // The push stays sent (FCM's answer is its final state); the SMS may already be delivered,
      // the stand-in's receipt coming about a second after the send.
      expect(done.status).toBe('sent')
      expect(done.deliveries.map((d) => [d.part, d.channel, d.status]).sort()).toEqual([
        ['advertisement', 'fcm', 'sent'],
        ['notification', 'sms', expect.stringMatching(/^(sent|delivered)$/)],
      ])

      // The stand-in's log, matched to this message by the ids the providers answered with.
      const received = (await (
        await fetch(`${portero.standIn}/_control/received`)
      ).json()) as Received
      const sms = done.deliveries.find((d) => d.channel === 'sms')!
      const push = done.deliveries.find((d) => d.channel === 'fcm')!
      const text = received.sms.find(
        (r) => r.status === 201 && r.response.sid === sms.provider_message_id,
      )
      const notification = received.fcm.find(
        (r) => r.status === 200 && r.response.name === push.provider_message_id,
      )
      expect(text?.body).toMatchObject({
        Body: expect.stringContaining('Oftalmologo Lunes 29-10 a las 9:15Hs.'),
      })
      expect(notification?.body).toMatchObject({
        message: {
          notification: {
            title: 'Autos usados CHECHO',
            body: 'Lleve su auto usado con Financiameiento ...',
          },
        },
      })
      // FCM without a key (decisions.md D39): npm start hands Portero FCM_WORKLOAD_IDENTITY and no
      // FCM_SERVICE_ACCOUNT, so its access token came through the stand-in's STS.
      expect(
        received.tokens.some((r) => r.path === '/google/sts/v1/token' && r.status === 200),
      ).toBe(true)
      expect(received.tokens.filter((r) => r.path === '/google/token')).toEqual([])
    },
  )
})

type MessageView = {
  id: string
  status: string
  deliveries: {
    part: string
    channel: string
    status: string
    provider_message_id: string | null
  }[]
}
type Received = {
  sms: { status: number; body: unknown; response: { sid?: string } }[]
  fcm: { status: number; body: unknown; response: { name?: string } }[]
  tokens: { path: string; status: number }[]
}

async function poll<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    value = await read()
  }
  return value
}
