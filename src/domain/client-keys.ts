// Clients' public keys for private_key_jwt (RFC 7523 §2.2): which keys are accepted, and their
// registration, removal and rotation with overlap. Every change republishes the client's edge
// record, which carries the keys, so that /oauth/token never reads D1 for them.
import { base64url, importJWK, type JWK } from 'jose'
import { invalidFields, notFound, type FieldError } from '../errors.ts'
import {
  deleteClientKey,
  deleteExpiredClientKeys,
  insertClientKeys,
  rotateClientKeys,
  type ClientKey,
  type ClientKeyAlgorithm,
} from '../storage/client-keys.ts'
import { findClientById, type Client } from '../storage/clients.ts'
import {
  markClientRecordsChanging,
  publishClientRecords,
  renewClientCredentials,
  type ClientRecordDeps,
} from './client-records.ts'
import { epochSeconds } from '../utils/time.ts'

/** A client holds at most this many keys, old ones in their overlap included. */
export const MAX_CLIENT_KEYS = 10
/** The longest an old key may keep working after a rotation. */
export const MAX_KEY_OVERLAP_SECONDS = 30 * 24 * 3600
export const MIN_RSA_BITS = 2048
/** Larger moduli cost verification time for nothing. */
export const MAX_RSA_BITS = 8192

/** The algorithms an assertion may be signed with, and the key each needs. */
export const ASSERTION_ALGORITHMS: readonly ClientKeyAlgorithm[] = [
  'ES256',
  'EdDSA',
  'Ed25519',
  'RS256',
]

/** Members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const PUBLIC_MEMBERS = { EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'], RSA: ['n', 'e'] } as const
const KID = /^[\x21-\x7E]{1,128}$/

export type NewClientKey = Omit<ClientKey, 'expiresAt'>

/**
 * RFC 9864: EdDSA and Ed25519 name the same signatures with an Ed25519 key; a key registered with
 * either accepts assertions with either (oauth4webapi sends Ed25519).
 */
export function algorithmsOf(key: Pick<ClientKey, 'alg'>): ClientKeyAlgorithm[] {
  return key.alg === 'EdDSA' || key.alg === 'Ed25519' ? ['EdDSA', 'Ed25519'] : [key.alg]
}

/** The algorithm a public key of this type and curve signs with here, or null. */
function algorithmFor(jwk: Record<string, unknown>): ClientKeyAlgorithm | null {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256'
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA'
  if (jwk.kty === 'RSA') return 'RS256'
  return null
}

function rsaBits(n: unknown): number {
  if (typeof n !== 'string') return 0
  let bytes: Uint8Array
  try {
    bytes = base64url.decode(n)
  } catch {
    return 0
  }
  let first = 0
  while (first < bytes.length && bytes[first] === 0) first++
  if (first === bytes.length) return 0
  return (bytes.length - first) * 8 - Math.clz32(bytes[first]!) + 24
}

/**
 * Checks a JWK set's keys and returns them as stored: public members, kid and alg only. Refuses,
 * naming each key at fault (`keys.<i>`): a private or symmetric key, a type or curve other than
 * P-256, Ed25519 or RSA of 2048 to 8192 bits, an `alg` other than the key's, `use` other than
 * `sig`, a missing kid or one already `taken`, and a key that does not import.
 */
export async function checkPublicKeys(
  keys: readonly unknown[],
  taken: readonly string[],
  now: Date,
  path = 'keys',
): Promise<NewClientKey[]> {
  const errors: FieldError[] = []
  const seen = new Set(taken)
  const accepted: NewClientKey[] = []
  for (const [index, entry] of keys.entries()) {
    const at = `${path}.${index}`
    const refuse = (message: string) => errors.push({ path: at, message })
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      refuse('must be a JWK (a JSON object)')
      continue
    }
    const jwk = entry as Record<string, unknown>
    if (jwk.kty === 'oct') {
      refuse('is a symmetric key (kty oct): register public keys only')
      continue
    }
    const secret = PRIVATE_MEMBERS.filter((member) => member in jwk)
    if (secret.length > 0) {
      refuse(`is a private key (it has ${secret.join(', ')}): register its public half only`)
      continue
    }
    if (typeof jwk.kid !== 'string' || !KID.test(jwk.kid)) {
      refuse('kid is required: 1 to 128 printable ASCII characters')
      continue
    }
    if (seen.has(jwk.kid)) {
      refuse(`kid "${jwk.kid}" is already used by another key of this client`)
      continue
    }
    seen.add(jwk.kid)
    const inferred = algorithmFor(jwk)
    if (!inferred) {
      refuse('must be an EC P-256, OKP Ed25519 or RSA key')
      continue
    }
    const alg = jwk.alg === undefined ? inferred : jwk.alg
    if (!ASSERTION_ALGORITHMS.includes(alg as ClientKeyAlgorithm)) {
      refuse(`alg must be one of ${ASSERTION_ALGORITHMS.join(', ')}`)
      continue
    }
    if (!algorithmsOf({ alg: inferred }).includes(alg as ClientKeyAlgorithm)) {
      refuse(`alg ${String(alg)} does not fit a ${String(jwk.kty)} key`)
      continue
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') {
      refuse('use must be sig')
      continue
    }
    if (jwk.kty === 'RSA') {
      const bits = rsaBits(jwk.n)
      if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
        refuse(`an RSA modulus must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`)
        continue
      }
    }
    const kty = jwk.kty as keyof typeof PUBLIC_MEMBERS
    const stored: JWK = { kty, kid: jwk.kid, alg: alg as string }
    for (const member of PUBLIC_MEMBERS[kty]) {
      if (typeof jwk[member] === 'string') stored[member] = jwk[member]
    }
    try {
      await importJWK(stored, stored.alg)
    } catch {
      refuse('is not a valid public key')
      continue
    }
    accepted.push({
      kid: jwk.kid,
      alg: alg as ClientKeyAlgorithm,
      jwk: stored,
      createdAt: epochSeconds(now),
    })
  }
  if (errors.length > 0) throw invalidFields(errors)
  return accepted
}

/** The keys that verify assertions at `now`: those without an end, or whose end is ahead. */
export function liveKeys(keys: readonly ClientKey[] | undefined, now: Date): ClientKey[] {
  const at = epochSeconds(now)
  return (keys ?? []).filter((key) => key.expiresAt === null || key.expiresAt > at)
}

function tooMany(count: number): never {
  throw invalidFields(
    [{ path: 'keys', message: `a client holds at most ${MAX_CLIENT_KEYS} keys` }],
    `The client would hold ${count} keys; it may hold at most ${MAX_CLIENT_KEYS}, ` +
      'old keys kept by a rotation included: remove some first.',
  )
}

/** A client's keys, those whose overlap ended left out. */
export async function listClientKeys(deps: ClientRecordDeps, id: string): Promise<ClientKey[]> {
  return liveKeys((await requireClient(deps.db, id)).keys, deps.now)
}

/** Adds keys to a client. Throws 404 for an unknown client, 400 naming each refused key. */
export async function addClientKeys(
  deps: ClientRecordDeps,
  id: string,
  jwks: readonly unknown[],
): Promise<ClientKey[]> {
  await deleteExpiredClientKeys(deps.db, id, epochSeconds(deps.now))
  const client = await requireClient(deps.db, id)
  const current = client.keys ?? []
  const added = await checkPublicKeys(
    jwks,
    current.map((k) => k.kid),
    deps.now,
  )
  if (current.length + added.length > MAX_CLIENT_KEYS) tooMany(current.length + added.length)
  await markClientRecordsChanging(deps, [id])
  await insertClientKeys(deps.db, id, added)
  return publishedKeys(deps, id)
}

/**
 * Adds new keys and keeps the old ones working for `oldKeysValidFor` seconds (0: they stop at
 * once). A kid may be reused only when the old keys stop at once.
 */
export async function rotateKeys(
  deps: ClientRecordDeps,
  id: string,
  jwks: readonly unknown[],
  oldKeysValidFor: number,
): Promise<ClientKey[]> {
  await deleteExpiredClientKeys(deps.db, id, epochSeconds(deps.now))
  const client = await requireClient(deps.db, id)
  const kept = oldKeysValidFor > 0 ? (client.keys ?? []) : []
  const added = await checkPublicKeys(
    jwks,
    kept.map((k) => k.kid),
    deps.now,
  )
  if (kept.length + added.length > MAX_CLIENT_KEYS) tooMany(kept.length + added.length)
  const until = oldKeysValidFor > 0 ? epochSeconds(deps.now) + oldKeysValidFor : null
  await markClientRecordsChanging(deps, [id])
  await rotateClientKeys(deps.db, id, added, until)
  const [renewed] = await renewClientCredentials(deps, [id])
  return liveKeys(renewed?.keys, deps.now)
}

/** Removes one key at once. Throws 404 for an unknown client or kid. */
export async function removeClientKey(
  deps: ClientRecordDeps,
  id: string,
  kid: string,
): Promise<void> {
  await requireClient(deps.db, id)
  await markClientRecordsChanging(deps, [id])
  if (!(await deleteClientKey(deps.db, id, kid))) {
    throw notFound(`Client "${id}" has no key "${kid}".`)
  }
  await renewClientCredentials(deps, [id])
}

async function requireClient(db: D1Database, id: string): Promise<Client> {
  const client = await findClientById(db, id)
  if (!client) throw notFound(`No client "${id}".`)
  return client
}

async function publishedKeys(deps: ClientRecordDeps, id: string): Promise<ClientKey[]> {
  const [client] = await publishClientRecords(deps, [id])
  return liveKeys(client?.keys, deps.now)
}
