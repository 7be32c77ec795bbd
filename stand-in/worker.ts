// The stand-in as its own Worker: `wrangler dev --config stand-in/wrangler.toml --port 8788`.
import { z } from 'zod'
import { createStandIn, type StandIn, type StandInOptions } from './app.ts'

/** The vars of stand-in/wrangler.toml and the secret `npm start` writes to stand-in/.dev.vars. */
type StandInEnv = {
  TWILIO_ACCOUNT_SID: string
  TWILIO_AUTH_TOKEN: string
  FCM_PROJECT_ID: string
  SERVICE_ACCOUNT_EMAIL: string
  SERVICE_ACCOUNT_PUBLIC_JWK: string
  TOKEN_URL: string
  WORKLOAD_AUDIENCE?: string
  PORTERO_ISSUER?: string
  TWILIO_WHATSAPP_FROM?: string
  VONAGE_API_KEY?: string
  VONAGE_API_SECRET?: string
}

const Vars = z.object({
  TWILIO_ACCOUNT_SID: z.string().min(1),
  TWILIO_AUTH_TOKEN: z.string().min(1),
  FCM_PROJECT_ID: z.string().min(1),
  SERVICE_ACCOUNT_EMAIL: z.string().min(1),
  SERVICE_ACCOUNT_PUBLIC_JWK: z
    .string()
    .min(1, 'put it in stand-in/.dev.vars (npm start writes it)'),
  TOKEN_URL: z.url(),
  WORKLOAD_AUDIENCE: z.string().optional(),
  PORTERO_ISSUER: z.url().optional(),
  TWILIO_WHATSAPP_FROM: z.string().optional(),
  VONAGE_API_KEY: z.string().optional(),
  VONAGE_API_SECRET: z.string().optional(),
})

// Only the public members: a private `d` left in would make jose import a signing key.
const PublicRsaJwk = z.object({ kty: z.literal('RSA'), n: z.string().min(1), e: z.string().min(1) })

// One stand-in per isolate, so its memory (received requests, issued tokens, queued failures)
// lasts across requests for as long as `wrangler dev` keeps the isolate.
let standIn: StandIn | undefined

export default {
  fetch(request, env, ctx) {
    standIn ??= createStandIn(readOptions(env))
    // The status callbacks go out after the answer, as Twilio's do.
    return standIn.fetch(request, ctx)
  },
} satisfies ExportedHandler<StandInEnv>

function readOptions(env: StandInEnv): StandInOptions {
  const vars = Vars.safeParse(env)
  if (!vars.success) throw new Error(`Stand-in configuration:\n${z.prettifyError(vars.error)}`)
  let json: unknown
  try {
    json = JSON.parse(vars.data.SERVICE_ACCOUNT_PUBLIC_JWK)
  } catch {
    throw new Error('Stand-in configuration: SERVICE_ACCOUNT_PUBLIC_JWK is not JSON')
  }
  const jwk = PublicRsaJwk.safeParse(json)
  if (!jwk.success) {
    throw new Error(
      'Stand-in configuration: SERVICE_ACCOUNT_PUBLIC_JWK is not an RSA JWK\n' +
        z.prettifyError(jwk.error),
    )
  }
  return {
    twilioAccountSid: vars.data.TWILIO_ACCOUNT_SID,
    twilioAuthToken: vars.data.TWILIO_AUTH_TOKEN,
    ...(vars.data.TWILIO_WHATSAPP_FROM
      ? { twilioWhatsAppFrom: vars.data.TWILIO_WHATSAPP_FROM }
      : {}),
    fcmProjectId: vars.data.FCM_PROJECT_ID,
    serviceAccountEmail: vars.data.SERVICE_ACCOUNT_EMAIL,
    serviceAccountPublicKey: jwk.data,
    tokenUrl: vars.data.TOKEN_URL,
    // Vonage's SMS API for the secondary SMS route, when its account is configured.
    ...(vars.data.VONAGE_API_KEY && vars.data.VONAGE_API_SECRET
      ? { vonage: { apiKey: vars.data.VONAGE_API_KEY, apiSecret: vars.data.VONAGE_API_SECRET } }
      : {}),
    ...(vars.data.WORKLOAD_AUDIENCE && vars.data.PORTERO_ISSUER
      ? {
          workloadIdentity: {
            audience: vars.data.WORKLOAD_AUDIENCE,
            issuer: vars.data.PORTERO_ISSUER,
            jwksUrl: `${vars.data.PORTERO_ISSUER}/.well-known/jwks.json`,
            serviceAccountEmail: vars.data.SERVICE_ACCOUNT_EMAIL,
          },
        }
      : {}),
  }
}
