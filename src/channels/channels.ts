// The notifiers of the channels this deployment is configured for.
import { createFcmNotifier } from './fcm.ts'
import { createGoogleTokenSource } from './google-token.ts'
import { CHANNELS, type Channel } from '../channel.ts'
import type { Notifier } from './notifier.ts'
import { createSmsNotifier } from './sms.ts'
import { createVonageNotifier, type VonageNotifierConfig } from './sms-vonage.ts'
import {
  createWorkloadIdentityTokenSource,
  type WorkloadIdentity,
  type WorkloadSigner,
} from './workload-identity.ts'

/** The SMS API account (Twilio's), which SMS and WhatsApp share. */
export type SmsAccount = {
  baseUrl: string
  accountSid: string
  /** Signs the API's callbacks; authenticates the REST calls unless there is an API key. */
  authToken: string
  /** Accepted for callback signatures too, while the auth token is rotated. */
  secondaryAuthToken?: string
  /** `${ISSUER}/callbacks/sms/status`: where the SMS API reports each message's status. */
  statusCallbackUrl: string
  apiKey?: { sid: string; secret: string }
}

/** The settings of each channel, from loadChannelConfig (config.ts); null when it is off. */
export type ChannelConfig = {
  sms: (SmsAccount & ({ from: string } | { messagingServiceSid: string })) | null
  /** The SMS account's WhatsApp sender (E.164, without `whatsapp:`), decisions.md D47. */
  whatsapp: (SmsAccount & { from: string }) | null
  /** The secondary SMS route (Vonage's SMS API), decisions.md D45; null when there is none. */
  smsSecondary: Omit<VonageNotifierConfig, 'fetch' | 'timeoutMs' | 'now'> | null
  fcm:
    | ({ baseUrl: string; projectId: string } & (
        | {
            serviceAccount: { client_email: string; private_key: string; token_uri?: string }
            tokenUrl: string
          }
        /** Workload identity federation: no key at all (decisions.md D39). */
        | { workloadIdentity: WorkloadIdentity }
      ))
    | null
}

export type Notifiers = Partial<Record<Channel, Notifier>>

/** The secondary SMS route's notifier, when the deployment has one (decisions.md D45). */
export function createSecondarySmsNotifier(config: ChannelConfig): Notifier | undefined {
  return config.smsSecondary && config.sms ? createVonageNotifier(config.smsSecondary) : undefined
}

/** The channels this deployment can deliver on. */
export function configuredChannels(config: ChannelConfig): Set<Channel> {
  return new Set(CHANNELS.filter((channel) => config[channel] !== null))
}

/**
 * The notifiers of the configured channels. `signer` gives Portero's own signing key, which FCM's
 * workload identity federation signs with; it is loaded only when a token is needed.
 */
export function createNotifiers(
  config: ChannelConfig,
  cache: KVNamespace,
  signer: () => Promise<WorkloadSigner>,
): Notifiers {
  const notifiers: Notifiers = {}
  if (config.sms) notifiers.sms = createSmsNotifier(config.sms)
  if (config.whatsapp) {
    notifiers.whatsapp = createSmsNotifier({ ...config.whatsapp, channel: 'whatsapp' })
  }
  if (config.fcm) {
    const { baseUrl, projectId } = config.fcm
    const tokens =
      'workloadIdentity' in config.fcm
        ? createWorkloadIdentityTokenSource({ ...config.fcm.workloadIdentity, signer, cache })
        : createGoogleTokenSource({
            serviceAccount: config.fcm.serviceAccount,
            tokenUrl: config.fcm.tokenUrl,
            cache,
          })
    notifiers.fcm = createFcmNotifier({ baseUrl, projectId, tokens })
  }
  return notifiers
}
