// The notifiers of the channels this deployment is configured for.
import type { ChannelConfig } from '../config.ts'
import { createFcmNotifier } from './fcm.ts'
import { createGoogleTokenSource } from './google-token.ts'
import type { Channel, Notifier } from './notifier.ts'
import { createSmsNotifier } from './sms.ts'

export type Notifiers = Partial<Record<Channel, Notifier>>

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
