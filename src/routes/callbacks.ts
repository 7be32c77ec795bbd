// The SMS API's requests to Portero, signed by the API rather than authenticated by a token:
// POST /callbacks/sms/status, its delivery receipts (StatusCallback requests, sent because every
// SMS names this URL), and POST /callbacks/sms/inbound, its inbound-message webhook (a STOP reply
// to the sender number suppresses it, START lifts that: docs/sending.md "Suppression list").
import { refreshingSendFacts } from '../http/send-facts.ts'
import * as z from 'zod'
import { SEND_SHARD_NAME } from '../storage/shard-database.ts'
import { fieldError, notFound } from '../errors.ts'
import { receiveInboundSms, receiveInboundWhatsApp } from '../domain/suppressions.ts'
import { DELIVERY_STATUSES, type DeliveryReceipt } from '../channel.ts'
import { createRoute, documentedOnly, OpenApiApp } from '../http/openapi-app.ts'
import {
  readSignedSmsInbound,
  readSignedSmsStatus,
  readVonageDeliveryReceipt,
  SmsInboundForm,
  SmsStatusForm,
  VonageReceiptFields,
} from '../http/sms-callback.ts'
import { json, problem, problems, SECURITY } from '../openapi/operations.ts'

export const callbacks = new OpenApiApp()

/** Inbound webhooks are a few hundred bytes; the SMS API sends no more than a few KiB. */
export const SMS_INBOUND_BODY_BYTES = 8 * 1024

const ReceiptAnswer = z
  .object({
    outcome: z.enum(['applied', 'unchanged', 'pending']).meta({
      description:
        '`applied`: the delivery moved to the reported status. `unchanged`: a status on the way ' +
        '(queued, sending, sent, accepted: `status` null), a replay, or a report older than what ' +
        'the delivery already reached: nothing changed. `pending` (202): no delivery has this ' +
        'MessageSid yet; its final status is kept for 24 hours and applied when the send is ' +
        'recorded.',
    }),
    status: z
      .enum(DELIVERY_STATUSES)
      .nullable()
      .meta({
        description:
          "The delivery's status now; null while `pending`, and for a status on the way, which " +
          'is answered without reading the delivery.',
      }),
  })
  .meta({ id: 'SmsReceiptAnswer' })

const smsStatus = createRoute({
  method: 'post',
  path: '/sms/status',
  operationId: 'receiveSmsStatus',
  tags: ['Callbacks'],
  summary: "The SMS API's delivery receipts (status callbacks)",
  description:
    'Every SMS is sent with this URL as its `StatusCallback`, its `shard` naming the send shard ' +
    'that holds the delivery. Accepted only with a valid ' +
    '`X-Twilio-Signature` (base64 HMAC-SHA1, keyed with the SMS auth token, over this URL as ' +
    'received followed by every form field name and value, sorted by name) and `AccountSid` ' +
    "equal to this deployment's: otherwise 403 and nothing changes. `delivered` moves the " +
    'delivery to delivered, `undelivered` and `failed` to undelivered or failed with `ErrorCode` ' +
    '(21610, a STOP reply, also marks the recipient opted out of SMS and suppresses the number ' +
    'for every provider). A final status is never overwritten: a replayed, late or ' +
    'out-of-order receipt answers 200 `unchanged`, and so does a status on the way (queued, ' +
    'sending, sent), without reading the delivery. A final receipt for a MessageSid no delivery has ' +
    "yet (it overtook the send's answer) answers 202 `pending`: its final status is kept for " +
    '24 hours and applied when the send is recorded.',
  security: SECURITY.smsSignature,
  request: {
    // Optional for the check before the handler, so the signature is checked first.
    query: z.object({
      shard: z
        .string()
        .optional()
        .meta({
          description:
            'Required: the send shard of the delivery (`provider:<id>` or `provider:<id>:<k>`), ' +
            'as Portero wrote it into the URL; covered by the signature, and read after it.',
        }),
    }),
    body: {
      required: true,
      content: { 'application/x-www-form-urlencoded': { schema: documentedOnly(SmsStatusForm) } },
    },
  },
  responses: {
    200: json('The receipt was read; `outcome` says whether it changed anything.', ReceiptAnswer),
    202: json(
      '`pending`: no SMS delivery has this MessageSid yet; a final status waits for it.',
      ReceiptAnswer,
    ),
    400: problem(
      '`invalid_request`: a signed request without MessageSid or MessageStatus, or a URL whose ' +
        '`shard` is missing or malformed.',
    ),
    403: problem(
      '`invalid_signature`: no or a wrong `X-Twilio-Signature`; `forbidden`: another account.',
    ),
    404: problem(
      '`not_found`: no SMS delivery has this MessageSid, and too many receipts wait for theirs ' +
        'to keep this one.',
    ),
    ...problems(413, 415),
    501: problem('`channel_not_configured`: this deployment sends no SMS.'),
  },
})

callbacks.openapi(smsStatus, async (c) => {
  const report = await readSignedSmsStatus(c)
  // Read after the signature: only a URL Portero gave the SMS API gets this far.
  const shard = c.req.query('shard')
  if (shard === undefined || !SEND_SHARD_NAME.test(shard)) {
    throw fieldError('shard', 'a send shard name', 'The status-callback URL names no send shard.')
  }
  const result = await applyReceipt(c.env, shard, report)
  return c.json(result, result.outcome === 'pending' ? 202 : 200)
})

const ROUTE_RECEIPT_DESCRIPTION =
  "The second SMS route's (Vonage's) delivery receipts, at the `callback` URL Portero gave it " +
  '(docs/sending.md "A second SMS route"). Read as `/callbacks/sms/status`; `err-code` as ' +
  '`vonage-<code>`.'

const routeReceiptResponses = {
  200: json('Read; `outcome` says whether it changed anything.', ReceiptAnswer),
  202: json('`pending`: no delivery has this message id yet.', ReceiptAnswer),
  400: problem('`invalid_request`: no `messageId` or `status`, or no `shard`.'),
  403: problem('`invalid_signature`: not the `token` of this `shard`.'),
  404: problem('`not_found`: no delivery has it, and no more receipts can wait.'),
  ...problems(413, 415),
  501: problem('`channel_not_configured`: no second SMS route.'),
}

const RouteReceiptQuery = z.object({ shard: z.string().optional(), token: z.string().optional() })

const smsRouteReceiptGet = createRoute({
  method: 'get',
  path: '/sms/vonage',
  operationId: 'receiveSmsRouteReceipt',
  tags: ['Callbacks'],
  summary: "The second SMS route's delivery receipts (GET)",
  description: ROUTE_RECEIPT_DESCRIPTION,
  security: SECURITY.smsRouteToken,
  // Optional for the check before the handler, so the token is checked first.
  request: { query: RouteReceiptQuery.extend(VonageReceiptFields.partial().shape) },
  responses: routeReceiptResponses,
})

const smsRouteReceiptPost = createRoute({
  method: 'post',
  path: '/sms/vonage',
  operationId: 'postSmsRouteReceipt',
  tags: ['Callbacks'],
  summary: "The second SMS route's delivery receipts (POST-JSON)",
  description: ROUTE_RECEIPT_DESCRIPTION,
  security: SECURITY.smsRouteToken,
  request: {
    query: RouteReceiptQuery,
    body: {
      required: true,
      content: {
        'application/json': { schema: documentedOnly(VonageReceiptFields) },
      },
    },
  },
  responses: routeReceiptResponses,
})

for (const definition of [smsRouteReceiptGet, smsRouteReceiptPost]) {
  callbacks.openapi(definition, async (c) => {
    const { shard, receipt } = await readVonageDeliveryReceipt(c)
    // Read after the token: only a URL Portero gave the route gets this far.
    if (!SEND_SHARD_NAME.test(shard)) {
      throw fieldError('shard', 'a send shard name', 'The receipt URL names no send shard.')
    }
    const result = await applyReceipt(c.env, shard, receipt)
    return c.json(result, result.outcome === 'pending' ? 202 : 200)
  })
}

/**
 * A receipt of either SMS route, applied by the shard that holds its delivery in one call
 * (domain/delivery-receipts.ts). A status on the way (queued, sending, sent…) changes nothing
 * wherever its delivery is, so it is answered without a call to the shard: one call less per SMS.
 */
async function applyReceipt(env: Env, shard: string, receipt: DeliveryReceipt) {
  if (receipt.outcome === 'progress') return { outcome: 'unchanged' as const, status: null }
  const result = await env.SEND_SHARDS.getByName(shard).receipt(receipt)
  if (result.outcome === 'refused') {
    throw notFound(
      `No SMS delivery has the message id ${receipt.messageSid}, and no more receipts can ` +
        'wait for one now.',
    )
  }
  return result
}

/** Empty TwiML: the SMS API sends no reply of ours (its own opt-out answer still goes out). */
const EMPTY_TWIML = '<Response/>'

const smsInbound = createRoute({
  method: 'post',
  path: '/sms/inbound',
  operationId: 'receiveSmsInbound',
  tags: ['Callbacks'],
  summary: "The SMS API's inbound-message webhook (STOP / START, WhatsApp's session window)",
  description:
    'Configure `{ISSUER}/callbacks/sms/inbound` as the sender number\'s "A message comes in" ' +
    "webhook (HTTP POST), and as the WhatsApp sender's: a message `From` `whatsapp:+E164` opens " +
    'the 24-hour session window of every recipient with that phone (an opt-out word withdraws ' +
    'their WhatsApp opt-in) and touches no SMS suppression. Accepted only ' +
    'with a valid `X-Twilio-Signature` (as for ' +
    "`/callbacks/sms/status`) and `AccountSid` equal to this deployment's: otherwise 403 and " +
    'nothing changes. Each `MessageSid` is applied once: the signature has no timestamp, so a ' +
    'replayed STOP or START (answered as any other) changes nothing.',
  security: SECURITY.smsSignature,
  request: {
    body: {
      required: true,
      content: {
        'application/x-www-form-urlencoded': {
          schema: documentedOnly(SmsInboundForm),
          example: {
            AccountSid: 'AC00000000000000000000000000000000',
            From: '+5491155550000',
            To: '+15005550006',
            Body: 'STOP',
            MessageSid: 'SM00000000000000000000000000000000',
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: 'Done (or nothing to do): empty TwiML.',
      content: { 'text/xml': { schema: z.string(), example: EMPTY_TWIML } },
    },
    400: problem('`invalid_request`: a signed request without AccountSid or MessageSid.'),
    403: problem(
      '`invalid_signature`: no or a wrong `X-Twilio-Signature`; `forbidden`: another account.',
    ),
    ...problems(413, 415),
    501: problem('`channel_not_configured`: this deployment sends no SMS.'),
  },
})

callbacks.openapi(smsInbound, async (c) => {
  const inbound = await readSignedSmsInbound(c)
  // A STOP or START changes the suppression list, a WhatsApp message its sender's session window:
  // the send shards' copies are brought up to date before the answer (decisions.md D48).
  await refreshingSendFacts(c.env, async () => {
    // decisions.md D47: the WhatsApp sender's webhook may be this one too; Twilio tells WhatsApp
    // by the `whatsapp:` prefix.
    if (inbound.from.startsWith('whatsapp:')) {
      await receiveInboundWhatsApp(c.env.DB, inbound, new Date())
    } else {
      await receiveInboundSms(c.env.DB, inbound, c.get('requestId'))
    }
    return true
  })
  c.header('content-type', 'text/xml; charset=utf-8')
  c.header('cache-control', 'no-store')
  return c.body(EMPTY_TWIML, 200)
})
