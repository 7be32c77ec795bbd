// The forms of the ids in paths and of the keys in paging cursors, declared in the routes'
// createRoute and checked before the handler (src/http/openapi-app.ts): a path parameter that
// does not fit names no resource (404, the schema's message), a cursor that does not fit is not
// one this API returned (400 `invalid_request`).
import * as z from 'zod'
import { isPositiveInt64 } from '../utils/int64.ts'
import { E164 } from '../utils/e164.ts'
import { MESSAGE_ID } from '../domain/message-ids.ts'
import { pageQuery } from './paging.ts'

const SERVICE_ID = /^[1-9]\d{0,9}$/

/** A provider's id in a path: an int64 in decimal. */
export const ProviderIdPath = z
  .string()
  .refine(isPositiveInt64, { error: (issue) => `No provider ${String(issue.input)}.` })
  .meta({ description: "The provider's id (document 001's int64, in decimal)." })

/** A service's id in a path; `notFound` words the 404 of one that does not fit. */
export const serviceIdPath = (notFound: (raw: string) => string) =>
  z
    .string()
    .regex(SERVICE_ID, { error: (issue) => notFound(String(issue.input)) })
    .meta({ description: 'The service id.' })

/** A phone number in a path: E.164, URL-encoded (`%2B…`). */
export const PhonePath = (notFound: string) =>
  z.string().regex(E164, notFound).meta({ description: 'The number, E.164 (URL-encoded).' })

/** Pages of providers: the cursor is the last provider's id (SQLite would read another as 0). */
export const ProviderPageQuery = pageQuery(z.string().regex(/^-?\d{1,19}$/))

/** Pages of services: the cursor is the last service's id. */
export const ServicePageQuery = pageQuery(z.string().regex(SERVICE_ID).transform(Number))

/** Pages of the audit log, newest first: the cursor is the last event's row id. */
export const AuditPageQuery = pageQuery(
  z
    .string()
    .regex(/^\d{1,15}$/)
    .transform(Number),
)

/** Pages of suppressions: the cursor is the last one's [phone, source, scope]. */
export const SuppressionPageQuery = pageQuery(
  z.string().transform((text, ctx): [string, string, string] => {
    try {
      const key: unknown = JSON.parse(text)
      if (Array.isArray(key) && key.length === 3 && key.every((k) => typeof k === 'string')) {
        return key as [string, string, string]
      }
    } catch {
      // Refused below.
    }
    ctx.addIssue({ code: 'custom', message: 'not a suppression key' })
    return z.NEVER
  }),
)

/** A message's id in a path: it names the send shard that holds it (domain/message-ids.ts). */
export const MessageIdPath = z.string().regex(MESSAGE_ID, 'There is no such message.').meta({
  description: 'The message id, as POST /Services answered it (`p<provider_id>_…`).',
  example: 'p1001_6b1f0e1c3d4a4f0e9a7b2c5d8e9f0a1b',
})

/** Pages of the message search, newest first: the cursor is the last one's [created_at, id]. */
export const MessagePageQuery = pageQuery(
  z.string().transform((text, ctx): [string, string] => {
    try {
      const key: unknown = JSON.parse(text)
      if (Array.isArray(key) && key.length === 2 && key.every((k) => typeof k === 'string')) {
        return key as [string, string]
      }
    } catch {
      // Refused below.
    }
    ctx.addIssue({ code: 'custom', message: 'not a message key' })
    return z.NEVER
  }),
)
