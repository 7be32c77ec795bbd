// loadConfig(env): vars and secrets parsed once per isolate with zod.
import * as z from 'zod'
import { misconfigured } from './errors.ts'
import { parseSigningKeySet, type SigningKeySet } from './domain/signing-keys.ts'
import { derivePictureIdKey } from './domain/pictures.ts'
import { importPepper } from './domain/secrets.ts'
import type { ChannelConfig } from './providers/channels.ts'
import { MEMORY_MAX_MS } from './storage/edge-state.ts'
import { memoize } from './utils/memo.ts'

export type Config = {
  issuer: string
  /**
   * Portero's own API as a resource server: the `aud` its routes require (API_RESOURCE or
   * ISSUER).
   */
  resource: string
  keys: SigningKeySet
  /** Digests client secrets: SECRET_PEPPER itself as the HMAC key (see importPepper). */
  pepper: CryptoKey
  /** Keys picture ids: derived from SECRET_PEPPER with HKDF, never the secrets' key. */
  pictureIdKey: CryptoKey
  /** How long an isolate may answer from its memory of recent edge reads (0: never). */
  edgeMemoryMs: number
}

const HttpUrl = z.url({ protocol: /^https?$/ })
const ConfigSchema = z.object({
  ISSUER: HttpUrl.transform((url) => url.replace(/\/+$/, '')),
  // RFC 8707 §2: a resource indicator is an absolute URI without a fragment. Empty: the issuer.
  API_RESOURCE: z
    .literal('')
    .or(HttpUrl.refine((url) => !url.includes('#'), 'must not have a fragment (RFC 8707 §2)'))
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
  SIGNING_KEYS: z.string({ error: 'is not set (a JWK set of private keys; see README)' }),
  SECRET_PEPPER: z
    .string({ error: 'is not set (base64url of at least 32 random bytes; see README)' })
    .regex(/^[A-Za-z0-9_-]{43,}$/, 'must be base64url of at least 32 bytes'),
  // SECURITY.md "How fast a change takes effect": at most a second. Empty: the default, 1000.
  EDGE_MEMORY_MS: z
    .string()
    .regex(/^\d{0,4}$/, 'must be milliseconds, 0 to 1000')
    .transform((ms) => (ms === '' ? MEMORY_MAX_MS : Number(ms)))
    .refine((ms) => ms <= MEMORY_MAX_MS, 'must be at most 1000 ms')
    .optional(),
})

// Keyed by the settings' values, not the env object: keys are imported once per isolate however
// the runtime hands env over, and a changed secret (a key rotation) is picked up at once. A few
// are kept: an isolate may serve requests of the settings before and after a rotation.
const configs = memoize(
  (env: Env) =>
    [env.ISSUER, env.API_RESOURCE, env.EDGE_MEMORY_MS, env.SIGNING_KEYS, env.SECRET_PEPPER].join(
      '\n',
    ),
  parseConfig,
  4,
)

/**
 * Parses vars and secrets once per isolate and fails loudly on anything missing or malformed: a
 * misconfigured Worker answers 500 and logs what is wrong.
 */
export function loadConfig(env: Env): Promise<Config> {
  return configs(env)
}

async function parseConfig(env: Env): Promise<Config> {
  try {
    const parsed = ConfigSchema.safeParse(env)
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`)
      throw new Error(problems.join('; '))
    }
    const { ISSUER, API_RESOURCE, EDGE_MEMORY_MS, SIGNING_KEYS, SECRET_PEPPER } = parsed.data
    const [keys, pepper, pictureIdKey] = await Promise.all([
      parseSigningKeySet(SIGNING_KEYS),
      importPepper(SECRET_PEPPER),
      derivePictureIdKey(SECRET_PEPPER),
    ])
    const edgeMemoryMs = EDGE_MEMORY_MS ?? MEMORY_MAX_MS
    return {
      issuer: ISSUER,
      resource: API_RESOURCE || ISSUER,
      keys,
      pepper,
      pictureIdKey,
      edgeMemoryMs,
    }
  } catch (cause) {
    throw misconfigured(cause)
  }
}

const RetentionDays = z
  .string()
  .regex(/^\d{1,4}$/, 'must be a whole number of days, such as 30')
  .transform(Number)
  .refine((days) => days >= 1 && days <= 3650, 'must be between 1 and 3650 days')

/**
 * AUDIT_RETENTION_DAYS: how many days the audit log keeps an event. Throws, naming the variable,
 * when it is missing or not a whole number of days from 1 to 3650.
 */
export function loadAuditRetentionDays(env: Env): number {
  const parsed = RetentionDays.safeParse(env.AUDIT_RETENTION_DAYS ?? '')
  if (!parsed.success) {
    throw new Error(`AUDIT_RETENTION_DAYS ${parsed.error.issues[0]?.message ?? 'is invalid'}`)
  }
  return parsed.data
}

const ServiceAccount = z.object({
  client_email: z.string().min(1),
  private_key: z.string().includes('PRIVATE KEY'),
  token_uri: z.url().optional(),
})

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'

const channelConfigs = memoize(
  (env: Env) =>
    [
      env.SMS_API_BASE_URL,
      env.SMS_ACCOUNT_SID,
      env.SMS_AUTH_TOKEN,
      env.SMS_FROM,
      env.FCM_API_BASE_URL,
      env.FCM_PROJECT_ID,
      env.FCM_SERVICE_ACCOUNT,
      env.GOOGLE_TOKEN_URL,
    ].join('\n'),
  (env: Env): ChannelConfig => {
    try {
      return { sms: parseSms(env), fcm: parseFcm(env) }
    } catch (cause) {
      throw misconfigured(cause)
    }
  },
)

/**
 * The delivery channels this deployment is configured for. A channel whose settings are all empty
 * is off; one that is half configured is a loud error (500, logged), not a silent gap.
 */
export function loadChannelConfig(env: Env): ChannelConfig {
  return channelConfigs(env)
}

function parseSms(env: Env): ChannelConfig['sms'] {
  const settings = [env.SMS_ACCOUNT_SID, env.SMS_AUTH_TOKEN, env.SMS_FROM]
  if (settings.every((v) => !v)) return null
  if (settings.some((v) => !v))
    throw new Error('SMS needs SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM')
  const baseUrl = z.url().parse(env.SMS_API_BASE_URL).replace(/\/+$/, '')
  return {
    baseUrl,
    accountSid: env.SMS_ACCOUNT_SID,
    authToken: env.SMS_AUTH_TOKEN,
    from: env.SMS_FROM,
  }
}

function parseFcm(env: Env): ChannelConfig['fcm'] {
  if (!env.FCM_PROJECT_ID && !env.FCM_SERVICE_ACCOUNT) return null
  if (!env.FCM_PROJECT_ID || !env.FCM_SERVICE_ACCOUNT) {
    throw new Error('FCM needs FCM_PROJECT_ID and FCM_SERVICE_ACCOUNT')
  }
  const serviceAccount = ServiceAccount.parse(JSON.parse(env.FCM_SERVICE_ACCOUNT))
  return {
    baseUrl: z.url().parse(env.FCM_API_BASE_URL).replace(/\/+$/, ''),
    projectId: env.FCM_PROJECT_ID,
    serviceAccount,
    tokenUrl: env.GOOGLE_TOKEN_URL || serviceAccount.token_uri || GOOGLE_TOKEN_URL,
  }
}
