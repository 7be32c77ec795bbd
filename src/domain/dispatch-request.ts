// Parsing document 001's /Services body: the field spellings of its examples and tables are
// accepted case-insensitively (decisions.md D11), limits are counted in Unicode characters, and
// provider_id is an int64 that is never rounded.
import * as z from 'zod'
import { AppError, fieldError, invalidFields, toFieldErrors } from '../errors.ts'
import {
  CHANNELS,
  MAX_SMS_TEXT_CHARS,
  smsText,
  type Channel,
  type WhatsAppTemplate,
} from '../channel.ts'
import {
  decodePicture,
  MAX_PICTURE_BYTES,
  MAX_PICTURE_PIXELS,
  MAX_PICTURE_SIDE,
  type Picture,
} from './pictures.ts'
import { MAX_QR_CONTENT_CHARS, MAX_QR_LABEL_CHARS, renderQrCode } from './qr-codes.ts'
import { isTimeZone, MAX_SCHEDULE_DAYS, type QuietHoursRule } from './schedule.ts'
import { isPositiveInt64 } from '../utils/int64.ts'
import { epochSeconds } from '../utils/time.ts'

export const MAX_TITLE_CHARS = 32
export const MAX_MESSAGE_CHARS = 166

/** Document 001 "Cannel": a name (any case) or a numeric shipping code. */
export const CHANNEL_CODES: Record<string, Channel> = {
  sms: 'sms',
  fcm: 'fcm',
  whatsapp: 'whatsapp',
  '1': 'sms',
  '2': 'fcm',
  '3': 'whatsapp',
}

/**
 * A channel name wherever the API takes one (the management API's allowed_channels): any case, as
 * in /Services, and never trimmed, like every other enumerated value.
 */
export const ChannelName = z.preprocess(
  (value) => (typeof value === 'string' ? value.toLowerCase() : value),
  z.enum(CHANNELS, { error: 'a channel is sms, fcm or whatsapp (any case, no spaces)' }),
)

// Every spelling document 001 uses, lower-cased, mapped to the canonical name.
export const PART_FIELDS: Record<
  string,
  'title' | 'message' | 'channel' | 'link' | 'picture' | 'content_sid' | 'content_variables'
> = {
  title: 'title',
  titulo: 'title',
  título: 'title',
  tittle: 'title',
  titre: 'title',
  message: 'message',
  mensaje: 'message',
  channel: 'channel',
  canal: 'channel',
  cannel: 'channel',
  link: 'link',
  enlace: 'link',
  lien: 'link',
  picture: 'picture',
  content_sid: 'content_sid',
  contentsid: 'content_sid',
  content_variables: 'content_variables',
  contentvariables: 'content_variables',
}

/** Twilio's Content API ids: HX and 32 hex digits. */
export const CONTENT_SID = /^HX[0-9a-f]{32}$/
/** Twilio accepts up to 100 placeholders; a value is text. */
const MAX_CONTENT_VARIABLES = 100
const MAX_CONTENT_VARIABLE_CHARS = 1024

export const PARAMETER_FIELDS: Record<string, string> = {
  destination: 'destination',
  notification: 'notification',
  advertisement: 'advertisement',
  publicidad: 'advertisement',
  qr_code: 'qr_code',
  qrcode: 'qr_code',
  micropayment: 'microPayment',
  fallback: 'fallback',
}

/** fallback's fields (decisions.md D46), spelt as a part's channel is. */
const FALLBACK_FIELDS: Record<string, string> = {
  channel: 'channel',
  canal: 'channel',
  cannel: 'channel',
  after_seconds: 'after_seconds',
}

/** How long a push may wait for its acknowledgement before it falls back (seconds). */
export const FALLBACK_AFTER_SECONDS = { min: 10, max: 86_400 } as const

/**
 * qr_code's fields (decisions.md D19; document 001 names QR codes but defines no fields for them).
 */
const QR_FIELDS: Record<string, string> = {
  content: 'content',
  label: 'label',
  expires_at: 'expires_at',
}

/** Renames keys to canonical names; unknown keys are kept as sent, so the schema names them. */
function canonicalKeys(names: Record<string, string>) {
  return (value: unknown) => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return value
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [names[k.toLowerCase()] ?? k, v]),
    )
  }
}

const chars = (s: string) => [...s].length

const text = (name: string, max: number) =>
  z
    .string({ error: `${name} is required and must be a string` })
    .refine((s) => s.trim().length > 0, `${name} must not be empty`)
    .refine((s) => chars(s) <= max, `${name} must be at most ${max} characters`)

/** Names the keys a strict object refused, rather than zod's generic message. */
function unknownKeys(what: string): {
  error: (issue: { code?: string; keys?: string[] }) => string | undefined
} {
  return {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown ${what}: ${issue.keys!.join(', ')}` : undefined,
  }
}

const Part = z.preprocess(
  canonicalKeys(PART_FIELDS),
  z.strictObject(
    {
      title: text('title', MAX_TITLE_CHARS),
      message: text('message', MAX_MESSAGE_CHARS),
      channel: z.union([z.string(), z.number()], {
        error: 'channel is required (SMS, FCM or WhatsApp)',
      }),
      link: z
        .url({ protocol: /^https?$/, error: 'link must be an http(s) URL' })
        .max(2048)
        .optional(),
      picture: z
        .string({ error: 'picture must be a base64 string or a data: URL' })
        .optional()
        .meta({
          description:
            `A PNG, JPEG, GIF or WebP image of at most ${MAX_PICTURE_BYTES} bytes and at most ` +
            `${MAX_PICTURE_SIDE} pixels a side and ${MAX_PICTURE_PIXELS / 1e6} megapixels ` +
            '(as its header declares), in base64 (plain or as a `data:image/…;base64,` URL). ' +
            'Checked by content; published at an unguessable URL and sent as the FCM ' +
            'notification image or the MMS media.',
          contentEncoding: 'base64',
        }),
      content_sid: z
        .string({ error: 'content_sid must be a string' })
        .regex(CONTENT_SID, 'content_sid must be a Content API id: HX and 32 lower-case hex digits')
        .optional()
        .meta({
          description:
            "WhatsApp only: the approved template to send instead of the text (Twilio's " +
            "`ContentSid`). Required outside the recipient's 24-hour session window.",
          example: 'HX0123456789abcdef0123456789abcdef',
        }),
      content_variables: z
        .record(
          z.string().regex(/^\w{1,64}$/, 'a placeholder name is 1 to 64 letters, digits or _'),
          z
            .string({ error: 'each content variable must be a string' })
            .max(MAX_CONTENT_VARIABLE_CHARS),
          { error: 'content_variables must be an object of string values' },
        )
        .refine(
          (vars) => Object.keys(vars).length <= MAX_CONTENT_VARIABLES,
          `at most ${MAX_CONTENT_VARIABLES} content variables`,
        )
        .optional()
        .meta({
          description:
            "WhatsApp only, with content_sid: the template's placeholder values (Twilio's " +
            '`ContentVariables`), such as `{"1": "12/1", "2": "3pm"}`.',
        }),
    },
    unknownKeys('field'),
  ),
)

const QrCode = z.preprocess(
  canonicalKeys(QR_FIELDS),
  z.strictObject(
    {
      content: z
        .string({ error: 'content is required and must be a string' })
        .min(1, 'content must not be empty')
        .refine(
          (s) => chars(s) <= MAX_QR_CONTENT_CHARS,
          `content must be at most ${MAX_QR_CONTENT_CHARS} characters`,
        )
        .meta({
          description: 'What the code encodes, exactly: a ticket number, a coupon code, a URL…',
        }),
      label: text('label', MAX_QR_LABEL_CHARS)
        .optional()
        .meta({
          description:
            'Shown to the recipient on a line of its own after the message of the part ' +
            'carrying the code.',
        }),
      expires_at: z.iso
        .datetime({
          offset: true,
          error: 'expires_at must be an ISO 8601 instant such as 2026-12-31T23:59:59Z',
        })
        .optional()
        .meta({
          description:
            'When the ticket or coupon ends: the image is kept at least until then, ' +
            'at most 30 days. Must be in the future.',
        }),
    },
    {
      error: (issue) =>
        unknownKeys('field').error(issue) ??
        'qr_code must be an object with content, and optionally label and expires_at',
    },
  ),
)

export const FallbackSchema = z
  .preprocess(
    canonicalKeys(FALLBACK_FIELDS),
    z.strictObject(
      {
        channel: z
          .union([z.string(), z.number()], { error: 'channel is required (SMS)' })
          .meta({ description: 'SMS (or 1).' }),
        after_seconds: z
          .int({ error: 'after_seconds must be an integer' })
          .min(
            FALLBACK_AFTER_SECONDS.min,
            `after_seconds must be at least ${FALLBACK_AFTER_SECONDS.min}`,
          )
          .max(
            FALLBACK_AFTER_SECONDS.max,
            `after_seconds must be at most ${FALLBACK_AFTER_SECONDS.max}`,
          )
          .optional()
          .meta({ description: 'Also when not acknowledged this long after sending.' }),
      },
      {
        error: (issue) => unknownKeys('field').error(issue) ?? 'fallback must be an object',
      },
    ),
  )
  .meta({
    description:
      'Push, then SMS: a push that fails for good, or has no token, goes by SMS ' +
      '(docs/sending.md "Fallback between channels").',
  })

const Parameters = z.preprocess(
  canonicalKeys(PARAMETER_FIELDS),
  z.strictObject(
    {
      destination: z.string().min(1).max(128).optional(),
      notification: Part.optional(),
      advertisement: Part.optional(),
      qr_code: QrCode.optional(),
      microPayment: z.unknown().optional(),
      fallback: FallbackSchema.optional(),
    },
    unknownKeys('parameter'),
  ),
)

const ProviderId = z.union([z.number(), z.string()]).transform((value, ctx) => {
  // A JSON number past 2^53 − 1 was already rounded by JSON.parse: refuse it rather than guess.
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return String(value)
    ctx.addIssue({
      code: 'custom',
      message: 'must be a positive integer up to 2^53−1, or a decimal string up to 2^63−1',
    })
    return z.NEVER
  }
  if (isPositiveInt64(value)) return value
  ctx.addIssue({
    code: 'custom',
    message: 'must be a decimal string of a positive int64 (at most 2^63−1)',
  })
  return z.NEVER
})

const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/
const timeOfDay = (name: string) =>
  z
    .string({ error: `${name} must be a time of day such as 22:00` })
    .regex(TIME_OF_DAY, `${name} must be a time of day from 00:00 to 23:59 (HH:MM)`)

/** An IANA time zone name (Intl decides which it knows). */
export const TimeZone = z
  .string({ error: 'time_zone must be an IANA time zone such as Europe/Madrid' })
  .max(64, 'time_zone must be at most 64 characters')
  .refine(isTimeZone, 'time_zone must be an IANA time zone such as Europe/Madrid')

/** Quiet hours as the API takes them (decisions.md D44). */
export const QuietHoursSchema = z
  .strictObject(
    {
      start: timeOfDay('start').meta({ example: '22:00' }),
      end: timeOfDay('end').meta({ example: '08:00' }),
      time_zone: TimeZone.optional().meta({
        description: 'Where to read the wall clock when the recipient has no `time_zone`.',
        example: 'Europe/Madrid',
      }),
    },
    {
      error: (issue) =>
        unknownKeys('field').error(issue) ??
        'quiet_hours must be an object with start, end and optionally time_zone',
    },
  )
  .meta({
    description:
      "Each day from `start` to `end` (HH:MM on the wall clock of the recipient's `time_zone`, " +
      'else of this `time_zone`, else UTC; past midnight when `end` is earlier), nothing is ' +
      'sent: a message due then waits until the end. Equal times mean no quiet hours.',
  })

/** A recipient's quiet hours: read in the recipient's own `time_zone`. */
export const RecipientQuietHoursSchema = QuietHoursSchema.omit({ time_zone: true }).meta({
  description:
    'Each day from `start` to `end` (HH:MM on the wall clock of `time_zone`, else UTC; past ' +
    'midnight when `end` is earlier), nothing is sent to this recipient unless the request has ' +
    'quiet hours of its own. Equal times mean none.',
})

/** A rule as the parser gives it. */
export function toQuietHoursRule(
  rule: Partial<z.output<typeof QuietHoursSchema>> & { start: string; end: string },
): QuietHoursRule {
  return {
    start: rule.start,
    end: rule.end,
    ...(rule.time_zone === undefined ? {} : { timeZone: rule.time_zone }),
  }
}

export const ServicesRequestSchema = z.strictObject(
  {
    provider_id: ProviderId,
    service_token: z.uuid({ error: 'service_token must be a UUID' }),
    service_id: z.number({ error: 'service_id must be an integer' }).int().positive(),
    parameters: Parameters,
    send_at: z.iso
      .datetime({
        offset: true,
        error: 'send_at must be an RFC 3339 instant such as 2026-12-24T18:00:00+01:00',
      })
      .optional()
      .meta({
        description:
          `When to send, at most ${MAX_SCHEDULE_DAYS} days ahead; a time past is now. Until ` +
          'then the message is `scheduled` and may be cancelled.',
      }),
    quiet_hours: QuietHoursSchema.optional(),
  },
  unknownKeys('field'),
)

export type PartRequest = {
  title: string
  message: string
  channel: Channel
  link?: string
  picture?: Picture
  /** Text to draw as a QR code, which becomes the picture (drawQrCodes). */
  qrCode?: string
  /** Keep the picture at least until then (seconds since the epoch); it is a QR code's expiry. */
  pictureExpiresAt?: number
  /** WhatsApp: the template sent instead of the text (decisions.md D47). */
  template?: WhatsAppTemplate
}

export type QrCodeRequest = { content: string; label?: string; expiresAt?: number }

export type ServicesRequest = {
  providerId: string
  serviceToken: string
  serviceId: number
  destination?: string
  notification?: PartRequest
  advertisement?: PartRequest
  /** Also carried, as its image, by the notification (or else the advertisement). */
  qr_code?: QrCodeRequest
  /** When to send (decisions.md D44). */
  sendAt?: Date
  /** The request's own quiet hours (decisions.md D44). */
  quietHours?: QuietHoursRule
  /** Push, then SMS (decisions.md D46). */
  fallback?: FallbackRule
}

/** Push, then SMS: when the push fails, or (with afterSeconds) is not acknowledged in time. */
export type FallbackRule = { channel: 'sms'; afterSeconds: number | null }

/** A fallback as the API takes it (request or service), checked: SMS only. */
export function toFallbackRule(
  value: { channel: string | number; after_seconds?: number | undefined },
  path: string,
): FallbackRule {
  if (toChannel(value.channel, `${path}.channel`) !== 'sms') {
    throw fieldError(`${path}.channel`, 'a push falls back to SMS only')
  }
  return { channel: 'sms', afterSeconds: value.after_seconds ?? null }
}

/** A fallback as the API shows it. */
export function fallbackView(rule: FallbackRule | null) {
  if (!rule) return null
  return {
    channel: rule.channel,
    ...(rule.afterSeconds === null ? {} : { after_seconds: rule.afterSeconds }),
  }
}

function toChannel(value: string | number, path: string): Channel {
  const name = String(value)
  // Enumerated values match as sent: "sms " is not quietly read as SMS.
  if (name !== name.trim()) {
    throw fieldError(path, 'a channel must not have leading or trailing spaces')
  }
  const channel = CHANNEL_CODES[name.toLowerCase()]
  if (channel) return channel
  throw new AppError(
    'unsupported_channel',
    `Channel ${JSON.stringify(value)} is not supported: use SMS (code 1), FCM (code 2) or ` +
      'WhatsApp (code 3).',
    { errors: [{ path, message: 'unsupported channel' }] },
  )
}

/**
 * Parses a /Services body. Throws 400 `invalid_request`, `unsupported_channel` or `not_supported`,
 * or 413 `payload_too_large` for a picture over 1 MiB. `now` decides whether a QR code's expiry
 * has passed.
 */
/**
 * The request with each part's QR code drawn as its picture (a PNG, decisions.md D19): drawing
 * compresses, which the platform does asynchronously, so parsing only checks the code's content.
 */
export async function drawQrCodes(request: ServicesRequest): Promise<ServicesRequest> {
  const draw = async (part: PartRequest | undefined) => {
    if (!part?.qrCode) return part
    const { qrCode, ...rest } = part
    return { ...rest, picture: await renderQrCode(qrCode) }
  }
  const [notification, advertisement] = await Promise.all([
    draw(request.notification),
    draw(request.advertisement),
  ])
  return {
    ...request,
    ...(notification ? { notification } : {}),
    ...(advertisement ? { advertisement } : {}),
  }
}

export function parseServicesRequest(body: unknown, now: Date): ServicesRequest {
  const result = ServicesRequestSchema.safeParse(body)
  if (!result.success) {
    throw invalidFields(toFieldErrors(result.error))
  }
  const { provider_id, service_token, service_id, parameters, send_at, quiet_hours } = result.data
  const sendAt = send_at === undefined ? undefined : new Date(send_at)
  if (sendAt && sendAt.getTime() > now.getTime() + MAX_SCHEDULE_DAYS * 24 * 60 * 60 * 1000) {
    throw fieldError('send_at', `send_at must be at most ${MAX_SCHEDULE_DAYS} days ahead`)
  }
  // decisions.md D15: document 001 leaves micropayments undefined
  // ("No sé a qué se refiere esto").
  if (parameters.microPayment !== undefined) {
    const detail = 'microPayment is not supported: document 001 does not define it.'
    throw new AppError('not_supported', detail, {
      errors: [{ path: 'parameters.microPayment', message: 'not supported' }],
    })
  }
  const fallback = parameters.fallback && toFallbackRule(parameters.fallback, 'parameters.fallback')
  const qrCode = parameters.qr_code && toQrCode(parameters.qr_code, now)
  // The QR code is the image of the notification, the ticket or coupon itself; failing that, of
  // the advertisement.
  const qrPart = !qrCode
    ? undefined
    : parameters.notification
      ? 'notification'
      : parameters.advertisement
        ? 'advertisement'
        : undefined
  if (qrCode && !qrPart) {
    const why = 'a QR code is sent with a notification or an advertisement'
    throw fieldError('parameters.qr_code', why)
  }

  const part = (name: 'notification' | 'advertisement'): PartRequest | undefined => {
    const value = parameters[name]
    if (!value) return undefined
    const channel = toChannel(value.channel, `parameters.${name}.channel`)
    const qr = name === qrPart ? qrCode : undefined
    if (qr && value.picture !== undefined) {
      const why = `the ${name} already carries a picture: send one image per part`
      throw fieldError('parameters.qr_code', why)
    }
    const message = qr?.label ? `${value.message}\n${qr.label}` : value.message
    if (chars(message) > MAX_MESSAGE_CHARS) {
      const why = `with the ${name}'s message, longer than ${MAX_MESSAGE_CHARS} characters`
      throw fieldError('parameters.qr_code.label', why)
    }
    // By SMS the link is part of the text: a link too long for one SMS is refused now rather than
    // accepted and then failed for good (UTF-16 units: never fewer than Twilio counts).
    const text = smsText({ title: value.title, body: message, link: value.link })
    const bySms = channel === 'sms' || (channel === 'fcm' && fallback)
    if (bySms && value.link && text.length > MAX_SMS_TEXT_CHARS) {
      const why =
        'with the title and message, longer than one SMS ' + `(${MAX_SMS_TEXT_CHARS} characters)`
      throw fieldError(`parameters.${name}.link`, why)
    }
    const template = toTemplate(value, channel, `parameters.${name}`)
    const picture =
      value.picture === undefined || qr
        ? undefined
        : decodePicture(value.picture, `parameters.${name}.picture`)
    return {
      title: value.title,
      message,
      channel,
      ...(value.link ? { link: value.link } : {}),
      ...(picture ? { picture } : {}),
      ...(qr ? { qrCode: qr.content } : {}),
      ...(qr?.expiresAt ? { pictureExpiresAt: qr.expiresAt } : {}),
      ...(template ? { template } : {}),
    }
  }
  const notification = part('notification')
  const advertisement = part('advertisement')
  if (fallback && notification?.channel !== 'fcm' && advertisement?.channel !== 'fcm') {
    throw fieldError('parameters.fallback', 'a fallback needs a part sent by FCM')
  }
  return {
    providerId: provider_id,
    serviceToken: service_token.toLowerCase(),
    serviceId: service_id,
    destination: parameters.destination,
    notification,
    advertisement,
    ...(qrCode ? { qr_code: qrCode } : {}),
    ...(sendAt ? { sendAt } : {}),
    ...(quiet_hours ? { quietHours: toQuietHoursRule(quiet_hours) } : {}),
    ...(fallback ? { fallback } : {}),
  }
}

/** A part's WhatsApp template: only on WhatsApp, and variables only with a template. */
function toTemplate(
  value: { content_sid?: string; content_variables?: Record<string, string> },
  channel: Channel,
  path: string,
): WhatsAppTemplate | undefined {
  const { content_sid: contentSid, content_variables: variables } = value
  if (contentSid === undefined && variables === undefined) return undefined
  if (channel !== 'whatsapp') {
    const field = contentSid === undefined ? 'content_variables' : 'content_sid'
    throw fieldError(`${path}.${field}`, 'templates are sent by WhatsApp only')
  }
  if (contentSid === undefined) {
    throw fieldError(`${path}.content_sid`, 'content_variables are sent with a content_sid')
  }
  return { contentSid, variables: variables ?? null }
}

function toQrCode(
  value: { content: string; label?: string; expires_at?: string },
  now: Date,
): QrCodeRequest {
  const expiresAt =
    value.expires_at === undefined ? undefined : Math.floor(Date.parse(value.expires_at) / 1000)
  if (expiresAt !== undefined && expiresAt <= epochSeconds(now)) {
    throw fieldError('parameters.qr_code.expires_at', 'expires_at is not in the future')
  }
  return {
    content: value.content,
    ...(value.label === undefined ? {} : { label: value.label }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  }
}

/** A rule as the API shows it. */
export function quietHoursView(rule: QuietHoursRule | null) {
  if (!rule) return null
  return {
    start: rule.start,
    end: rule.end,
    ...(rule.timeZone === undefined ? {} : { time_zone: rule.timeZone }),
  }
}
