// /admin/messages: every provider's messages, searched newest first, and one message with its
// deliveries' timeline, as its provider's status view shows them (GET /Services/messages/{id}).
import * as z from 'zod'
import { MESSAGE_STATUSES } from '../../channel.ts'
import { readAnyMessage, searchMessages } from '../../domain/dispatch.ts'
import { ProviderIdText } from '../../domain/providers.ts'
import { shardDatabaseOf } from '../../http/deps.ts'
import { messageView } from '../../http/messages.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { MessageIdPath, MessagePageQuery } from '../../http/path-params.ts'
import { storedInstant, TimeRange, toPage } from '../../http/paging.ts'
import { json, MANAGEMENT, problems } from '../../openapi/operations.ts'
import { Message as MessageView, MessagePage } from '../../openapi/responses.ts'
import type { StoredMessage } from '../../storage/messages.ts'

export const messages = new OpenApiApp()

export const MessageQuery = MessagePageQuery.extend({
  provider_id: ProviderIdText.optional(),
  destination: z
    .string()
    .min(1, 'destination must not be empty')
    .max(128, 'destination must be at most 128 characters')
    .optional(),
  status: z
    .enum(MESSAGE_STATUSES, { error: `status must be one of ${MESSAGE_STATUSES.join(', ')}` })
    .optional(),
  ...TimeRange.shape,
})

/** A page's key: the last message's `created_at` and id, which order the list. */
const messageKey = ({ message }: StoredMessage) => JSON.stringify([message.createdAt, message.id])

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/',
  operationId: 'searchMessages',
  summary: "Search every provider's messages, newest first",
  description:
    'Newest first by `created_at`. `provider_id`; `destination` exactly as sent (a user id, or ' +
    'an E.164 number such as `+5491155550000`, URL-encoded: `%2B` for `+`); `status`, the ' +
    "message's one status (see the `Message` schema) as the index last heard it from the " +
    "message's send shard, a second or so behind; `since` and `until`, inclusive, compare with " +
    '`created_at`. A message is searchable a second or so after it was accepted. Each item is ' +
    'the message as its provider sees it now, destinations masked, without the timeline: ' +
    "`GET /admin/messages/{id}` adds each delivery's `events`.",
  request: { query: MessageQuery },
  responses: { 200: json('A page.', MessagePage), ...problems(400, 401, 403) },
})

messages.openapi(list, async (c) => {
  const { limit, cursor, provider_id, destination, status, since, until } = c.req.valid('query')
  const rows = await searchMessages(
    { db: c.env.DB, shards: (name) => shardDatabaseOf(c.env, name) },
    {
      providerId: provider_id,
      destination,
      status,
      since: storedInstant(since),
      until: storedInstant(until),
    },
    { before: cursor, limit: limit + 1 },
  )
  const view = ({ message, deliveries }: StoredMessage) => messageView(message, deliveries)
  c.header('cache-control', 'no-store')
  return c.json(toPage(rows, limit, messageKey, view, new URL(c.req.url)))
})

const read = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}',
  operationId: 'getAnyMessage',
  summary: "Read any provider's message with its deliveries' timeline",
  description:
    "What `GET /Services/messages/{id}` shows the message's provider: each delivery with its " +
    '`attempts`, `last_error`, `error_code`, `reached` and the `events` timeline.',
  request: { params: z.object({ id: MessageIdPath }) },
  responses: {
    200: json('The message and its deliveries.', MessageView),
    ...problems(401, 403, 404),
  },
})

messages.openapi(read, async (c) => {
  const { message, deliveries, events } = await readAnyMessage(
    (name) => shardDatabaseOf(c.env, name),
    c.req.valid('param').id,
  )
  c.header('cache-control', 'no-store')
  return c.json(messageView(message, deliveries, events))
})
