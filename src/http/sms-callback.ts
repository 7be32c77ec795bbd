// Requests the SMS API makes to Portero (its status callbacks and inbound-message webhooks):
// refused unless signed with the account's auth token, or its secondary one during a rotation
// (X-Twilio-Signature over the URL as received and the form fields), and sent for this
// deployment's account. Only then are the fields read.
import type { Context } from 'hono'
import * as z from 'zod'
import { loadChannelConfig } from '../config.ts'
import { AppError } from '../errors.ts'
import { log } from '../log.ts'
import { SMS_SIGNATURE_HEADER, verifySmsSignature } from '../channels/sms-signature.ts'
import type { DeliveryReceipt } from '../channel.ts'
import { readSmsStatus } from '../channels/sms-status.ts'
import { readVonageReceipt, verifyVonageCallbackToken } from '../channels/sms-vonage.ts'
import type { AppEnv } from './app-env.ts'
import { parseWith } from './validate.ts'

const Field = z.string().max(200)

const MessageSid = Field.regex(
  /^[A-Z]{2}[0-9a-f]{32}$/,
  'a message sid: two letters, 32 hex digits',
)

/** The fields of a status callback Portero reads (the API sends more; they are signed too). */
export const SmsStatusForm = z
  .looseObject({
    MessageSid: MessageSid.meta({
      description: "The SMS API's id of the message (sid), as its send answered.",
    }),
    MessageStatus: Field.meta({
      description:
        'queued, sending, sent, delivered, undelivered or failed (accepted, scheduled, read… are ' +
        'taken as on the way and change nothing).',
    }),
    AccountSid: Field.meta({ description: "Must be this deployment's SMS_ACCOUNT_SID." }),
    ErrorCode: Field.optional().meta({
      description: "The API's error code of an undelivered or failed message (e.g. 30003).",
    }),
  })
  .meta({ id: 'SmsStatusCallback' })

/**
 * The fields of a request the SMS API signed, read with `schema`, or throws: 501
 * `channel_not_configured` without SMS settings, 403 `invalid_signature` for a missing or wrong
 * signature, 400 `invalid_request` for missing fields, 403 `forbidden` for another account. The
 * body is read as sent: the signature covers every field, those Portero does not read included.
 * `expected` names what a deployment without SMS does not expect.
 */
async function readSignedSmsForm<S extends z.ZodType<{ AccountSid: string }>>(
  c: Context<AppEnv>,
  schema: S,
  expected: string,
): Promise<z.output<S>> {
  const sms = loadChannelConfig(c.env).sms
  if (!sms) {
    throw new AppError(
      'channel_not_configured',
      `SMS delivery is not configured on this deployment: it expects no ${expected}.`,
    )
  }
  const params = new URLSearchParams(new TextDecoder().decode(await c.req.arrayBuffer()))
  const signature = c.req.header(SMS_SIGNATURE_HEADER)
  // Twilio signs with whichever token is primary in its console: accepting both during a rotation
  // lets the operator promote the secondary there and swap the secrets here in either order.
  const verify = (token: string) => verifySmsSignature(token, c.req.url, params, signature)
  const verified =
    (await verify(sms.authToken)) ||
    (sms.secondaryAuthToken !== undefined && (await verify(sms.secondaryAuthToken)))
  if (!verified) {
    log('warn', 'SMS callback refused: bad signature', {
      requestId: c.get('requestId'),
      signed: signature !== undefined,
    })
    const detail = signature
      ? `The ${SMS_SIGNATURE_HEADER} header is not the SMS API's signature of this request.`
      : `The ${SMS_SIGNATURE_HEADER} header is missing: only the SMS API may call this endpoint.`
    throw new AppError('invalid_signature', detail)
  }
  const fields = parseWith(schema, Object.fromEntries(params))
  if (fields.AccountSid !== sms.accountSid) {
    throw new AppError('forbidden', "AccountSid is not this deployment's SMS account.")
  }
  return fields
}

/** Reads a status callback the SMS API signed, or throws as readSignedSmsForm does. */
export async function readSignedSmsStatus(c: Context<AppEnv>): Promise<DeliveryReceipt> {
  return readSmsStatus(await readSignedSmsForm(c, SmsStatusForm, 'SMS status callbacks'))
}

/** The fields of an inbound-message webhook Portero reads (the API sends more; all signed). */
export const SmsInboundForm = z
  .looseObject({
    AccountSid: Field.meta({ description: "Must be this deployment's SMS_ACCOUNT_SID." }),
    MessageSid: MessageSid.meta({
      description:
        "The SMS API's id of the inbound message: a STOP or START with a sid applied before " +
        'changes nothing (a replay).',
    }),
    From: Field.optional().meta({
      description: 'The number that sent the message (E.164; WhatsApp: `whatsapp:+E164`).',
    }),
    To: Field.optional().meta({ description: 'The sender number it was sent to.' }),
    Body: z
      .string()
      .max(2000)
      .optional()
      .meta({
        description:
          'STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE or OPTOUT suppress From; ' +
          'START, UNSTOP or YES lift that (any case). Anything else changes nothing.',
      }),
    OptOutType: Field.optional().meta({
      description:
        'Sent by the API when the sender uses Advanced Opt-Out and Body is one of its keywords: STOP suppresses From, START lifts that, HELP changes nothing, whatever Body says.',
    }),
  })
  .meta({ id: 'SmsInboundMessage' })

/**
 * An inbound message the SMS API signed: its sid, who sent it and its text. Throws as
 * readSignedSmsForm.
 */
export async function readSignedSmsInbound(
  c: Context<AppEnv>,
): Promise<{ messageSid: string; from: string; body: string; optOutType: string | undefined }> {
  const fields = await readSignedSmsForm(c, SmsInboundForm, 'inbound SMS')
  return {
    messageSid: fields.MessageSid,
    from: fields.From ?? '',
    body: fields.Body ?? '',
    optOutType: fields.OptOutType,
  }
}

/** The fields of the secondary route's (Vonage's) delivery receipt Portero reads. */
export const VonageReceiptFields = z
  .looseObject({
    messageId: Field.min(1),
    status: Field.meta({
      description:
        'delivered, expired, failed, rejected; accepted, buffered, unknown change nothing.',
    }),
    'err-code': Field.optional(),
  })
  .meta({ id: 'SmsRouteReceipt' })

/**
 * A delivery receipt of the secondary SMS route and the send shard it names, or throws: 501
 * `channel_not_configured` without that route, 403 `invalid_signature` when `token` is not
 * Portero's for the URL's `shard`, 400 `invalid_request` for missing fields. The fields come from
 * the query (GET, Vonage's default) or a JSON body (POST-JSON).
 */
export async function readVonageDeliveryReceipt(
  c: Context<AppEnv>,
): Promise<{ shard: string; receipt: DeliveryReceipt }> {
  const route = loadChannelConfig(c.env).smsSecondary
  if (!route) {
    throw new AppError(
      'channel_not_configured',
      'This deployment has no secondary SMS route: it expects no receipts from one.',
    )
  }
  const query = new URL(c.req.url).searchParams
  const shard = query.get('shard') ?? ''
  if (!(await verifyVonageCallbackToken(route.apiSecret, shard, query.get('token') ?? undefined))) {
    log('warn', 'secondary SMS route receipt refused: bad token', {
      requestId: c.get('requestId'),
    })
    throw new AppError(
      'invalid_signature',
      "The token is not Portero's for this receipt URL: only the SMS route may call it.",
    )
  }
  let fields: Record<string, unknown> = Object.fromEntries(query)
  if (c.req.method === 'POST') {
    // requireJson has checked the media type and that the body is JSON.
    const body: unknown = await c.req.json()
    fields = { ...fields, ...(typeof body === 'object' && body !== null ? body : {}) }
  }
  const read = parseWith(VonageReceiptFields, fields)
  return {
    shard,
    receipt: readVonageReceipt({
      messageId: read.messageId,
      status: read.status,
      errCode: read['err-code'],
    }),
  }
}
