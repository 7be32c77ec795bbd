// Reads and writes .dev.vars, the local stand-in for Worker secrets (gitignored): Portero's own,
// and the stand-in's (stand-in/.dev.vars), whose credentials must match.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose'
import { generatePepper } from '../src/domain/secrets.ts'
import { generateSigningKey } from '../src/domain/signing-keys.ts'

export const DEV_VARS = '.dev.vars'
export const STAND_IN_DEV_VARS = 'stand-in/.dev.vars'
export const STAND_IN_PORT = 8788
/** `npm start` writes the seeded credentials here once both servers answer (gitignored). */
export const DEV_CREDENTIALS = '.wrangler/portero-dev.json'
const STAND_IN = `http://localhost:${STAND_IN_PORT}`

/** The development accounts at the stand-in. They match nothing real. */
const DEV_ACCOUNTS = {
  twilioAccountSid: 'ACdev00000000000000000000000000000',
  twilioAuthToken: 'dev-auth-token',
  smsFrom: '+15005550006',
  /** Twilio's WhatsApp sandbox sender. */
  whatsappFrom: '+14155238886',
  vonageApiKey: 'devkey01',
  vonageApiSecret: 'dev-vonage-secret',
  vonageFrom: '15005550006',
  fcmProjectId: 'portero-dev',
  serviceAccountEmail: 'portero-dev@portero-dev.iam.gserviceaccount.com',
  tokenUrl: `${STAND_IN}/google/token`,
  workloadAudience:
    '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/portero-dev/providers/portero-dev',
}

/**
 * FCM_WORKLOAD_IDENTITY for `npm start` (decisions.md D39): Google's external account configuration
 * pointed at the stand-in's STS and IAM Credentials, which trust Portero's local issuer
 * (stand-in/wrangler.toml). The audience and account must match the stand-in's.
 */
export function devWorkloadIdentity(): string {
  return JSON.stringify({
    type: 'external_account',
    audience: DEV_ACCOUNTS.workloadAudience,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: `${STAND_IN}/google/sts/v1/token`,
    service_account_impersonation_url:
      `${STAND_IN}/google/iamcredentials/v1/projects/-/serviceAccounts/` +
      `${DEV_ACCOUNTS.serviceAccountEmail}:generateAccessToken`,
  })
}

export function readDevVars(path = DEV_VARS): Record<string, string> {
  if (!existsSync(path)) return {}
  const vars: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (!match) continue
    const [, name, raw] = match
    vars[name!] = raw!.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1')
  }
  return vars
}

function writeDevVars(path: string, vars: Record<string, string>) {
  const lines = ['# Development secrets written by `npm start`. Never use these in production.']
  // Single-quoted: literal JSON, and PEM newlines kept as the two characters \n.
  for (const [name, value] of Object.entries(vars)) lines.push(`${name}='${value}'`)
  writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 })
}

/**
 * Makes a file of secrets readable by its owner only. `mode` in writeFileSync applies only when the
 * file is created: one that existed before (copied, restored, made by an editor) keeps its mode.
 */
export function keepPrivate(path: string): void {
  if (existsSync(path)) chmodSync(path, 0o600)
}

/**
 * Makes sure both .dev.vars files hold everything a local run needs, generating what is missing
 * (signing keys, pepper, the FCM service-account key pair). Returns Portero's vars and what it
 * made.
 */
export async function ensureDevVars() {
  const vars = readDevVars(DEV_VARS)
  const created: string[] = []
  const fill = async (name: string, make: () => string | Promise<string>) => {
    if (vars[name]) return
    vars[name] = await make()
    created.push(name)
  }
  await fill('SIGNING_KEYS', async () =>
    JSON.stringify({ keys: [await generateSigningKey('ES256')] }),
  )
  await fill('SECRET_PEPPER', generatePepper)
  await fill('SMS_API_BASE_URL', () => `${STAND_IN}/twilio`)
  await fill('SMS_ACCOUNT_SID', () => DEV_ACCOUNTS.twilioAccountSid)
  await fill('SMS_AUTH_TOKEN', () => DEV_ACCOUNTS.twilioAuthToken)
  await fill('SMS_FROM', () => DEV_ACCOUNTS.smsFrom)
  await fill('TWILIO_WHATSAPP_FROM', () => DEV_ACCOUNTS.whatsappFrom)
  // The secondary SMS route (decisions.md D45), Vonage's SMS API at the stand-in.
  await fill('VONAGE_API_BASE_URL', () => `${STAND_IN}/vonage`)
  await fill('VONAGE_API_KEY', () => DEV_ACCOUNTS.vonageApiKey)
  await fill('VONAGE_API_SECRET', () => DEV_ACCOUNTS.vonageApiSecret)
  await fill('VONAGE_FROM', () => DEV_ACCOUNTS.vonageFrom)
  await fill('FCM_API_BASE_URL', () => `${STAND_IN}/fcm`)
  await fill('FCM_PROJECT_ID', () => DEV_ACCOUNTS.fcmProjectId)
  await fill('GOOGLE_TOKEN_URL', () => DEV_ACCOUNTS.tokenUrl)

  const standIn = readDevVars(STAND_IN_DEV_VARS)
  if (!vars.FCM_SERVICE_ACCOUNT || !standIn.SERVICE_ACCOUNT_PUBLIC_JWK) {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
    const pem = (await exportPKCS8(privateKey)).replaceAll('\n', '\\n')
    // The JSON string holds "\n" escapes, as a Google service-account key file does.
    vars.FCM_SERVICE_ACCOUNT =
      '{"type":"service_account",' +
      `"client_email":"${DEV_ACCOUNTS.serviceAccountEmail}",` +
      `"private_key":"${pem}",` +
      `"token_uri":"${DEV_ACCOUNTS.tokenUrl}"}`
    standIn.SERVICE_ACCOUNT_PUBLIC_JWK = JSON.stringify(await exportJWK(publicKey))
    created.push('FCM_SERVICE_ACCOUNT')
  }
  if (created.length > 0) {
    writeDevVars(DEV_VARS, vars)
    writeDevVars(STAND_IN_DEV_VARS, {
      ...standIn,
      TWILIO_ACCOUNT_SID: vars.SMS_ACCOUNT_SID!,
      TWILIO_AUTH_TOKEN: vars.SMS_AUTH_TOKEN!,
      TWILIO_WHATSAPP_FROM: vars.TWILIO_WHATSAPP_FROM!,
      VONAGE_API_KEY: vars.VONAGE_API_KEY!,
      VONAGE_API_SECRET: vars.VONAGE_API_SECRET!,
      FCM_PROJECT_ID: vars.FCM_PROJECT_ID!,
      SERVICE_ACCOUNT_EMAIL: DEV_ACCOUNTS.serviceAccountEmail,
      TOKEN_URL: vars.GOOGLE_TOKEN_URL!,
    })
  }
  // On every start, whether the files were written now or found.
  keepPrivate(DEV_VARS)
  keepPrivate(STAND_IN_DEV_VARS)
  return { vars, created }
}
