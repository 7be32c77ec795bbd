// parseServicesRequest: what a /Services body may say, decided from the body alone (document 001's
// spellings, limits in characters, int64 provider ids, QR codes and pictures). Every refusal it
// makes is checked here once; test/routes/services.test.ts keeps a few of them to show that a
// refused request stores and sends nothing.
import { describe, expect, it } from 'vitest'
import { parseServicesRequest } from '../../src/domain/dispatch-request.ts'
import { AppError, toProblem } from '../../src/errors.ts'
import { randomPng, toBase64 } from '../helpers/pictures.ts'

const NOW = new Date('2026-11-22T12:00:00Z')
const SERVICE_TOKEN = '7d3c1f4e-2b9a-4c55-9e1d-0a6b8c2f4e71'
const INT64_MAX = '9223372036854775807'
const TURNO = 'Oftalmologo Lunes 29-10 a las 9:15Hs.'

type Body = Record<string, unknown> & { parameters: Record<string, unknown> }

/** A valid request: one SMS notification to a recipient of the directory. */
function smsRequest(): Body {
  return {
    provider_id: 2001,
    service_token: SERVICE_TOKEN,
    service_id: 7,
    parameters: {
      destination: 'paciente-42',
      notification: { title: 'Turno', message: TURNO, channel: 'SMS' },
    },
  }
}

/** `body` with its notification's fields changed (an undefined field is left out). */
function withNotification(fields: Record<string, unknown>, body = smsRequest()): Body {
  const notification = { ...(body.parameters.notification as object), ...fields }
  return withParameters({ notification }, body)
}

function withParameters(fields: Record<string, unknown>, body = smsRequest()): Body {
  return { ...body, parameters: { ...body.parameters, ...fields } }
}

/** A ticket: the SMS notification with `qr` as its qr_code. */
const ticket = (qr: unknown, notification: Record<string, unknown> = {}) =>
  withParameters({ qr_code: qr }, withNotification(notification))

/** The body as JSON text and back, as the route reads it: undefined fields are gone. */
const parse = (body: unknown) => parseServicesRequest(JSON.parse(JSON.stringify(body)), NOW)

/** The problem a refused body is answered with. */
function refusal(body: unknown): { status: number; body: Record<string, unknown> } {
  try {
    parseServicesRequest(typeof body === 'string' ? JSON.parse(body) : body, NOW)
  } catch (error) {
    expect(error).toBeInstanceOf(AppError)
    return toProblem(error as AppError)
  }
  throw new Error('the body was accepted')
}

/** A link that makes `Turno\nOftalmologo\n<link>` exactly `length` characters long. */
function linkForSmsOf(length: number): string {
  const origin = 'https://clinica.example/'
  return origin + 'a'.repeat(length - 'Turno\nOftalmologo\n'.length - origin.length)
}

describe('parseServicesRequest: accepted', () => {
  it('reads the canonical names, keeps the link, and lower-cases the service token', () => {
    const body = withNotification({ link: 'https://clinica.example/turnos/29-10' })
    const request = parse({ ...body, service_token: SERVICE_TOKEN.toUpperCase() })
    expect(request).toEqual({
      providerId: '2001',
      serviceToken: SERVICE_TOKEN,
      serviceId: 7,
      destination: 'paciente-42',
      notification: {
        title: 'Turno',
        message: TURNO,
        channel: 'sms',
        link: 'https://clinica.example/turnos/29-10',
      },
      advertisement: undefined,
    })
  })

  const LINK = 'https://clinica.example/turnos/29-10'
  const spellings: [string, Record<string, unknown>, string?][] = [
    [
      'the Notifications table’s Tittle, Message and Cannel',
      { Tittle: 'Turno', Message: TURNO, Cannel: 'SMS' },
    ],
    [
      'the French example’s Titre, Message and Canal',
      { Titre: 'Turno', Message: TURNO, Canal: 'SMS' },
    ],
    [
      'titulo, mensaje, canal and enlace',
      { titulo: 'Turno', mensaje: TURNO, canal: 'SMS', enlace: LINK },
      LINK,
    ],
    [
      'título with its accent, and lien',
      { título: 'Turno', mensaje: TURNO, canal: 'SMS', lien: LINK },
      LINK,
    ],
    ['keys in any case', { TITULO: 'Turno', Mensaje: TURNO, CANAL: 'SMS', LINK }, LINK],
  ]

  it.each(spellings)('reads %s', (_, part, link) => {
    const request = parse(withParameters({ notification: part }))
    expect(request.notification).toEqual({
      title: 'Turno',
      message: TURNO,
      channel: 'sms',
      ...(link ? { link } : {}),
    })
  })

  it('reads Destination, Notification, Publicidad and QRCode in any case', () => {
    const part = { titulo: 'Autos', mensaje: 'Usados', canal: 'FCM' }
    const request = parse({
      ...smsRequest(),
      parameters: {
        Destination: 'paciente-42',
        Notification: part,
        PUBLICIDAD: part,
        QrCode: { content: 'T-1' },
      },
    })
    expect(request.destination).toBe('paciente-42')
    expect(request.notification).toMatchObject({ title: 'Autos', channel: 'fcm' })
    expect(request.advertisement).toEqual({ title: 'Autos', message: 'Usados', channel: 'fcm' })
    expect(request.qr_code).toEqual({ content: 'T-1' })
  })

  it.each([
    ['sms', 'sms'],
    ['Sms', 'sms'],
    ['fCm', 'fcm'],
    [1, 'sms'],
    [2, 'fcm'],
    ['2', 'fcm'],
  ] as const)('reads channel %j as %s', (channel, expected) => {
    expect(parse(withNotification({ channel })).notification!.channel).toBe(expected)
  })

  it('counts limits in characters: 32 for the title, 166 for the message', () => {
    const title = 'Señal ñandú ÁÉÍÓÚ çà ü'.padEnd(32, 'é')
    const message = `${'Oftalmólogo ñ '.repeat(10)}${'😀'.repeat(26)}`
    expect([...title]).toHaveLength(32)
    expect([...message]).toHaveLength(166)
    expect(new TextEncoder().encode(message).length).toBeGreaterThan(166)
    expect(parse(withNotification({ title, message })).notification).toMatchObject({
      title,
      message,
    })
  })

  it('accepts a link that makes the SMS exactly 1600 characters long', () => {
    const link = linkForSmsOf(1600)
    expect(parse(withNotification({ message: 'Oftalmologo', link })).notification!.link).toBe(link)
  })

  it.each([
    ['a JSON integer', 2001, '2001'],
    ['a decimal string', '2001', '2001'],
    ['the largest int64 as a string', INT64_MAX, INT64_MAX],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER, String(Number.MAX_SAFE_INTEGER)],
  ])('takes provider_id as %s and keeps it exact', (_, providerId, expected) => {
    expect(parse({ ...smsRequest(), provider_id: providerId }).providerId).toBe(expected)
  })

  it('takes a QR code for the picture of the notification, its label on a line of its own', () => {
    const request = parse(
      ticket({ content: 'T-42', label: 'Fila 3', expires_at: '2026-12-31T23:59:59Z' }),
    )
    expect(request.qr_code).toEqual({
      content: 'T-42',
      label: 'Fila 3',
      expiresAt: Date.parse('2026-12-31T23:59:59Z') / 1000,
    })
    expect(request.notification).toMatchObject({
      message: `${TURNO}\nFila 3`,
      qrCode: 'T-42',
      pictureExpiresAt: Date.parse('2026-12-31T23:59:59Z') / 1000,
    })
  })

  it('takes a QR code for the advertisement when there is no notification', () => {
    const advertisement = { title: 'Cupón', message: '10 %', channel: 'FCM' }
    const request = parse(
      withParameters({ notification: undefined, advertisement, qr_code: { content: 'C-1' } }),
    )
    expect(request.notification).toBeUndefined()
    expect(request.advertisement).toMatchObject({ message: '10 %', qrCode: 'C-1' })
  })

  it('decodes a picture of a part', () => {
    const picture = toBase64(randomPng())
    const request = parse(withNotification({ picture }))
    expect(request.notification!.picture).toMatchObject({ type: 'image/png', ext: 'png' })
  })
})

type Refusal = [
  name: string,
  body: unknown,
  status: number,
  code: string,
  path: string,
  message?: RegExp,
]

/** `provider_id` written verbatim into the JSON text: JSON.stringify would round it. */
const rawProviderId = (literal: string) =>
  JSON.stringify({ ...smsRequest(), provider_id: 0 }).replace(
    '"provider_id":0',
    `"provider_id":${literal}`,
  )

const REFUSALS: Refusal[] = [
  [
    'a 33-character title',
    withNotification({ title: 'á'.repeat(33) }),
    400,
    'invalid_request',
    'parameters.notification.title',
    /32/,
  ],
  [
    'a 167-character message',
    withNotification({ message: 'é'.repeat(141) + '😀'.repeat(26) }),
    400,
    'invalid_request',
    'parameters.notification.message',
    /166/,
  ],
  [
    'an empty title',
    withNotification({ title: '' }),
    400,
    'invalid_request',
    'parameters.notification.title',
    /empty/,
  ],
  [
    'a title of spaces',
    withNotification({ title: '   ' }),
    400,
    'invalid_request',
    'parameters.notification.title',
    /empty/,
  ],
  [
    'a missing title',
    withNotification({ title: undefined }),
    400,
    'invalid_request',
    'parameters.notification.title',
  ],
  [
    'a missing message',
    withNotification({ message: undefined }),
    400,
    'invalid_request',
    'parameters.notification.message',
  ],
  [
    'a missing channel',
    withNotification({ channel: undefined }),
    400,
    'invalid_request',
    'parameters.notification.channel',
  ],
  [
    'channel SAT',
    withNotification({ channel: 'SAT' }),
    400,
    'unsupported_channel',
    'parameters.notification.channel',
  ],
  [
    'channel code 4',
    withNotification({ channel: 4 }),
    400,
    'unsupported_channel',
    'parameters.notification.channel',
  ],
  ...['sms ', ' SMS', 'fcm\t', 'sms\n', '1 ', ' 2'].map((channel): Refusal => [
    `channel ${JSON.stringify(channel)} (enumerated values are never trimmed)`,
    withNotification({ channel }),
    400,
    'invalid_request',
    'parameters.notification.channel',
    /space/,
  ]),
  [
    'a javascript: link',
    withNotification({ link: 'javascript:alert(1)' }),
    400,
    'invalid_request',
    'parameters.notification.link',
  ],
  [
    'an ftp: link',
    withNotification({ link: 'ftp://clinica.example/turno.pdf' }),
    400,
    'invalid_request',
    'parameters.notification.link',
  ],
  [
    'an SMS link that makes the text longer than one SMS (1601 characters)',
    withNotification({ message: 'Oftalmologo', link: linkForSmsOf(1601) }),
    400,
    'invalid_request',
    'parameters.notification.link',
    /1600/,
  ],
  [
    'a service_token that is not a UUID',
    { ...smsRequest(), service_token: 'not-a-uuid' },
    400,
    'invalid_request',
    'service_token',
  ],
  [
    'a service_id that is not an integer',
    { ...smsRequest(), service_id: '7' },
    400,
    'invalid_request',
    'service_id',
  ],
  [
    'a provider_id number past 2^53 − 1',
    rawProviderId('9007199254740993'),
    400,
    'invalid_request',
    'provider_id',
  ],
  [
    'a provider_id string past 2^63 − 1',
    { ...smsRequest(), provider_id: '9223372036854775808' },
    400,
    'invalid_request',
    'provider_id',
  ],
  [
    'a negative provider_id',
    { ...smsRequest(), provider_id: -2001 },
    400,
    'invalid_request',
    'provider_id',
  ],
  [
    'a negative provider_id string',
    { ...smsRequest(), provider_id: '-2001' },
    400,
    'invalid_request',
    'provider_id',
  ],
  ['provider_id 0', { ...smsRequest(), provider_id: 0 }, 400, 'invalid_request', 'provider_id'],
  ['provider_id 1.5', { ...smsRequest(), provider_id: 1.5 }, 400, 'invalid_request', 'provider_id'],
  [
    'a microPayment',
    withParameters({ microPayment: { amount: 100 } }),
    400,
    'not_supported',
    'parameters.microPayment',
  ],
  [
    'an unknown parameter',
    withParameters({ prioridad: 'alta' }),
    400,
    'invalid_request',
    'parameters',
    /prioridad/,
  ],
  [
    'an unknown top-level field',
    { ...smsRequest(), priority: 'high' },
    400,
    'invalid_request',
    '(body)',
    /priority/,
  ],
  [
    'an unknown field in the notification',
    withNotification({ subtitulo: 'Dr. Nano' }),
    400,
    'invalid_request',
    'parameters.notification',
    /subtitulo/,
  ],
  ['a JSON array', [smsRequest()], 400, 'invalid_request', '(body)'],
  ['JSON null', null, 400, 'invalid_request', '(body)'],
  ['a qr_code that is a string', ticket('TICKET-1'), 400, 'invalid_request', 'parameters.qr_code'],
  [
    'a qr_code without content',
    ticket({ label: 'Entrada' }),
    400,
    'invalid_request',
    'parameters.qr_code.content',
  ],
  [
    'a qr_code with empty content',
    ticket({ content: '' }),
    400,
    'invalid_request',
    'parameters.qr_code.content',
  ],
  [
    'qr_code content of 513 characters',
    ticket({ content: 'x'.repeat(513) }),
    400,
    'invalid_request',
    'parameters.qr_code.content',
  ],
  [
    'qr_code content that is a number',
    ticket({ content: 42 }),
    400,
    'invalid_request',
    'parameters.qr_code.content',
  ],
  [
    'a qr_code label of 65 characters',
    ticket({ content: 'T', label: 'x'.repeat(65) }),
    400,
    'invalid_request',
    'parameters.qr_code.label',
  ],
  [
    'a qr_code label that makes the message longer than 166 characters',
    ticket({ content: 'T', label: 'Fila 3, asiento 12' }, { message: 'm'.repeat(150) }),
    400,
    'invalid_request',
    'parameters.qr_code.label',
  ],
  [
    'a qr_code expiry in the past',
    ticket({ content: 'T', expires_at: '2020-01-01T00:00:00Z' }),
    400,
    'invalid_request',
    'parameters.qr_code.expires_at',
  ],
  [
    'a qr_code expiry that is not an instant',
    ticket({ content: 'T', expires_at: 'mañana' }),
    400,
    'invalid_request',
    'parameters.qr_code.expires_at',
  ],
  [
    'an unknown field in the qr_code',
    ticket({ content: 'T', color: 'red' }),
    400,
    'invalid_request',
    'parameters.qr_code',
  ],
  [
    'a qr_code for a notification that already has a picture',
    ticket({ content: 'T' }, { Picture: toBase64(randomPng()) }),
    400,
    'invalid_request',
    'parameters.qr_code',
  ],
  [
    'a qr_code without a notification or an advertisement',
    withParameters({ notification: undefined, qr_code: { content: 'T' } }),
    400,
    'invalid_request',
    'parameters.qr_code',
  ],
  [
    'a picture that is not the type it declares',
    withNotification({ picture: `data:image/jpeg;base64,${toBase64(randomPng())}` }),
    400,
    'invalid_request',
    'parameters.notification.picture',
  ],
  [
    'a picture over 1 MiB',
    withParameters({
      advertisement: { title: 'A', message: 'B', channel: 'FCM', picture: 'A'.repeat(1_500_000) },
    }),
    413,
    'payload_too_large',
    'parameters.advertisement.picture',
  ],
]

describe('parseServicesRequest: refused', () => {
  it.each(REFUSALS)('answers %s with %i %s', (_, body, status, code, path, message = /./) => {
    const problem = refusal(typeof body === 'string' ? body : JSON.parse(JSON.stringify(body)))
    expect(problem.status).toBe(status)
    expect(problem.body).toMatchObject({ status, code })
    expect(problem.body.errors).toContainEqual({ path, message: expect.stringMatching(message) })
  })
})
