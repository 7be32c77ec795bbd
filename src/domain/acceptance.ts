// Deciding a /Services message against its provider's send facts (decisions.md D9–D13, D28, D44,
// D48): the service and subscription, the parameters and channels, the destination and its
// addresses, the suppression list, and when it is due. Run by the provider's send shard, on its
// copy of those facts, in the transaction that then counts the quotas and stores the message: the
// Worker sends what only it can do (the parsed request, the pictures' URLs, the message's id) and
// the shard answers in one call (src/shards/send-shard.ts accept).
import { AppError, invalidFields, type ErrorCode, type FieldError } from '../errors.ts'
import { CHANNEL_LABELS, WHATSAPP_SESSION_HOURS, type Channel } from '../channel.ts'
import type { BatchRead } from '../storage/batch.ts'
import type { Delivery, Message, NewDelivery, Part, StoredMessage } from '../storage/messages.ts'
import { selectSendSettings, type SendSettings } from '../storage/providers.ts'
import { selectRecipient, type Recipient } from '../storage/recipients.ts'
import { selectServiceById, type Service } from '../storage/services.ts'
import type { GroupOutcome, SqlOutcome, SqlStatement } from '../storage/shard-database.ts'
import { selectSubscriptionByToken, type Subscription } from '../storage/subscriptions.ts'
import { selectSuppression, type Suppression } from '../storage/suppressions.ts'
import type { FallbackRule, PartRequest, ServicesRequest } from './dispatch-request.ts'
import type { Admission } from './admission.ts'
import { destinationKey, effectiveQuotas, type QuotaRefusal, type SendQuotas } from './quotas.ts'
import { dueTime, quietHoursFor } from './schedule.ts'
import { canonicalPhone, E164 } from '../utils/e164.ts'

const PARTS = ['notification', 'advertisement'] as const

/** What the Worker sends its provider's shard for a /Services request. */
export type AcceptanceInput = {
  /** Parsed and checked for its shape; the parts' pictures left out (see pictureUrls). */
  request: ServicesRequest
  /** Where each part's picture is published (decisions.md D19). */
  pictureUrls: Partial<Record<Part, string>>
  requestHash: string
  idempotencyKey: string | null
  /** Its id, naming the shard called (domain/message-ids.ts). */
  messageId: string
  createdAt: string
  /** How many shards the Worker knows the provider to have (it routed by that). */
  shards: number
  /** The channels this deployment is configured to deliver on. */
  channels: Channel[]
  /** The deployment's default send quotas; the provider may have its own. */
  defaultQuotas: SendQuotas
}

/** What the checks read, from the shard's copy of the send facts. */
export type SendFacts = {
  service: Service | null
  subscription: Subscription | null
  recipient: Recipient | null
  suppression: Suppression | null
  settings: SendSettings
}

/** The reads of SendFacts, on the shard's database, for one request. */
export function sendFactReads(db: D1Database, input: AcceptanceInput) {
  const { request } = input
  const to = request.destination
  // A request's fallback may send SMS too (decisions.md D46).
  const bySms = PARTS.some((part) => request[part]?.channel === 'sms') || !!request.fallback
  return {
    service: selectServiceById(db, request.serviceId),
    subscription: selectSubscriptionByToken(db, request.serviceToken),
    recipient: to ? selectRecipient(db, request.providerId, to) : null,
    suppression: to && bySms ? selectSuppression(db, request.providerId, to) : null,
    settings: selectSendSettings(db, request.providerId),
  } satisfies Record<keyof SendFacts, BatchRead<unknown> | null>
}

/** A message that passed every check: what to store, and what the quotas are to count. */
export type AcceptancePlan = {
  message: Message
  parts: NewDelivery[]
  /** Epoch seconds it is due, when later than now (decisions.md D44). */
  scheduledFor: number | null
  admission: Admission
}

/**
 * The checks of a /Services request, in the order their errors are answered: 400
 * `unknown_service`, 403 `forbidden` (subscription, disabled service), 400 `invalid_request` (the
 * service's parameters), `unsupported_channel`, 501 `channel_not_configured`, 400
 * `unknown_destination`, `destination_unreachable`, `direct_number_not_allowed`,
 * `recipient_suppressed`, `whatsapp_opt_in_required`, `template_required`. Throws AppError.
 */
export function planAcceptance(facts: SendFacts, input: AcceptanceInput): AcceptancePlan {
  const { request } = input
  const { service, subscription, settings } = facts
  if (!service) {
    throw new AppError('unknown_service', `There is no service ${request.serviceId}.`, {
      errors: [{ path: 'service_id', message: 'no such service' }],
    })
  }
  // decisions.md D9: the token of this provider's subscription to this service, and only that.
  if (
    !subscription ||
    subscription.status !== 'active' ||
    subscription.providerId !== request.providerId ||
    subscription.serviceId !== request.serviceId
  ) {
    const detail = 'service_token is not an active subscription of this provider to this service.'
    throw new AppError('forbidden', detail)
  }
  if (!service.enabled) throw new AppError('forbidden', `Service ${service.id} is disabled.`)
  checkParameters(service, request)
  const requested = PARTS.flatMap((part) => {
    const content = request[part]
    return content ? [{ part, content }] : []
  })
  // A sandbox provider's messages go to no channel, configured or not.
  const { sandbox } = settings
  const byPush = requested.some(({ content }) => content.channel === 'fcm')
  // The service's fallback applies unless the request has its own, where it can (D46).
  const byDefault =
    service.fallback?.channel === 'sms' &&
    service.allowedChannels.includes('sms') &&
    (sandbox || input.channels.includes('sms'))
  const fallback = byPush ? (request.fallback ?? (byDefault ? service.fallback : null)) : null
  const channels = requested.map(({ content }) => content.channel)
  for (const channel of request.fallback ? [...channels, request.fallback.channel] : channels) {
    if (!sandbox && !input.channels.includes(channel)) {
      // RFC 9110 §15.6.2: the server lacks what the request needs, lastingly; 503 (§15.6.4) would
      // promise that a retry could succeed.
      const detail = `${CHANNEL_LABELS[channel]} delivery is not configured on this deployment.`
      throw new AppError('channel_not_configured', detail)
    }
  }
  const destination = request.destination!
  const now = new Date(input.createdAt)
  // decisions.md D44: a message due later is stored scheduled, and the shard's alarm enqueues it.
  const quietHours = quietHoursFor(request.quietHours, facts.recipient, service.quietHours)
  const due = dueTime(now, request.sendAt, quietHours)
  const parts = requested.flatMap(({ part, content }): NewDelivery[] => {
    const base = {
      part,
      title: content.title,
      body: content.message,
      link: content.link ?? null,
      pictureUrl: input.pictureUrls[part] ?? null,
    }
    const plan = planFallback(fallback, facts.recipient, content.channel)
    // No token to push to: the part goes by SMS from the start (docs/sending.md).
    if (plan?.now) return [{ ...base, id: crypto.randomUUID(), channel: 'sms', address: plan.now }]
    const addresses = addressesFor(service, facts.recipient, destination, content.channel, part)
    if (content.channel === 'whatsapp') {
      checkWhatsAppSession(facts.recipient!, content, part, due ?? now)
    }
    return addresses.map((address): NewDelivery => ({
      ...base,
      id: crypto.randomUUID(),
      channel: content.channel,
      address,
      template: content.template ?? null,
      ...(plan?.later
        ? { fallbackAddress: plan.later, fallbackAfter: fallback!.afterSeconds }
        : {}),
    }))
  })
  if (facts.suppression && parts.some((p) => p.channel === 'sms')) {
    throw suppressed(facts.suppression)
  }
  const message: Message = {
    id: input.messageId,
    providerId: request.providerId,
    serviceId: request.serviceId,
    idempotencyKey: input.idempotencyKey,
    requestHash: input.requestHash,
    destination,
    createdAt: input.createdAt,
    sandbox,
  }
  return {
    message,
    parts,
    // Whole seconds, rounded up: never sent before the time asked.
    scheduledFor: due && Math.ceil(due.getTime() / 1000),
    admission: {
      providerId: request.providerId,
      shards: input.shards,
      idempotencyKey: input.idempotencyKey,
      requestHash: input.requestHash,
      destinationKey: destinationKey(destination, facts.recipient?.phone ?? null),
      quotas: effectiveQuotas(input.defaultQuotas, settings.quotas),
      sandbox,
    },
  }
}

/** A refusal as it crosses from the shard to the Worker, which throws it again. */
export type Refusal = { code: ErrorCode; detail: string; errors?: FieldError[] }

export function toRefusal(error: AppError): Refusal {
  const { errors } = error.options
  return { code: error.code, detail: error.message, ...(errors ? { errors } : {}) }
}

export function fromRefusal({ code, detail, errors }: Refusal): AppError {
  return new AppError(code, detail, errors ? { errors } : {})
}

export type AcceptanceResult =
  /** Admitted and stored. */
  | { outcome: 'stored'; message: Message; deliveries: Delivery[] }
  /** The Idempotency-Key's message, stored already, admitted before. */
  | { outcome: 'found'; stored: StoredMessage }
  | { outcome: 'conflict' }
  | { outcome: 'over_quota'; refusal: QuotaRefusal }
  /** A check refused it (planAcceptance). */
  | { outcome: 'refused'; refusal: Refusal }
  /** Not this shard's destination by the provider's number of shards now: ask the first. */
  | { outcome: 'misrouted' }

/** A provider's send shard as the Worker calls it (src/shards/send-shard.ts). */
export interface SendShardApi {
  /**
   * Checks a /Services message against the shard's send facts, then admits it (its quotas and
   * key) and stores it, in one transaction; a key's message found stored is answered as it is.
   */
  accept(input: AcceptanceInput): Promise<AcceptanceResult>
  /** Runs statements on the shard's database in one transaction (src/storage/shard-database.ts). */
  run(statements: SqlStatement[]): Promise<SqlOutcome[]>
  /** run, on send facts no older than the most a check may see (decisions.md D48). */
  runFresh(statements: SqlStatement[]): Promise<SqlOutcome[]>
  /**
   * Runs each group as run would, in a transaction of its own, in one call: a group that fails is
   * undone and answered with its error, the others are not.
   */
  runEach(groups: SqlStatement[][]): Promise<GroupOutcome[]>
  /** Brings the shard's copy of the send facts up to date now, if it has one. */
  syncFacts(): Promise<void>
  /** Drops everything the shard keeps of a provider that was deleted. */
  forget(): Promise<void>
}

function checkParameters(service: Service, request: ServicesRequest): void {
  const missing = service.requiredParameters.filter((p) => request[p] === undefined)
  if (!request.destination && !missing.includes('destination')) missing.push('destination')
  if (!request.notification && !request.advertisement) missing.push('notification')
  if (missing.length > 0) {
    const message = 'required by this service'
    const errors = missing.map((p) => ({ path: `parameters.${p}`, message }))
    throw invalidFields(errors, `Service ${service.id} needs: ${missing.join(', ')}.`)
  }
  for (const part of ['notification', 'advertisement', 'fallback'] as const) {
    const channel = request[part]?.channel
    if (channel && !service.allowedChannels.includes(channel)) {
      const detail = `Service ${service.id} does not deliver by ${CHANNEL_LABELS[channel]}.`
      throw new AppError('unsupported_channel', detail, {
        errors: [
          {
            path: `parameters.${part}.channel`,
            message: `allowed: ${service.allowedChannels.join(', ')}`,
          },
        ],
      })
    }
  }
}

const SUPPRESSED_BECAUSE: Record<Suppression['source'], string> = {
  directory: "opted out of SMS in this provider's directory",
  stop_reply: 'replied STOP',
  sms_api_error: 'unsubscribed, as the SMS API reported',
  admin: 'suppressed by an operator',
}

function suppressed(suppression: Suppression): AppError {
  const why = SUPPRESSED_BECAUSE[suppression.source]
  const detail = `The destination's phone number is on the suppression list (${why}); no SMS may go to it.`
  return new AppError('recipient_suppressed', detail, {
    errors: [{ path: 'parameters.destination', message: `suppressed: ${why}` }],
  })
}

/**
 * decisions.md D13: a recipient of the directory, or for SMS an E.164 number given directly where
 * the service allows it (decisions.md D28).
 */
function addressesFor(
  service: Service,
  recipient: Recipient | null,
  destination: string,
  channel: Channel,
  part: Part,
): string[] {
  const path = 'parameters.destination'
  if (!recipient) {
    if (channel !== 'fcm' && E164.test(destination)) {
      // decisions.md D37: sent, suppressed and counted as one phone however it is written.
      const phone = canonicalPhone(destination)
      checkDirectNumber(service, phone)
      // decisions.md D47: only the directory records a WhatsApp opt-in.
      if (channel === 'whatsapp') throw optInRequired(destination, 'outside the directory')
      return [phone]
    }
    const detail = `No recipient "${destination}" in this provider's directory.`
    throw new AppError('unknown_destination', detail, {
      errors: [
        {
          path,
          message: channel === 'fcm' ? 'not a recipient' : 'not a recipient nor an E.164 number',
        },
      ],
    })
  }
  const unreachable = (why: string) =>
    new AppError(
      'destination_unreachable',
      `Recipient "${destination}" ${why}; the ${part} cannot be sent.`,
      { errors: [{ path: `parameters.${part}.channel`, message: why }] },
    )
  if (channel === 'sms') {
    if (recipient.smsOptOut) throw unreachable('opted out of SMS')
    if (!recipient.phone) throw unreachable('has no phone number')
    return [recipient.phone]
  }
  if (channel === 'whatsapp') {
    if (!recipient.whatsappOptIn) throw optInRequired(destination, 'without a WhatsApp opt-in')
    if (!recipient.phone) throw unreachable('has no phone number')
    return [recipient.phone]
  }
  if (recipient.fcmOptOut) throw unreachable('opted out of push notifications')
  if (recipient.fcmTokens.length === 0) throw unreachable('has no FCM registration token')
  return recipient.fcmTokens
}

function optInRequired(destination: string, why: string): AppError {
  const detail =
    `"${destination}" is ${why}: WhatsApp messages go only to recipients who opted in ` +
    '(whatsapp_opt_in in /recipients).'
  return new AppError('whatsapp_opt_in_required', detail, {
    errors: [{ path: 'parameters.destination', message: 'no WhatsApp opt-in' }],
  })
}

/**
 * decisions.md D47: WhatsApp takes a free-form message only within 24 hours of the recipient's last
 * message to the sender, as Portero last heard of it; else a template. Judged at the time the
 * message is due (a scheduled one may be due after the window closes).
 */
function checkWhatsAppSession(
  recipient: Recipient,
  content: PartRequest,
  part: Part,
  due: Date,
): void {
  if (content.template) return
  const inbound = recipient.whatsappInboundAt
  const closes = inbound && Date.parse(inbound) + WHATSAPP_SESSION_HOURS * 60 * 60 * 1000
  if (closes && due.getTime() < closes) return
  const last = inbound ? `last at ${inbound}` : 'never'
  const detail =
    `Recipient "${recipient.userId}" has not written to the WhatsApp sender within ` +
    `${WHATSAPP_SESSION_HOURS} hours of when the ${part} is due (${last}): outside that ` +
    'session window only an approved template may go; send content_sid.'
  throw new AppError('template_required', detail, {
    errors: [{ path: `parameters.${part}.content_sid`, message: 'required outside the window' }],
  })
}

/**
 * Where a push part's SMS fallback goes (decisions.md D46): the recipient's phone, unless it opted
 * out of SMS or has none. `now` when the push cannot go at all (no token, or opted out of push),
 * `later` when it may fall back; null when there is no fallback.
 */
function planFallback(
  fallback: FallbackRule | null,
  recipient: Recipient | null,
  channel: Channel,
): { now?: string; later?: string } | null {
  if (!fallback || channel !== 'fcm' || !recipient?.phone || recipient.smsOptOut) return null
  const noPush = recipient.fcmOptOut || recipient.fcmTokens.length === 0
  return noPush ? { now: recipient.phone } : { later: recipient.phone }
}

/** 400 `direct_number_not_allowed` unless the service sends to this number outside the directory. */
function checkDirectNumber(service: Service, number: string): void {
  const path = 'parameters.destination'
  if (!service.directNumbers) {
    const detail =
      `Service ${service.id} sends to recipients of the directory only: ` +
      'give a user_id, or ask the operator to enable direct numbers for it.'
    throw new AppError('direct_number_not_allowed', detail, {
      errors: [{ path, message: 'a phone number outside the directory is not allowed' }],
    })
  }
  const codes = service.directNumberCountryCodes
  // ITU-T E.164 country calling codes form a prefix code: no code is the start of another.
  if (codes && !codes.some((code) => number.startsWith(`+${code}`))) {
    const allowed = codes.map((code) => `+${code}`).join(', ')
    const detail = `Service ${service.id} sends to numbers outside the directory only in ${allowed}.`
    throw new AppError('direct_number_not_allowed', detail, {
      errors: [{ path, message: `country calling code not allowed (allowed: ${allowed})` }],
    })
  }
}
