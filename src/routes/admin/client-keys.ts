// /admin/clients/{id}/keys: a client's public keys for private_key_jwt (docs/tokens.md "private_key_jwt"):
// register, list, remove, and rotate (PUT) with an overlap. Each change republishes the client's edge
// record, which carries the keys to /oauth/token.
import * as z from 'zod'
import {
  addClientKeys,
  listClientKeys,
  MAX_CLIENT_KEYS,
  MAX_KEY_OVERLAP_SECONDS,
  removeClientKey,
  rotateKeys,
} from '../../domain/client-keys.ts'
import { auditAs } from '../../http/audit.ts'
import { clientRecordDeps } from '../../http/deps.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import {
  json,
  jsonBody,
  MANAGEMENT,
  NO_CONTENT,
  pathParameters,
  problems,
} from '../../openapi/operations.ts'
import { ClientKeys } from '../../openapi/responses.ts'
import type { ClientKey } from '../../storage/client-keys.ts'

export const clientKeys = new OpenApiApp()

/** A JWK set's `keys`, each checked by the domain (src/domain/client-keys.ts). */
export const PublicKeys = z
  .array(z.record(z.string(), z.unknown(), { error: 'must be a JWK (a JSON object)' }))
  .min(1, 'send at least one key')
  .max(MAX_CLIENT_KEYS, `at most ${MAX_CLIENT_KEYS} keys`)
  .meta({
    description:
      'Public JWKs, each with a `kid` unique for the client: EC P-256 (ES256), OKP Ed25519 ' +
      '(EdDSA or Ed25519) or RSA of 2048 to 8192 bits (RS256). `alg`, when present, must fit ' +
      'the key; `use`, when present, must be `sig`. Private keys (`d`, `p`, `q`…) and ' +
      'symmetric keys (`kty: oct`) are refused.',
  })

export const KeySet = z.strictObject({ keys: PublicKeys })

export const KeyRotation = z.strictObject({
  keys: PublicKeys,
  old_keys_valid_for: z
    .number()
    .int()
    .min(0)
    .max(MAX_KEY_OVERLAP_SECONDS)
    .default(0)
    .meta({
      description:
        'Seconds the keys the client holds now keep verifying assertions (0: they stop at ' +
        `once and are deleted); at most ${MAX_KEY_OVERLAP_SECONDS}.`,
    }),
})

const keyParams = { params: pathParameters('id', 'kid') }
const idParam = { params: pathParameters('id') }

const EXAMPLE_KEY = {
  kty: 'EC',
  crv: 'P-256',
  kid: '2026-01',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
}

function view(id: string, keys: readonly ClientKey[]) {
  const time = (seconds: number | null) =>
    seconds === null ? null : new Date(seconds * 1000).toISOString()
  return {
    client_id: id,
    keys: keys.map((key) => ({
      kid: key.kid,
      alg: key.alg,
      jwk: key.jwk,
      created_at: time(key.createdAt)!,
      expires_at: time(key.expiresAt),
    })),
  }
}

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/keys',
  operationId: 'listClientKeys',
  summary: "List a client's public keys",
  request: idParam,
  responses: { 200: json('The keys.', ClientKeys), ...problems(401, 403, 404) },
})

clientKeys.openapi(list, async (c) => {
  const id = c.req.valid('param').id
  return c.json(view(id, await listClientKeys(clientRecordDeps(c), id)))
})

const add = createRoute({
  ...MANAGEMENT,
  method: 'post',
  path: '/{id}/keys',
  operationId: 'addClientKeys',
  summary: 'Register public keys for private_key_jwt',
  description:
    'Adds keys to those the client holds. The client may then authenticate with an assertion ' +
    'signed by any of them (docs/tokens.md "private_key_jwt"); its secret, if it has one, keeps working.',
  request: { ...idParam, body: jsonBody(KeySet, { keys: [EXAMPLE_KEY] }) },
  responses: {
    200: json('Every key the client holds now.', ClientKeys),
    ...problems(400, 401, 403, 404, 415),
  },
})

clientKeys.openapi(add, async (c) => {
  const { keys } = c.req.valid('json')
  const id = c.req.valid('param').id
  auditAs(c, 'client.keys.add', id, { kids: kidsOf(keys) })
  return c.json(view(id, await addClientKeys(clientRecordDeps(c), id, keys)))
})

const rotate = createRoute({
  ...MANAGEMENT,
  method: 'put',
  path: '/{id}/keys',
  operationId: 'replaceClientKeys',
  summary: "Rotate a client's keys, with an overlap",
  description:
    'The client gets these keys; the keys it held until now keep working for ' +
    '`old_keys_valid_for` seconds and are refused after (0: deleted at once). A new key may ' +
    'reuse an old kid only then.',
  request: {
    ...idParam,
    body: jsonBody(KeyRotation, { keys: [EXAMPLE_KEY], old_keys_valid_for: 86400 }),
  },
  responses: {
    200: json('Every key the client holds now, with the end of the old ones.', ClientKeys),
    ...problems(400, 401, 403, 404, 415),
  },
})

clientKeys.openapi(rotate, async (c) => {
  const { keys, old_keys_valid_for } = c.req.valid('json')
  const id = c.req.valid('param').id
  auditAs(c, 'client.keys.rotate', id, { kids: kidsOf(keys), old_keys_valid_for })
  return c.json(view(id, await rotateKeys(clientRecordDeps(c), id, keys, old_keys_valid_for)))
})

const remove = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/{id}/keys/{kid}',
  operationId: 'deleteClientKey',
  summary: 'Remove one public key at once',
  request: keyParams,
  responses: { 204: NO_CONTENT, ...problems(401, 403, 404) },
})

clientKeys.openapi(remove, async (c) => {
  const id = c.req.valid('param').id
  const kid = c.req.valid('param').kid
  auditAs(c, 'client.keys.remove', id, { kid })
  await removeClientKey(clientRecordDeps(c), id, kid)
  return c.body(null, 204)
})

/** The kids sent, for the audit log (only well-formed ones, never anything else of a key). */
function kidsOf(keys: readonly Record<string, unknown>[]): string[] {
  return keys.map((key) => (typeof key.kid === 'string' ? key.kid.slice(0, 128) : '(none)'))
}
