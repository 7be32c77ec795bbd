// The notifiers of the channels this deployment is configured for.
import { createFcmNotifier } from './fcm.ts'
import { createGoogleTokenSource } from './google-token.ts'
import type { Channel } from '../channel.ts'
import type { Notifier } from './notifier.ts'
import { createSmsNotifier } from './sms.ts'

/** The settings of each channel, from loadChannelConfig (config.ts); null when it is off. */
export type ChannelConfig = {
  sms:
    | ({
        baseUrl: string
        accountSid: string
        /** Signs the API's callbacks; authenticates the REST calls unless there is an API key. */
        authToken: string
        /** Accepted for callback signatures too, while the auth token is rotated. */
        secondaryAuthToken?: string
        /** `${ISSUER}/callbacks/sms/status`: where the SMS API reports each message's status. */
        statusCallbackUrl: string
        apiKey?: { sid: string; secret: string }
      } & ({ from: string } | { messagingServiceSid: string }))
    | null
  fcm: {
    baseUrl: string
    projectId: string
    serviceAccount: { client_email: string; private_key: string; token_uri?: string }
    tokenUrl: string
  } | null
}

export type Notifiers = Partial<Record<Channel, Notifier>>

/** The channels this deployment can deliver on. */
export function configuredChannels(config: ChannelConfig): Set<Channel> {
  return new Set((['sms', 'fcm'] as const).filter((channel) => config[channel] !== null))
}

export function createNotifiers(config: ChannelConfig, cache: KVNamespace): Notifiers {
  const notifiers: Notifiers = {}
  if (config.sms) notifiers.sms = createSmsNotifier(config.sms)
  if (config.fcm) {
    const { baseUrl, projectId, serviceAccount, tokenUrl } = config.fcm
    const tokens = createGoogleTokenSource({ serviceAccount, tokenUrl, cache })
    notifiers.fcm = createFcmNotifier({ baseUrl, projectId, tokens })
  }
  return notifiers
}
