import { describe, expect, it, vi } from 'vitest'
import { sha256Hex } from '../../src/encoding.ts'
import { createFcmNotifier, type FcmMessage } from '../../src/channels/fcm.ts'
import { ProviderAuthError, type GoogleTokenSource } from '../../src/channels/google-token.ts'
import type { OutboundMessage } from '../../src/channels/notifier.ts'

const BASE_URL = 'https://fcm.portero.test'
const PROJECT_ID = 'portero-test'
const SEND_URL = `${BASE_URL}/v1/projects/${PROJECT_ID}/messages:send`
const ACCESS_TOKEN = 'ya29.c.portero-test-access-token'
const REGISTRATION_TOKEN = 'fYz0Qk7nR1e:APA91bH-portero-test-registration-token'
const NOW = new Date('2026-03-01T12:00:00Z')
const MESSAGE_NAME = `projects/${PROJECT_ID}/messages/0:1772366400000000%31bd1c9631bd1c96`

const MESSAGE: OutboundMessage = {
  id: '7d0c5e0a-3b7c-4f4e-9a53-2f7b1c9e8d61',
  channel: 'fcm',
  to: REGISTRATION_TOKEN,
  title: 'Oferta de la semana',
  body: 'Revisión gratuita con su próxima cita.',
}

type SeenRequest = { url: string; method: string; headers: Headers; body: unknown }

/** google.rpc.Status as FCM sends it, with an FcmError detail when `errorCode` is given. */
function fcmError(
  status: number,
  rpcStatus: string,
  message: string,
  {
    errorCode,
    fields = [],
    headers = {},
  }: { errorCode?: string; fields?: string[]; headers?: HeadersInit } = {},
): Response {
  const details: unknown[] = []
  if (errorCode) {
    details.push({ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode })
  }
  if (fields.length > 0) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: fields.map((field) => ({ field, description: message })),
    })
  }
  return Response.json(
    { error: { code: status, message, status: rpcStatus, details } },
    { status, headers },
  )
}

/**
 * FCM's messages:send as far as Portero relies on it: refuses the wrong URL, method, token or
 * content type, or a message without a target, the way FCM does, then answers with `respond`.
 */
function fakeFcm(
  respond: (request: SeenRequest) => Response | Promise<Response> = () =>
    Response.json({ name: MESSAGE_NAME }),
) {
  const requests: SeenRequest[] = []
  async function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init)
    if (request.url !== SEND_URL || request.method !== 'POST') {
      return fcmError(404, 'NOT_FOUND', 'Requested entity was not found.')
    }
    if (request.headers.get('authorization') !== `Bearer ${ACCESS_TOKEN}`) {
      return fcmError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')
    }
    if (request.headers.get('content-type') !== 'application/json') {
      return fcmError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.')
    }
    const body = (await request.json()) as { message?: { token?: unknown } }
    if (typeof body.message?.token !== 'string') {
      return fcmError(400, 'INVALID_ARGUMENT', 'Recipient of the message is not set.', {
        errorCode: 'INVALID_ARGUMENT',
      })
    }
    const seen = { url: request.url, method: request.method, headers: request.headers, body }
    requests.push(seen)
    return respond(seen)
  }
  return { fetch, requests }
}

function fakeTokens(getAccessToken: () => Promise<string> = async () => ACCESS_TOKEN) {
  return {
    getAccessToken: vi.fn(getAccessToken),
    invalidate: vi.fn(async () => {}),
  } satisfies GoogleTokenSource
}

function notifier(
  fetch: typeof globalThis.fetch,
  { tokens = fakeTokens(), timeoutMs }: { tokens?: GoogleTokenSource; timeoutMs?: number } = {},
) {
  return createFcmNotifier({
    baseUrl: BASE_URL,
    projectId: PROJECT_ID,
    tokens,
    fetch,
    now: () => NOW,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  })
}

async function sentBody(message: OutboundMessage): Promise<{ message: FcmMessage }> {
  const fcm = fakeFcm()
  expect(await notifier(fcm.fetch).send(message)).toEqual({
    ok: true,
    providerMessageId: MESSAGE_NAME,
  })
  return fcm.requests[0]!.body as { message: FcmMessage }
}

describe('createFcmNotifier', () => {
  it('sends through messages:send with the bearer token and returns the message name', async () => {
    const fcm = fakeFcm()
    const tokens = fakeTokens()
    const push = notifier(fcm.fetch, { tokens })

    expect(push.channel).toBe('fcm')
    expect(await push.send(MESSAGE)).toEqual({ ok: true, providerMessageId: MESSAGE_NAME })
    expect(fcm.requests).toHaveLength(1)
    expect(fcm.requests[0]!.headers.get('authorization')).toBe(`Bearer ${ACCESS_TOKEN}`)
    expect(tokens.getAccessToken).toHaveBeenCalledTimes(1)
  })

  it('sends the delivery id as Android tag, apns-collapse-id and web push Topic', async () => {
    const link = 'https://taller.example/ofertas/7'
    expect(await sentBody({ ...MESSAGE, link })).toEqual({
      message: {
        token: REGISTRATION_TOKEN,
        notification: {
          title: 'Oferta de la semana',
          body: 'Revisión gratuita con su próxima cita.',
        },
        data: { message_id: MESSAGE.id, link },
        android: { notification: { tag: MESSAGE.id } },
        apns: { headers: { 'apns-collapse-id': MESSAGE.id } },
        webpush: {
          headers: { Topic: '7d0c5e0a3b7c4f4e9a532f7b1c9e8d61' },
          fcm_options: { link },
        },
      },
    })
  })

  it('sends a picture as the image of every platform, as FCM v1 reads it', async () => {
    const pictureUrl = 'https://portero.test/pictures/ab12.png'
    const link = 'https://taller.example/ofertas/7'
    expect(await sentBody({ ...MESSAGE, link, pictureUrl })).toEqual({
      message: {
        token: REGISTRATION_TOKEN,
        notification: {
          title: 'Oferta de la semana',
          body: 'Revisión gratuita con su próxima cita.',
          image: pictureUrl,
        },
        data: { message_id: MESSAGE.id, link },
        android: { notification: { tag: MESSAGE.id, image: pictureUrl } },
        apns: {
          headers: { 'apns-collapse-id': MESSAGE.id },
          payload: { aps: { 'mutable-content': 1 } },
          fcm_options: { image: pictureUrl },
        },
        webpush: {
          headers: { Topic: '7d0c5e0a3b7c4f4e9a532f7b1c9e8d61' },
          notification: { image: pictureUrl },
          fcm_options: { link },
        },
      },
    })
  })

  it('leaves the link out of web push options unless it is https', async () => {
    const link = 'http://taller.example/ofertas/7'
    const body = await sentBody({ ...MESSAGE, link })
    expect(body.message.data).toEqual({ message_id: MESSAGE.id, link })
    expect(body.message.webpush).toEqual({ headers: { Topic: '7d0c5e0a3b7c4f4e9a532f7b1c9e8d61' } })
  })

  it('sends no link at all when there is none', async () => {
    const body = await sentBody(MESSAGE)
    expect(body.message.data).toEqual({ message_id: MESSAGE.id })
    expect(body.message.webpush).not.toHaveProperty('fcm_options')
  })

  it('keeps a short URL-safe id as it is', async () => {
    const body = await sentBody({ ...MESSAGE, id: 'msg_42' })
    expect(body.message.webpush.headers).toEqual({ Topic: 'msg_42' })
    expect(body.message.apns.headers).toEqual({ 'apns-collapse-id': 'msg_42' })
  })

  it('hashes ids too long for the APNs and web push limits', async () => {
    const id = `delivery:${'x'.repeat(80)}`
    const body = await sentBody({ ...MESSAGE, id })
    const hash = await sha256Hex(id)
    expect(body.message.apns.headers).toEqual({ 'apns-collapse-id': hash })
    expect(body.message.webpush.headers).toEqual({ Topic: hash.slice(0, 32) })
    expect(body.message.android).toEqual({ notification: { tag: id } })
  })

  it('sends a repeated push of one delivery with the same tag, collapse id and Topic', async () => {
    const keys = async (message: OutboundMessage) => {
      const { android, apns, webpush } = (await sentBody(message)).message
      return [android.notification.tag, apns.headers['apns-collapse-id'], webpush.headers.Topic]
    }
    const first = await keys(MESSAGE)
    expect(await keys({ ...MESSAGE, title: 'Oferta (otra vez)' })).toEqual(first)
    const other = await keys({ ...MESSAGE, id: 'a8f1c0de-0000-4000-8000-000000000001' })
    other.forEach((key, i) => expect(key).not.toBe(first[i]))
  })

  it('counts the APNs limit in bytes: 33 accented characters are hashed', async () => {
    const id = 'é'.repeat(33)
    const body = await sentBody({ ...MESSAGE, id })
    expect(body.message.apns.headers).toEqual({ 'apns-collapse-id': await sha256Hex(id) })
    expect(body.message.android.notification.tag).toBe(id)
  })

  it('fails without retry when a 2xx carries no message name', async () => {
    const fcm = fakeFcm(() => new Response('{}', { status: 200 }))
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      reason: 'FCM answered 200 without a message name',
    })
  })
})

describe('createFcmNotifier permanent failures', () => {
  it.each([404, 400])('marks the token unregistered on %i UNREGISTERED', async (status) => {
    const fcm = fakeFcm(() =>
      fcmError(
        status,
        status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT',
        'Requested entity was not found.',
        {
          errorCode: 'UNREGISTERED',
        },
      ),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      permanent: 'unregistered',
      reason:
        'FCM: the registration token is no longer registered ' +
        `(HTTP ${status} UNREGISTERED: Requested entity was not found.)`,
    })
  })

  it('marks a malformed registration token invalid', async () => {
    const fcm = fakeFcm(() =>
      fcmError(
        400,
        'INVALID_ARGUMENT',
        'The registration token is not a valid FCM registration token',
        {
          errorCode: 'INVALID_ARGUMENT',
        },
      ),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      permanent: 'invalid_destination',
      reason:
        'FCM refused the registration token (HTTP 400 INVALID_ARGUMENT: ' +
        'The registration token is not a valid FCM registration token)',
    })
  })

  it('marks the token invalid when a field violation names message.token', async () => {
    const fcm = fakeFcm(() =>
      fcmError(400, 'INVALID_ARGUMENT', "Invalid value at 'message.token'", {
        fields: ['message.token'],
      }),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toMatchObject({
      ok: false,
      retryable: false,
      permanent: 'invalid_destination',
    })
  })

  it('does not blame the token for another INVALID_ARGUMENT', async () => {
    const message = "Invalid value at 'message.data[0].value' (TYPE_STRING), 12"
    const fcm = fakeFcm(() =>
      fcmError(400, 'INVALID_ARGUMENT', message, { fields: ['message.data[0].value'] }),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      reason: `FCM refused the message (HTTP 400 INVALID_ARGUMENT: ${message})`,
    })
  })

  it('marks the token invalid on 403 SENDER_ID_MISMATCH', async () => {
    const fcm = fakeFcm(() =>
      fcmError(403, 'PERMISSION_DENIED', 'SenderId mismatch', { errorCode: 'SENDER_ID_MISMATCH' }),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      permanent: 'invalid_destination',
      reason: 'FCM refused the registration token (HTTP 403 SENDER_ID_MISMATCH: SenderId mismatch)',
    })
  })

  it('refuses another 403 without retry or a permanent mark, as the operator’s fault', async () => {
    const message = "Permission 'cloudmessaging.messages.create' denied on resource"
    const fcm = fakeFcm(() => fcmError(403, 'PERMISSION_DENIED', message))
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      reason: `FCM refused Portero's project (HTTP 403 PERMISSION_DENIED: ${message})`,
      operatorFault: true,
    })
  })

  it('does not condemn the token on a 404 without UNREGISTERED (a wrong project or URL)', async () => {
    const fcm = fakeFcm()
    const push = createFcmNotifier({
      baseUrl: BASE_URL,
      projectId: 'another-project',
      tokens: fakeTokens(),
      fetch: fcm.fetch,
    })
    expect(await push.send(MESSAGE)).toEqual({
      ok: false,
      retryable: false,
      reason: "FCM refused Portero's project (HTTP 404 NOT_FOUND: Requested entity was not found.)",
      operatorFault: true,
    })
  })
})

describe('createFcmNotifier transient failures', () => {
  it('drops the cached access token and retries on 401', async () => {
    const tokens = fakeTokens(async () => 'ya29.revoked')
    const fcm = fakeFcm()
    expect(await notifier(fcm.fetch, { tokens }).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      reason:
        "FCM rejected Portero's access token (HTTP 401 UNAUTHENTICATED: " +
        'Request had invalid authentication credentials.)',
      operatorFault: true,
    })
    expect(tokens.invalidate).toHaveBeenCalledTimes(1)
  })

  it('does not retry a 401 THIRD_PARTY_AUTH_ERROR, which is about APNs or web push keys', async () => {
    const tokens = fakeTokens()
    const fcm = fakeFcm(() =>
      fcmError(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', {
        errorCode: 'THIRD_PARTY_AUTH_ERROR',
      }),
    )
    expect(await notifier(fcm.fetch, { tokens }).send(MESSAGE)).toMatchObject({
      ok: false,
      retryable: false,
      operatorFault: true,
    })
    expect(tokens.invalidate).not.toHaveBeenCalled()
  })

  it('retries a 429 QUOTA_EXCEEDED after Retry-After', async () => {
    const fcm = fakeFcm(() =>
      fcmError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.', {
        errorCode: 'QUOTA_EXCEEDED',
        headers: { 'retry-after': '60' },
      }),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      retryAfterSeconds: 60,
      reason: 'FCM is unavailable (HTTP 429 QUOTA_EXCEEDED: Quota exceeded.)',
    })
  })

  it('waits a minute for a 429 QUOTA_EXCEEDED without Retry-After', async () => {
    const fcm = fakeFcm(() =>
      fcmError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.', { errorCode: 'QUOTA_EXCEEDED' }),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toMatchObject({
      ok: false,
      retryable: true,
      retryAfterSeconds: 60,
    })
  })

  it('leaves a 429 without QUOTA_EXCEEDED and without Retry-After to the backoff', async () => {
    const fcm = fakeFcm(() => fcmError(429, 'RESOURCE_EXHAUSTED', 'Overloaded.'))
    const result = await notifier(fcm.fetch).send(MESSAGE)
    expect(result).toMatchObject({ ok: false, retryable: true })
    expect(result).not.toHaveProperty('retryAfterSeconds')
  })

  it.each([
    [500, 'INTERNAL', 'Internal error encountered.'],
    [503, 'UNAVAILABLE', 'The service is currently unavailable.'],
  ])('retries a %i %s', async (status, errorCode, message) => {
    const fcm = fakeFcm(() => fcmError(status, errorCode, message, { errorCode }))
    expect(await notifier(fcm.fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      reason: `FCM is unavailable (HTTP ${status} ${errorCode}: ${message})`,
    })
  })

  it('reads a Retry-After HTTP date against the injected clock', async () => {
    const later = new Date(NOW.getTime() + 45_000).toUTCString()
    const fcm = fakeFcm(() =>
      fcmError(503, 'UNAVAILABLE', 'Unavailable', {
        errorCode: 'UNAVAILABLE',
        headers: { 'retry-after': later },
      }),
    )
    expect(await notifier(fcm.fetch).send(MESSAGE)).toMatchObject({
      retryable: true,
      retryAfterSeconds: 45,
    })
  })

  it('retries when the network fails', async () => {
    const fetch = () => Promise.reject(new TypeError('Network connection lost.'))
    expect(await notifier(fetch).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      reason: 'FCM could not be reached (network error: Network connection lost.)',
    })
  })

  it('retries when FCM does not answer in time', async () => {
    const fetch = () => new Promise<Response>(() => {})
    expect(await notifier(fetch, { timeoutMs: 20 }).send(MESSAGE)).toEqual({
      ok: false,
      retryable: true,
      reason: 'FCM did not answer within 20 ms',
    })
  })
})

describe('createFcmNotifier without an access token', () => {
  it.each([
    [true, 30],
    [false, undefined],
  ])(
    'returns a ProviderAuthError as a result (retryable: %s)',
    async (retryable, retryAfterSeconds) => {
      const failure = new ProviderAuthError(
        'Google token endpoint refused the service account (HTTP 400)',
        {
          retryable,
          retryAfterSeconds,
        },
      )
      const tokens = fakeTokens(() => Promise.reject(failure))
      const fetch = vi.fn(fakeFcm().fetch)

      expect(await notifier(fetch, { tokens }).send(MESSAGE)).toEqual({
        ok: false,
        retryable,
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
        reason: 'Google token endpoint refused the service account (HTTP 400)',
        // Refused for good is the operator's service account; an outage is nobody's setting.
        ...(retryable ? {} : { operatorFault: true }),
      })
      expect(fetch).not.toHaveBeenCalled()
    },
  )

  it('lets any other error through: that is a bug', async () => {
    const tokens = fakeTokens(() => Promise.reject(new RangeError('bug')))
    await expect(notifier(fakeFcm().fetch, { tokens }).send(MESSAGE)).rejects.toThrow(RangeError)
  })

  it('never puts the access token in a reason', async () => {
    const fcm = fakeFcm(() =>
      fcmError(400, 'INVALID_ARGUMENT', 'bad', { errorCode: 'INVALID_ARGUMENT' }),
    )
    const result = await notifier(fcm.fetch).send(MESSAGE)
    expect(result.ok).toBe(false)
    expect(JSON.stringify(result)).not.toContain(ACCESS_TOKEN)
  })
})
