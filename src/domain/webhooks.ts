// Providers' webhook endpoints (decisions.md D26): where they may point, how many, and their
// secrets, shown once and rotated with an overlap.
import { conflict, fieldError, notFound } from '../errors.ts'
import { encryptWebhookSecret, generateWebhookSecret } from '../storage/webhook-secrets.ts'
import {
  insertWebhookEndpoint,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
  type WebhookEndpoint,
  type WebhookEndpointChanges,
  type WebhookEventType,
} from '../storage/webhooks.ts'
import { addressRange } from '../utils/ip-address.ts'
import { epochSeconds } from '../utils/time.ts'

/** Endpoints one provider may register. */
export const MAX_WEBHOOK_ENDPOINTS = 10
export const MAX_WEBHOOK_URL_LENGTH = 2000
/** A rotation's overlap: 24 h unless asked, at most 7 days. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 60 * 60
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 60 * 60

export type WebhookDeps = {
  db: D1Database
  /** Seals secrets for D1 (config webhookSecretKey). */
  secretKey: CryptoKey
  /** Portero's own origins (ISSUER, API_RESOURCE): an endpoint must not point at them. */
  ownOrigins: readonly string[]
  now: Date
}

/** `localhost` and every name under it (RFC 6761 §6.3), or a loopback literal: development only. */
function isLoopback(host: string): boolean {
  return /(^|\.)localhost$/i.test(host) || addressRange(host) === 'loopback'
}

/**
 * What is wrong with `raw` as an endpoint URL, or null. https only; loopback hosts (over http
 * too) only when Portero itself runs on one (development); no address of a special-use range
 * (utils/ip-address.ts), no credentials,
 * no fragment, and never Portero's own host.
 */
export function webhookUrlProblem(raw: string, ownOrigins: readonly string[]): string | null {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'must be an absolute https URL'
  }
  if (url.username || url.password) return 'must not carry credentials (user:password@)'
  if (raw.includes('#')) return 'must not have a fragment'
  const own = ownOrigins.map((origin) => new URL(origin))
  const development = own.some((o) => isLoopback(o.hostname))
  const host = url.hostname.replace(/\.$/, '').toLowerCase()
  if (isLoopback(host)) {
    if (!development) return 'must be a public https URL (localhost only in development)'
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be http(s)'
  } else {
    if (url.protocol !== 'https:') return 'must be https'
    // Any special-use range, in any spelling URL accepts: private, link-local, CGNAT, IPv4 inside
    // IPv6 (mapped, compatible, NAT64, 6to4, Teredo), multicast, reserved (decisions.md D26).
    const range = addressRange(host)
    if (range !== null && range !== 'unicast') {
      return `must be a public host, not a private or special-use address (${range})`
    }
  }
  const itself = own.some((o) => {
    if (o.hostname.replace(/\.$/, '').toLowerCase() !== host) return false
    // In development Portero and the stand-in share localhost on different ports.
    return !isLoopback(host) || o.port === url.port
  })
  if (itself) return 'must not point at Portero itself'
  return null
}

function checkUrl(url: string, deps: WebhookDeps): void {
  const problem = webhookUrlProblem(url, deps.ownOrigins)
  if (problem) throw fieldError('url', problem, `url ${problem}.`)
}

/** Registers an endpoint; the secret is returned here once and never again. */
export async function registerWebhookEndpoint(
  deps: WebhookDeps,
  providerId: string,
  input: { url: string; eventTypes: WebhookEventType[] },
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  checkUrl(input.url, deps)
  const id = `ep_${crypto.randomUUID().replaceAll('-', '')}`
  const secret = generateWebhookSecret()
  const endpoint = await insertWebhookEndpoint(
    deps.db,
    {
      id,
      providerId,
      url: input.url,
      eventTypes: input.eventTypes,
      sealedSecret: await encryptWebhookSecret(deps.secretKey, secret, id),
    },
    MAX_WEBHOOK_ENDPOINTS,
  )
  if (!endpoint) {
    throw conflict(`A provider may register at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints.`)
  }
  return { endpoint, secret }
}

/** Changes an endpoint; `enabled: true` re-enables a disabled one and forgets its failures. */
export async function changeWebhookEndpoint(
  deps: WebhookDeps,
  providerId: string,
  id: string,
  changes: Omit<WebhookEndpointChanges, 'disabledReason'>,
): Promise<WebhookEndpoint> {
  if (changes.url !== undefined) checkUrl(changes.url, deps)
  const endpoint = await updateWebhookEndpoint(deps.db, providerId, id, {
    ...changes,
    ...(changes.enabled === false ? { disabledReason: 'disabled by the provider' } : {}),
  })
  if (!endpoint) throw notFound(`No webhook endpoint ${id}.`)
  return endpoint
}

/**
 * A new secret, returned once. The old one keeps signing for `overlapSeconds` (0: stops at
 * once), so the receiver can switch without missing an event; a rotation during an overlap ends
 * the older secret's.
 */
export async function rotateWebhookSecret(
  deps: WebhookDeps,
  providerId: string,
  id: string,
  overlapSeconds: number,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const secret = generateWebhookSecret()
  const until = overlapSeconds > 0 ? epochSeconds(deps.now) + overlapSeconds : null
  const sealed = await encryptWebhookSecret(deps.secretKey, secret, id)
  const endpoint = await rotateWebhookEndpointSecret(deps.db, providerId, id, sealed, until)
  if (!endpoint) throw notFound(`No webhook endpoint ${id}.`)
  return { endpoint, secret }
}
