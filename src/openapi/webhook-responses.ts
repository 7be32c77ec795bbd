// Zod schemas of the webhook routes' answers, for the OpenAPI description only.
import * as z from 'zod'
import { page } from './responses.ts'

export const WebhookEndpoint = z
  .object({
    id: z.string().meta({ example: 'ep_5f0c3a1e9b7d4c2a8e6f1b3d5c7a9e0f' }),
    url: z.string(),
    event_types: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().meta({
      description:
        'Why it was disabled: by the provider, or after failing or answering slowly for 5 days.',
    }),
    disabled_at: z.string().nullable(),
    consecutive_failures: z.int().meta({
      description: 'Failed attempts, and 2xx answers slower than 2 s, since the last 2xx in time.',
    }),
    previous_secret_valid_until: z.string().nullable().meta({
      description: 'During a rotation overlap: until when the previous secret still signs.',
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'WebhookEndpoint' })

export const WebhookEndpointWithSecret = WebhookEndpoint.extend({
  secret: z.string().meta({
    description: 'The signing secret (`whsec_` + base64): shown in this answer only.',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
}).meta({ id: 'WebhookEndpointWithSecret' })

export const WebhookAttempt = z
  .object({
    id: z.int(),
    event_id: z.string().meta({ description: 'The `webhook-id` header the endpoint received.' }),
    event_type: z.string().nullable(),
    attempt: z.int().meta({ description: '1 for the first attempt at this event.' }),
    attempted_at: z.string(),
    http_status: z.int().nullable().meta({ description: 'Null when no answer came.' }),
    error: z
      .string()
      .nullable()
      .meta({
        description:
          'Why the attempt failed; on a succeeded attempt, that its 2xx came after 2 s and counted ' +
          'as a failure toward disabling.',
      }),
    duration_ms: z.int(),
    outcome: z.enum(['succeeded', 'retrying', 'dead']),
    next_attempt_at: z.string().nullable(),
  })
  .meta({ id: 'WebhookAttempt' })

export const WebhookEndpointPage = page(WebhookEndpoint, 'WebhookEndpointPage')
export const WebhookAttemptPage = page(WebhookAttempt, 'WebhookAttemptPage')

export const WebhookEventDelivery = z
  .object({
    event_id: z.string().meta({ description: 'Its `webhook-id`.' }),
    type: z.string(),
    created_at: z.string().meta({ description: 'When the status change it reports happened.' }),
    status: z.enum(['pending', 'succeeded', 'dead']).meta({
      description:
        '`pending`: being sent or retried; `succeeded`: the endpoint answered 2xx; `dead`: ' +
        'every attempt failed, or the endpoint was disabled.',
    }),
    attempts: z.int(),
    next_attempt_at: z.string().nullable(),
  })
  .meta({ id: 'WebhookEventDelivery' })

export const WebhookEventDeliveryPage = page(WebhookEventDelivery, 'WebhookEventDeliveryPage')

export const WebhookRedelivery = z
  .object({
    redelivered: z.array(z.string()).meta({ description: 'The events to be sent again.' }),
    more: z.boolean().meta({
      description: 'The limit of one request was reached: ask again for the rest.',
    }),
  })
  .meta({ id: 'WebhookRedelivery' })
