// loadConfig(env): vars and secrets parsed once per isolate with zod.
import * as z from 'zod'
import { misconfigured } from './errors.ts'
import { log } from './log.ts'
import { parseSigningKeySet, type SigningKeySet } from './domain/signing-keys.ts'
import { deriveNonceKey } from './domain/dpop.ts'
import { deriveAckKey } from './domain/push-acks.ts'
import { derivePictureIdKey } from './domain/pictures.ts'
import { MAX_SEND_QUOTA, type SendQuotas } from './domain/quotas.ts'
import { dispatchQueueIndex } from './domain/admission.ts'
import { importPepper } from './domain/secrets.ts'
import { deriveWebhookSecretKey } from './storage/webhook-secrets.ts'
import type { ChannelConfig } from './channels/channels.ts'
import { DEFAULT_STS_URL } from './channels/workload-identity.ts'
import { MEMORY_MAX_MS } from './storage/edge-state.ts'
import { E164 } from './utils/e164.ts'
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
  /** Seals webhook secrets in D1: AES-GCM, derived from SECRET_PEPPER with HKDF. */
  webhookSecretKey: CryptoKey
  /** Signs DPoP server nonces: HMAC, derived from SECRET_PEPPER with HKDF (domain/dpop.ts). */
  dpopNonceKey: CryptoKey
  /** Signs push acknowledgement URLs: HMAC, derived from SECRET_PEPPER with HKDF (D46). */
  ackKey: CryptoKey
  /** How long an isolate may answer from its memory of recent edge reads (0: never). */
  edgeMemoryMs: number
}

declare global {
  // Secrets of one channel each: put only when that channel is on, so not in wrangler.toml's
  // required list, and not declared by `wrangler types`.
  interface Env {
    SMS_AUTH_TOKEN?: string
    /** The auth token Twilio's console calls secondary, during a rotation: it signs too. */
    SMS_AUTH_TOKEN_SECONDARY?: string
    /** The secret of SMS_API_KEY_SID: with it the REST calls use the key, not the auth token. */
    SMS_API_KEY_SECRET?: string
    /** The secondary SMS route's API secret (Vonage), decisions.md D45. */
    VONAGE_API_SECRET?: string
    FCM_SERVICE_ACCOUNT?: string
  }
}

/** base64url of at least 32 bytes: SECRET_PEPPER's shape (docs/configuration.md). */
export const PEPPER_PATTERN = /^[A-Za-z0-9_-]{43,}$/

const HttpUrl = z.url({ protocol: /^https?$/ })
const ConfigSchema = z.object({
  ISSUER: HttpUrl.transform((url) => url.replace(/\/+$/, '')),
  // RFC 8707 §2: a resource indicator is an absolute URI without a fragment. Empty: the issuer.
  API_RESOURCE: z
    .literal('')
    .or(HttpUrl.refine((url) => !url.includes('#'), 'must not have a fragment (RFC 8707 §2)'))
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
  SIGNING_KEYS: z.string({
    error: 'is not set (a JWK set of private keys; see docs/configuration.md)',
  }),
  SECRET_PEPPER: z
    .string({
      error: 'is not set (base64url of at least 32 random bytes; see docs/configuration.md)',
    })
    .regex(PEPPER_PATTERN, 'must be base64url of at least 32 bytes'),
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
    const [keys, pepper, pictureIdKey, webhookSecretKey, dpopNonceKey, ackKey] = await Promise.all([
      parseSigningKeySet(SIGNING_KEYS),
      importPepper(SECRET_PEPPER),
      derivePictureIdKey(SECRET_PEPPER),
      deriveWebhookSecretKey(SECRET_PEPPER),
      deriveNonceKey(SECRET_PEPPER),
      deriveAckKey(SECRET_PEPPER),
    ])
    const edgeMemoryMs = EDGE_MEMORY_MS ?? MEMORY_MAX_MS
    return {
      issuer: ISSUER,
      resource: API_RESOURCE || ISSUER,
      keys,
      pepper,
      pictureIdKey,
      webhookSecretKey,
      dpopNonceKey,
      ackKey,
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

function loadRetentionDays(
  env: Env,
  name: 'AUDIT_RETENTION_DAYS' | 'MESSAGE_RETENTION_DAYS',
): number {
  const parsed = RetentionDays.safeParse(env[name] ?? '')
  if (!parsed.success) throw new Error(`${name} ${parsed.error.issues[0]?.message ?? 'is invalid'}`)
  return parsed.data
}

/**
 * AUDIT_RETENTION_DAYS: how many days the audit log keeps an event. Throws, naming the variable,
 * when it is missing or not a whole number of days from 1 to 3650.
 */
export function loadAuditRetentionDays(env: Env): number {
  return loadRetentionDays(env, 'AUDIT_RETENTION_DAYS')
}

/**
 * MESSAGE_RETENTION_DAYS: how many days a message is kept with its deliveries, their timeline and
 * its webhook events (decisions.md D33). Throws, naming the variable, when it is missing or not a
 * whole number of days from 1 to 3650.
 */
export function loadMessageRetentionDays(env: Env): number {
  return loadRetentionDays(env, 'MESSAGE_RETENTION_DAYS')
}

/** The dispatch queues' bindings and the vars naming them, in order (decisions.md D49). */
export const DISPATCH_QUEUES = [
  ['DISPATCH_QUEUE', 'DISPATCH_QUEUE_NAME'],
  ['DISPATCH_QUEUE_2', 'DISPATCH_QUEUE_NAME_2'],
  ['DISPATCH_QUEUE_3', 'DISPATCH_QUEUE_NAME_3'],
  ['DISPATCH_QUEUE_4', 'DISPATCH_QUEUE_NAME_4'],
] as const

/**
 * The dispatch queue of a delivery's job, by the delivery's id: one of the dispatch queues this
 * environment binds (those present, in order), picked by domain/admission.ts dispatchQueueIndex
 * (decisions.md D49). Jobs sent together go where their first one's id says.
 */
export function dispatchQueueOf(env: Partial<Env>): (deliveryId: string) => Queue {
  const queues = DISPATCH_QUEUES.flatMap(([binding]) => env[binding] ?? [])
  return (deliveryId) => queues[dispatchQueueIndex(deliveryId, queues.length)]!
}

/** The dispatch queues' names: DISPATCH_QUEUE_NAME and those of DISPATCH_QUEUE_NAME_2.._4 set. */
export function dispatchQueueNames(env: Partial<Env>): string[] {
  return DISPATCH_QUEUES.flatMap(([, name]) => env[name] || [])
}

const ServiceAccount = z.object({
  client_email: z.string().min(1),
  private_key: z.string().includes('PRIVATE KEY'),
  token_uri: z.url().optional(),
})

/** Where the SMS API posts status callbacks, under ISSUER (src/routes/callbacks.ts). */
export const SMS_STATUS_CALLBACK_PATH = '/callbacks/sms/status'
/** Where the secondary SMS route (Vonage) sends delivery receipts, under ISSUER. */
export const VONAGE_RECEIPT_PATH = '/callbacks/sms/vonage'

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'

const channelConfigs = memoize(
  (env: Env) =>
    [
      env.ISSUER,
      env.SMS_API_BASE_URL,
      env.SMS_ACCOUNT_SID,
      env.SMS_AUTH_TOKEN,
      env.SMS_AUTH_TOKEN_SECONDARY,
      env.SMS_FROM,
      env.SMS_MESSAGING_SERVICE_SID,
      env.SMS_API_KEY_SID,
      env.SMS_API_KEY_SECRET,
      env.TWILIO_WHATSAPP_FROM,
      env.VONAGE_API_BASE_URL,
      env.VONAGE_API_KEY,
      env.VONAGE_API_SECRET,
      env.VONAGE_FROM,
      env.FCM_API_BASE_URL,
      env.FCM_PROJECT_ID,
      env.FCM_SERVICE_ACCOUNT,
      env.FCM_WORKLOAD_IDENTITY,
      env.GOOGLE_TOKEN_URL,
    ].join('\n'),
  (env: Env): ChannelConfig => {
    try {
      const sms = parseSms(env)
      return {
        sms,
        smsSecondary: parseVonage(env),
        fcm: parseFcm(env),
        whatsapp: parseWhatsApp(env, sms),
      }
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

/**
 * The settings each channel reads: with none of them set the channel is off, and with some set it
 * must have what REQUIRED_SETTINGS and channelSettingProblems ask for (else half configured).
 */
const CHANNEL_SETTINGS = {
  sms: [
    'SMS_ACCOUNT_SID',
    'SMS_AUTH_TOKEN',
    'SMS_FROM',
    'SMS_MESSAGING_SERVICE_SID',
    'SMS_API_KEY_SID',
    'SMS_API_KEY_SECRET',
    'SMS_AUTH_TOKEN_SECONDARY',
  ],
  smsSecondary: ['VONAGE_API_KEY', 'VONAGE_API_SECRET', 'VONAGE_FROM'],
  fcm: ['FCM_PROJECT_ID', 'FCM_SERVICE_ACCOUNT', 'FCM_WORKLOAD_IDENTITY'],
  whatsapp: ['TWILIO_WHATSAPP_FROM'],
} as const satisfies Record<keyof ChannelConfig, readonly (keyof Env)[]>

/** What an SMS or FCM channel that is on cannot go without. */
const REQUIRED_SETTINGS = {
  sms: ['SMS_ACCOUNT_SID', 'SMS_AUTH_TOKEN'],
  smsSecondary: ['VONAGE_API_KEY', 'VONAGE_API_SECRET', 'VONAGE_FROM'],
  fcm: ['FCM_PROJECT_ID'],
  whatsapp: ['TWILIO_WHATSAPP_FROM'],
} as const satisfies Record<keyof ChannelConfig, readonly (keyof Env)[]>

type ChannelName = keyof typeof CHANNEL_SETTINGS
const CHANNEL_NAMES = Object.keys(CHANNEL_SETTINGS) as ChannelName[]
const CHANNEL_LABELS: Record<ChannelName, string> = {
  sms: 'SMS',
  smsSecondary: 'The secondary SMS route',
  fcm: 'FCM',
  whatsapp: 'WhatsApp',
}

/** "A, B and C". */
function listed(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`
}

function needs(channel: ChannelName): string {
  const required: string[] = [...REQUIRED_SETTINGS[channel]]
  // Twilio: a message names its sender (From) or the Messaging Service that picks one.
  if (channel === 'sms') required.push('SMS_FROM or SMS_MESSAGING_SERVICE_SID')
  // Google: a service-account key, or workload identity federation (decisions.md D39).
  if (channel === 'fcm') required.push('FCM_WORKLOAD_IDENTITY or FCM_SERVICE_ACCOUNT')
  return `${CHANNEL_LABELS[channel]} needs ${listed(required)}`
}

/** A setting of a configuration that is wrong, and what is wrong with it. */
export type SettingProblem = { path: string; message: string }

/** What is wrong with `channel`'s settings: nothing when it is off or sound. */
function channelSettingProblems(env: Env, channel: ChannelName): SettingProblem[] {
  const set = (name: keyof Env) => Boolean(env[name])
  if (!CHANNEL_SETTINGS[channel].some(set)) return []
  const message = `is not set: ${needs(channel)}, or none of them to turn it off`
  const problems: SettingProblem[] = REQUIRED_SETTINGS[channel]
    .filter((name) => !set(name))
    .map((path) => ({ path, message }))
  if (channel === 'sms') {
    if (!set('SMS_FROM') && !set('SMS_MESSAGING_SERVICE_SID')) {
      problems.push({ path: 'SMS_FROM', message })
    }
    if (set('SMS_FROM') && set('SMS_MESSAGING_SERVICE_SID')) {
      problems.push({
        path: 'SMS_MESSAGING_SERVICE_SID',
        message: 'is set beside SMS_FROM: set exactly one of them (the sender, or its service)',
      })
    }
    if (set('SMS_API_KEY_SID') !== set('SMS_API_KEY_SECRET')) {
      problems.push({
        path: set('SMS_API_KEY_SID') ? 'SMS_API_KEY_SECRET' : 'SMS_API_KEY_SID',
        message: 'is not set: an API key needs SMS_API_KEY_SID and SMS_API_KEY_SECRET, or neither',
      })
    }
  }
  if (channel === 'whatsapp') {
    // decisions.md D47: the SMS channel's Twilio account carries WhatsApp too.
    // A half-configured SMS channel is named by its own settings.
    if (!CHANNEL_SETTINGS.sms.some(set)) {
      problems.push({
        path: 'TWILIO_WHATSAPP_FROM',
        message:
          "is set, but WhatsApp goes through the SMS channel's account, which is off: configure " +
          'SMS too, or unset it',
      })
    }
    if (!E164.test(whatsAppNumber(env.TWILIO_WHATSAPP_FROM))) {
      problems.push({
        path: 'TWILIO_WHATSAPP_FROM',
        message: 'must be an E.164 number such as +14155238886 (whatsapp: in front is allowed)',
      })
    }
  }
  // A second route only takes over from a first (decisions.md D45).
  if (channel === 'smsSecondary' && !CHANNEL_SETTINGS.sms.some(set)) {
    problems.push({
      path: 'VONAGE_API_KEY',
      message: 'is set without SMS: the secondary SMS route needs the primary one (SMS_*)',
    })
  }
  if (channel === 'fcm') {
    if (!set('FCM_SERVICE_ACCOUNT') && !set('FCM_WORKLOAD_IDENTITY')) {
      problems.push({ path: 'FCM_WORKLOAD_IDENTITY', message })
    }
    if (set('FCM_SERVICE_ACCOUNT') && set('FCM_WORKLOAD_IDENTITY')) {
      problems.push({
        path: 'FCM_SERVICE_ACCOUNT',
        message:
          'is set beside FCM_WORKLOAD_IDENTITY: set exactly one of them (a key, or none with ' +
          'workload identity federation)',
      })
    }
  }
  return problems
}

// Keyed by which settings are set (a few property reads): cheap enough for every /healthz.
const channelProblemsOf = memoize(
  (env: Env) =>
    CHANNEL_NAMES.flatMap((channel) =>
      CHANNEL_SETTINGS[channel].map((name) => (env[name] ? 1 : 0)),
    ).join(''),
  (env: Env): readonly SettingProblem[] => {
    const problems: SettingProblem[] = []
    for (const channel of CHANNEL_NAMES) {
      const own = channelSettingProblems(env, channel)
      if (own.length === 0) continue
      problems.push(...own)
      // Once per isolate and configuration: the memo computes this once.
      log('error', 'channel half configured', { channel, missing: own.map((p) => p.path) })
    }
    return problems
  },
)

/**
 * The settings of a half-configured channel (some of its settings set, not all it needs, or two
 * that exclude each other): each with what is wrong. Logged once per isolate; GET /healthz answers
 * 503 with them.
 */
export function channelProblems(env: Env): readonly SettingProblem[] {
  return channelProblemsOf(env)
}

function parseSms(env: Env): ChannelConfig['sms'] {
  const problems = channelSettingProblems(env, 'sms')
  if (problems.length > 0) throw new Error(problems.map((p) => `${p.path} ${p.message}`).join('; '))
  if (!CHANNEL_SETTINGS.sms.some((name) => env[name])) return null
  const baseUrl = z.url().parse(env.SMS_API_BASE_URL).replace(/\/+$/, '')
  const issuer = ConfigSchema.shape.ISSUER.parse(env.ISSUER)
  return {
    baseUrl,
    accountSid: env.SMS_ACCOUNT_SID,
    authToken: env.SMS_AUTH_TOKEN!,
    ...(env.SMS_AUTH_TOKEN_SECONDARY ? { secondaryAuthToken: env.SMS_AUTH_TOKEN_SECONDARY } : {}),
    ...(env.SMS_MESSAGING_SERVICE_SID
      ? { messagingServiceSid: env.SMS_MESSAGING_SERVICE_SID }
      : { from: env.SMS_FROM }),
    ...(env.SMS_API_KEY_SID
      ? { apiKey: { sid: env.SMS_API_KEY_SID, secret: env.SMS_API_KEY_SECRET! } }
      : {}),
    statusCallbackUrl: `${issuer}${SMS_STATUS_CALLBACK_PATH}`,
  }
}

/** TWILIO_WHATSAPP_FROM as a number: Twilio's console shows it with `whatsapp:` in front. */
function whatsAppNumber(from: string): string {
  return from.replace(/^whatsapp:/i, '')
}

function parseWhatsApp(env: Env, sms: ChannelConfig['sms']): ChannelConfig['whatsapp'] {
  if (!env.TWILIO_WHATSAPP_FROM) return null
  const problems = channelSettingProblems(env, 'whatsapp')
  if (problems.length > 0 || !sms) {
    throw new Error(problems.map((p) => `${p.path} ${p.message}`).join('; '))
  }
  const { baseUrl, accountSid, authToken, secondaryAuthToken, statusCallbackUrl, apiKey } = sms
  return {
    baseUrl,
    accountSid,
    authToken,
    ...(secondaryAuthToken ? { secondaryAuthToken } : {}),
    ...(apiKey ? { apiKey } : {}),
    statusCallbackUrl,
    from: whatsAppNumber(env.TWILIO_WHATSAPP_FROM),
  }
}

function parseVonage(env: Env): ChannelConfig['smsSecondary'] {
  if (!CHANNEL_SETTINGS.smsSecondary.some((name) => env[name])) return null
  const problems = channelSettingProblems(env, 'smsSecondary')
  if (problems.length > 0) throw new Error(problems.map((p) => `${p.path} ${p.message}`).join('; '))
  const issuer = ConfigSchema.shape.ISSUER.parse(env.ISSUER)
  return {
    baseUrl: z.url().parse(env.VONAGE_API_BASE_URL).replace(/\/+$/, ''),
    apiKey: env.VONAGE_API_KEY,
    apiSecret: env.VONAGE_API_SECRET!,
    from: env.VONAGE_FROM,
    callbackUrl: `${issuer}${VONAGE_RECEIPT_PATH}`,
  }
}

function parseFcm(env: Env): ChannelConfig['fcm'] {
  if (!CHANNEL_SETTINGS.fcm.some((name) => env[name])) return null
  const problems = channelSettingProblems(env, 'fcm')
  if (problems.length > 0) throw new Error(problems.map((p) => `${p.path} ${p.message}`).join('; '))
  const common = {
    baseUrl: z.url().parse(env.FCM_API_BASE_URL).replace(/\/+$/, ''),
    projectId: env.FCM_PROJECT_ID,
  }
  if (env.FCM_WORKLOAD_IDENTITY) {
    const parsed = WorkloadIdentityConfig.safeParse(JSON.parse(env.FCM_WORKLOAD_IDENTITY))
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`)
      throw new Error(`FCM_WORKLOAD_IDENTITY ${issues.join('; ')}`)
    }
    const { audience, service_account_impersonation_url, token_url } = parsed.data
    return {
      ...common,
      workloadIdentity: {
        audience,
        serviceAccountImpersonationUrl: service_account_impersonation_url,
        tokenUrl: token_url ?? DEFAULT_STS_URL,
      },
    }
  }
  const serviceAccount = ServiceAccount.parse(JSON.parse(env.FCM_SERVICE_ACCOUNT!))
  return {
    ...common,
    serviceAccount,
    tokenUrl: env.GOOGLE_TOKEN_URL || serviceAccount.token_uri || GOOGLE_TOKEN_URL,
  }
}

/**
 * FCM_WORKLOAD_IDENTITY: Google's external account configuration (what `gcloud iam
 * workload-identity-pools create-cred-config` writes), of which these fields are read; Portero
 * signs its own subject token, so `credential_source` is not needed (decisions.md D39).
 */
const WorkloadIdentityConfig = z.object({
  audience: z
    .string()
    .regex(
      /^\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/global\/workloadIdentityPools\/[^/]+\/providers\/[^/]+$/,
      'must be //iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER',
    ),
  service_account_impersonation_url: z
    .url()
    .regex(
      /\/serviceAccounts\/[^/]+:generateAccessToken$/,
      'must end with /serviceAccounts/EMAIL:generateAccessToken',
    ),
  token_url: z.url().optional(),
  subject_token_type: z.literal('urn:ietf:params:oauth:token-type:jwt').optional(),
})

const Quota = z
  .string({ error: 'is not set (a whole number of messages, such as 60)' })
  .regex(/^\d{1,8}$/, 'must be a whole number of messages, such as 60')
  .transform(Number)
  .refine((n) => n >= 1 && n <= MAX_SEND_QUOTA, `must be between 1 and ${MAX_SEND_QUOTA}`)

const SendQuotaSchema = z.object({
  SEND_QUOTA_PER_MINUTE: Quota,
  SEND_QUOTA_PER_DAY: Quota,
  SEND_QUOTA_PER_DESTINATION_HOUR: Quota,
})

// The deployment's default send quotas (docs/sending.md "Send quotas"); a provider may have its own.
const sendQuotas = memoize(
  (env: Env) =>
    [env.SEND_QUOTA_PER_MINUTE, env.SEND_QUOTA_PER_DAY, env.SEND_QUOTA_PER_DESTINATION_HOUR].join(
      '\n',
    ),
  (env: Env): SendQuotas => {
    const parsed = SendQuotaSchema.safeParse(env)
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`)
      throw misconfigured(new Error(problems.join('; ')))
    }
    const { SEND_QUOTA_PER_MINUTE, SEND_QUOTA_PER_DAY, SEND_QUOTA_PER_DESTINATION_HOUR } =
      parsed.data
    return {
      perMinute: SEND_QUOTA_PER_MINUTE,
      perDay: SEND_QUOTA_PER_DAY,
      perDestinationHour: SEND_QUOTA_PER_DESTINATION_HOUR,
    }
  },
)

/**
 * SEND_QUOTA_PER_MINUTE, SEND_QUOTA_PER_DAY and SEND_QUOTA_PER_DESTINATION_HOUR: messages a
 * provider may send, unless an operator set its own. Throws 500 (logged, naming the variable)
 * when one is missing or not a whole number from 1 to 10,000,000.
 */
export function loadSendQuotas(env: Env): SendQuotas {
  return sendQuotas(env)
}
