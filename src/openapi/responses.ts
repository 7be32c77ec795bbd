// Zod schemas of the answers, for the OpenAPI description only: requests are described by the
// very schemas that validate them, answers by these.
import * as z from 'zod'
import { CHANNELS, DELIVERY_STATUSES, MESSAGE_STATUSES, SMS_ROUTES } from '../channel.ts'
import { ERRORS } from '../errors.ts'

export const Problem = z
  .object({
    type: z.string().meta({ example: 'urn:portero:error:invalid_request' }),
    title: z.string(),
    status: z.int(),
    detail: z.string().meta({ description: 'What went wrong, for people.' }),
    code: z.enum(Object.keys(ERRORS) as [string, ...string[]]),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    ack: z
      .int()
      .optional()
      .meta({ description: 'Bridge dialect (document 003): 899, 898, 897, 896 or 999.' }),
    status_code: z.int().optional().meta({ description: 'Yativo dialect (document 002).' }),
    message: z.string().optional().meta({ description: 'Yativo dialect (document 002).' }),
    data: z.null().optional().meta({ description: 'Yativo dialect (document 002): always null.' }),
    error: z.string().optional().meta({ description: 'OAuth endpoints (RFC 6749 §5.2).' }),
    error_description: z
      .string()
      .optional()
      .meta({ description: 'OAuth endpoints (RFC 6749 §5.2).' }),
  })
  .meta({
    id: 'Problem',
    description: 'RFC 9457 problem details, with the members each dialect reads.',
  })

export const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.enum(['Bearer', 'DPoP']).meta({
      description:
        "`DPoP` for a token bound to the key of the request's DPoP proof (RFC 9449 §5), sent as " +
        '`Authorization: DPoP` with a proof; `Bearer` otherwise, a certificate-bound token too ' +
        '(RFC 8705 §3).',
    }),
    expires_in: z.int(),
    scope: z.string(),
  })
  .meta({ id: 'TokenResponse' })

export const BridgeLoginResponse = z
  .object({ ack: z.literal(0), token: z.string(), expires_in: z.int() })
  .meta({ id: 'BridgeLoginResponse' })

export const YativoLoginResponse = z
  .object({
    status: z.literal('success'),
    status_code: z.literal(200),
    message: z.string(),
    data: z.object({
      access_token: z.string(),
      token_type: z.literal('bearer'),
      expires_in: z.int(),
    }),
  })
  .meta({ id: 'YativoLoginResponse' })

export const AccessTokenClaims = z.object({
  iss: z.string(),
  sub: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  client_id: z.string(),
  scope: z.string(),
  jti: z.string(),
  iat: z.int(),
  nbf: z.int(),
  exp: z.int(),
  provider_id: z.string().nullable().meta({ description: 'int64 as a decimal string' }),
  gen: z
    .int()
    .optional()
    .meta({
      description:
        "The generation of its client's credentials it was minted under (epoch milliseconds); " +
        'absent from tokens minted before generations existed (decisions.md D34).',
    }),
  cnf: z
    .object({
      jkt: z.string().optional().meta({
        description: "The DPoP key's RFC 7638 SHA-256 thumbprint, base64url (RFC 9449 §6.1).",
      }),
      'x5t#S256': z.string().optional().meta({
        description: "The client certificate's SHA-256, base64url (RFC 8705 §3.1).",
      }),
    })
    .optional()
    .meta({ description: 'The key a bound token is confirmed by (RFC 7800); absent: bearer.' }),
})

export const MeResponse = AccessTokenClaims.extend({
  ack: z.literal(0),
  active: z.literal(true),
}).meta({
  id: 'MeResponse',
})

export const IntrospectionResponse = z
  .union([
    z.object({ active: z.literal(false) }),
    AccessTokenClaims.extend({
      active: z.literal(true),
      username: z.string(),
      token_type: z.enum(['Bearer', 'DPoP']).meta({
        description: '`DPoP` when `cnf.jkt` binds the token to a DPoP key (RFC 9449 §6.2).',
      }),
      ti: z.string().meta({ description: "Document 001's name for jti." }),
    }),
  ])
  .meta({ id: 'IntrospectionResponse' })

export const Jwks = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())) })
  .meta({ id: 'JWKS' })
export const Metadata = z
  .record(z.string(), z.unknown())
  .meta({ id: 'AuthorizationServerMetadata' })
export const Health = z.object({ status: z.literal('ok') })

const STATUS_DESCRIPTION =
  '`queued` (waiting for an attempt), `sending` (an attempt in flight), `sent` (the channel ' +
  "accepted it; a push stays so until the app acknowledges it), `delivered` (the SMS API's " +
  'receipt says the handset got it, or the app acknowledged the push), `undelivered` (the carrier could not deliver it), `failed` (refused for good, at send ' +
  'time or by a receipt, or cancelled: error_code `cancelled`), `dead` (out of attempts).'

const Timestamp = z.string().nullable()

const QuietHours = z
  .object({ start: z.string(), end: z.string(), time_zone: z.string().optional() })
  .meta({ id: 'QuietHours' })

const DeliveryEvent = z.object({
  status: z.enum(DELIVERY_STATUSES),
  at: z.string(),
  attempt: z.int().meta({ description: 'The attempt count when the status changed.' }),
  error_code: z.string().nullable().meta({ description: "The channel's error code, if any." }),
  detail: z.string().nullable().meta({ description: 'Why it failed or will be retried.' }),
})

const Delivery = z.object({
  id: z.string(),
  part: z.enum(['notification', 'advertisement']),
  channel: z.enum(CHANNELS),
  to: z.string().meta({ description: 'Masked phone number or registration token.' }),
  status: z.enum(DELIVERY_STATUSES).meta({ description: STATUS_DESCRIPTION }),
  attempts: z.int(),
  last_error: z
    .string()
    .nullable()
    .meta({
      description:
        "Why the last attempt failed. A failure of the operator's own channel settings " +
        '(credentials refused, a wrong account or project) reads ' +
        "'delivery channel unavailable; the operator has been notified'.",
    }),
  error_code: z.string().nullable().meta({
    description:
      "The channel's own code of the last failure (the SMS API's ErrorCode, e.g. 30003).",
  }),
  provider_message_id: z.string().nullable(),
  picture_url: z.string().nullable().meta({
    description:
      'The public URL of the picture this delivery carries (FCM image, MMS media or link), if any.',
  }),
  content_sid: z.string().nullable().meta({
    description: 'WhatsApp: the template (ContentSid) sent instead of the text; null otherwise.',
  }),
  updated_at: z.string(),
  sent_at: z.string().nullable(),
  scheduled_for: z
    .string()
    .nullable()
    .meta({
      description:
        'While it waits for its time (`send_at`, or the end of quiet hours) and may still be ' +
        'cancelled: when it is due. Null once handed to the queue.',
    }),
  fallback_delivery_id: z
    .string()
    .nullable()
    .meta({ description: 'The SMS sent in place of this push.' }),
  fallback_of: z.string().nullable().meta({ description: 'The push this SMS replaces.' }),
  reached: z
    .object({
      queued: Timestamp,
      sending: Timestamp,
      sent: Timestamp,
      delivered: Timestamp,
      undelivered: Timestamp,
      failed: Timestamp,
      dead: Timestamp,
    })
    .meta({
      description: 'When the delivery first reached each step; null for a step it has not.',
    }),
  route: z.enum(SMS_ROUTES).nullable().meta({
    description: 'The SMS route it goes by (decisions.md D45); null for a push.',
  }),
  events: z.array(DeliveryEvent).optional().meta({
    description: 'The timeline: every status change, oldest first (GET only).',
  }),
})

export const Message = z
  .object({
    id: z.string().meta({
      description:
        "Opaque to clients. It names the send shard that holds the message, its provider's " +
        '(`p<provider_id>_…`), so a status read goes straight there.',
      example: 'p1001_6b1f0e1c3d4a4f0e9a7b2c5d8e9f0a1b',
    }),
    status: z.enum(MESSAGE_STATUSES).meta({
      description:
        '`scheduled` while every delivery waits for its time (`scheduled_for`, and may be ' +
        'cancelled); `cancelled` once every one was. Else `queued` or `sending` while any ' +
        'delivery is. Then with none failed: `delivered` when ' +
        'every delivery was delivered, else `sent` (receipts or acks awaited; a push that fell ' +
        'back counts as its SMS). With some ' +
        'failed (undelivered, failed or dead): `partially_delivered` if at least one other was ' +
        'delivered, else `partially_sent`. With all failed: `dead` if any ran out of attempts, ' +
        'else `undelivered` if any reached the carrier, else `failed`.',
    }),
    provider_id: z.string(),
    service_id: z.int(),
    destination: z.string(),
    created_at: z.string(),
    scheduled_for: z
      .string()
      .nullable()
      .meta({
        description:
          'When a `scheduled` message is due (the latest of its deliveries); null otherwise. ' +
          'Quotas counted it when it was accepted, not when it is sent.',
        example: '2026-12-24T17:00:00.000Z',
      }),
    sandbox: z.boolean().meta({
      description:
        "Sent to no channel: its provider is in the sandbox, and its deliveries' statuses are " +
        'simulated from their destinations (docs/sending.md "Sandbox").',
    }),
    deliveries: z.array(Delivery),
  })
  .meta({ id: 'Message' })

export const Recipient = z
  .object({
    user_id: z.string(),
    phone: z.string().nullable(),
    fcm_tokens: z.array(z.string()),
    fcm_token_registered_at: z.record(z.string(), z.string()).meta({
      description:
        'When each FCM token was last registered: sent in a POST, PUT or PATCH with fcm_tokens. ' +
        'Tokens not registered again within 270 days are removed, as FCM no longer accepts them.',
    }),
    sms_opt_out: z.boolean(),
    fcm_opt_out: z.boolean(),
    time_zone: z.string().nullable().meta({
      description: "The recipient's IANA time zone, where quiet hours are read; null: unknown.",
      example: 'America/Argentina/Buenos_Aires',
    }),
    quiet_hours: QuietHours.nullable().meta({
      description: "The recipient's own quiet hours; null: none.",
    }),
    whatsapp_opt_in: z.boolean().meta({
      description: 'Whether the recipient opted in to WhatsApp messages; none go without it.',
    }),
    whatsapp_opt_in_at: z.string().nullable().meta({
      description: 'When the opt-in was recorded (kept while it holds); null without one.',
    }),
    whatsapp_last_inbound_at: z
      .string()
      .nullable()
      .meta({
        description:
          "When the recipient last wrote to the deployment's WhatsApp sender: free-form WhatsApp " +
          'messages may go for 24 hours after it, templates at any time.',
      }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Recipient' })

const Quotas = z.object({
  per_minute: z.int(),
  per_day: z.int(),
  per_destination_hour: z.int(),
})

export const Provider = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(['active', 'disabled']),
    quotas: Quotas.meta({
      description:
        'The send quotas in force: accepted /Services messages a minute, a UTC day and to one ' +
        'destination an hour (docs/sending.md "Send quotas").',
    }),
    quota_overrides: z
      .object({
        per_minute: z.int().nullable(),
        per_day: z.int().nullable(),
        per_destination_hour: z.int().nullable(),
      })
      .meta({ description: "The provider's own quotas; null: the deployment's default." }),
    send_shards: z.int().meta({
      description:
        'How many send shards admit its messages (docs/sending.md "A provider that sends a lot").',
    }),
    sandbox: z.boolean().meta({
      description:
        'Its messages are sent to no channel, their statuses simulated (docs/sending.md "Sandbox").',
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Provider' })

export const Client = z
  .object({
    client_id: z.string(),
    provider_id: z.string().nullable(),
    name: z.string(),
    allowed_scopes: z.array(z.string()),
    audiences: z.array(z.string()),
    token_lifetime: z.int(),
    dpop_bound_access_tokens: z.boolean(),
    status: z.enum(['active', 'disabled']),
    previous_secret_valid_until: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Client' })

export const ClientWithSecret = Client.extend({
  client_secret: z
    .string()
    .nullable()
    .meta({ description: 'Shown in this answer only; null for a client created without one.' }),
}).meta({ id: 'ClientWithSecret' })

export const ClientKeys = z
  .object({
    client_id: z.string(),
    keys: z.array(
      z.object({
        kid: z.string(),
        alg: z.enum(['ES256', 'EdDSA', 'Ed25519', 'RS256']),
        jwk: z.record(z.string(), z.unknown()).meta({ description: 'The public JWK as stored.' }),
        created_at: z.string(),
        expires_at: z
          .string()
          .nullable()
          .meta({ description: 'Set by a rotation: assertions signed with it are refused after.' }),
      }),
    ),
  })
  .meta({ id: 'ClientKeys' })

export const TrustedIssuerView = z
  .object({
    issuer: z.string().meta({ description: 'The exact `iss` of its tokens.' }),
    jwks: z
      .object({ keys: z.array(z.record(z.string(), z.unknown())) })
      .nullable()
      .meta({ description: 'Its fixed keys; null: found through OpenID discovery.' }),
    subject: z.string().nullable().meta({ description: 'The exact `sub` required.' }),
    subject_pattern: z
      .string()
      .nullable()
      .meta({ description: 'A pattern of `sub`: `*` is one or more characters other than `:`.' }),
    audience: z
      .string()
      .nullable()
      .meta({ description: "The `aud` required; null: Portero's issuer." }),
    claims: z
      .record(z.string(), z.string())
      .meta({ description: 'Further claims required, each with exactly this value.' }),
    created_at: z.string(),
  })
  .meta({ id: 'TrustedIssuer' })

export const ClientTrustedIssuers = z
  .object({ client_id: z.string(), issuers: z.array(TrustedIssuerView) })
  .meta({ id: 'ClientTrustedIssuers' })

export const RotatedSecret = z
  .object({
    client_id: z.string(),
    client_secret: z.string(),
    previous_secret_valid_until: z.string().nullable(),
    tokens_revoked: z.boolean(),
  })
  .meta({ id: 'RotatedSecret' })

export const Service = z
  .object({
    id: z.int(),
    name: z.string(),
    kind: z.string(),
    required_parameters: z.array(z.string()),
    allowed_channels: z.array(z.string()),
    enabled: z.boolean(),
    direct_numbers: z.boolean().meta({
      description:
        'Whether /Services may send SMS to an E.164 number outside the recipients directory.',
    }),
    direct_number_country_codes: z
      .array(z.string())
      .nullable()
      .meta({ description: 'The country calling codes such numbers may have; null: any.' }),
    quiet_hours: QuietHours.nullable().meta({
      description: "The default quiet hours of the service's messages; null: none.",
    }),
    fallback: z
      .object({ channel: z.literal('sms'), after_seconds: z.int().optional() })
      .nullable()
      .meta({ id: 'Fallback' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Service' })

export const Suppression = z
  .object({
    phone: z.string(),
    source: z.enum(['directory', 'stop_reply', 'sms_api_error', 'admin']).meta({
      description:
        "`directory`: the recipient's SMS opt-out flag; `stop_reply`: a STOP sent to the " +
        "sender number; `sms_api_error`: the SMS API's error 21610; `admin`: an operator's.",
    }),
    all_providers: z.boolean().meta({
      description: 'Binds every provider: a STOP to the shared sender number does.',
    }),
    created_at: z.string(),
  })
  .meta({ id: 'Suppression' })

export const Subscription = z
  .object({
    provider_id: z.string(),
    service_id: z.int(),
    service_token: z.string(),
    status: z.enum(['active', 'revoked']),
    created_at: z.string(),
  })
  .meta({ id: 'Subscription' })

export const AuditEvent = z
  .object({
    id: z.int(),
    occurred_at: z
      .string()
      .meta({ description: 'When it happened (the first time, for a count over 1).' }),
    last_occurred_at: z
      .string()
      .meta({ description: 'When it last happened; occurred_at when count is 1.' }),
    count: z
      .int()
      .min(1)
      .meta({ description: 'How many alike failures this item stands for (1 for every success).' }),
    action: z
      .string()
      .max(100)
      .meta({
        description:
          '`token.issued`, `token.revoked`, `login.failed`, `admin.refused`, an admin action ' +
          'such as `client.create`, or the method and route pattern ' +
          '(`POST /admin/clients/:id/secret`) of one refused before it named its action.',
      }),
    outcome: z.enum(['success', 'failure']),
    actor: z.string().max(200).nullable(),
    target: z
      .string()
      .max(200)
      .nullable()
      .meta({ description: 'For `admin.refused`, the method and route pattern called.' }),
    request_id: z.string().max(64).nullable(),
    ip: z.string().max(64).nullable(),
    detail: z.record(z.string(), z.unknown()).meta({
      description:
        'Context (HTTP status, reason…); each string at most 200 characters, ' +
        'the whole at most 2000.',
    }),
  })
  .meta({ id: 'AuditEvent' })

/** Document 001's "Entity Pager": the one shape of every list. */
export function page<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      page_size: z.int(),
      next_cursor: z.string().nullable(),
      links: z.object({ next: z.string().nullable() }),
    })
    .meta({ id })
}

export const RecipientPage = page(Recipient, 'RecipientPage')
export const SubscriptionPage = page(Subscription, 'SubscriptionPage')
export const ProviderPage = page(Provider, 'ProviderPage')
export const ClientPage = page(Client, 'ClientPage')
export const ServicePage = page(Service, 'ServicePage')
export const AuditPage = page(AuditEvent, 'AuditPage')
export const SuppressionPage = page(Suppression, 'SuppressionPage')
export const MessagePage = page(Message, 'MessagePage')

// The counts of GET /admin/overview: docs/management.md "The overview" says what each is.
const OverviewCounts = {
  ...Object.fromEntries(
    [
      'accepted',
      'sent',
      'delivered',
      'undelivered',
      'failed',
      'dead',
      'tokens_issued',
      'failed_logins',
    ].map((name) => [name, z.int()]),
  ),
  latency_p50_seconds: z.number().nullable(),
  latency_p95_seconds: z.number().nullable(),
}

export const Overview = z
  .object({
    range: z.enum(['hour', 'day', 'week']),
    provider_id: z.string().nullable(),
    since: z.string(),
    until: z.string(),
    hours: z.array(z.object({ hour: z.string(), ...OverviewCounts })),
    totals: z.object(OverviewCounts),
    error_codes: z.array(z.object({ code: z.string(), count: z.int() })),
    latency_bounds_seconds: z.array(z.number()),
  })
  .meta({
    id: 'Overview',
    description:
      'Counts per hour of the range, oldest first, the hour in progress last; `totals` for the ' +
      'whole range; the latencies (acceptance to delivered) are the upper bound of the bucket ' +
      '(`latency_bounds_seconds`) that holds the percentile, null when nothing was delivered; ' +
      "`error_codes`, the channels' commonest 10.",
  })
