// Whether Portero may reach a URL someone else named (a webhook endpoint, a trusted issuer's
// documents): the one rule both follow. Each caller words the refusal for its own answer.
import { addressRange } from './ip-address.ts'

/** `localhost` and every name under it (RFC 6761 §6.3), or a loopback address literal. */
export function isLoopbackHost(host: string): boolean {
  return /(^|\.)localhost$/i.test(host) || addressRange(host) === 'loopback'
}

/** A URL's host as it is compared: lower case, without a trailing dot. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/\.$/, '').toLowerCase()
}

export type OutsideUrlProblem =
  | { problem: 'credentials' }
  /** A loopback host where none is allowed (only while Portero itself runs on one). */
  | { problem: 'loopback' }
  /** Not https (a loopback host may be http too, where allowed). */
  | { problem: 'scheme' }
  /** An address of a special-use range: private, link-local, CGNAT, mapped… (utils/ip-address.ts). */
  | { problem: 'special_use'; range: string }

/**
 * What keeps Portero from fetching `url`, or null: no credentials in it, https only, no address
 * of a special-use range in any spelling URL accepts, and a loopback host (over http too) only
 * with `allowLoopback`. Other names are let through: a Worker's fetch resolves them with public
 * DNS and reaches the public Internet only.
 */
export function outsideUrlProblem(url: URL, allowLoopback: boolean): OutsideUrlProblem | null {
  if (url.username || url.password) return { problem: 'credentials' }
  const host = hostOf(url)
  if (isLoopbackHost(host)) {
    if (!allowLoopback) return { problem: 'loopback' }
    return url.protocol === 'https:' || url.protocol === 'http:' ? null : { problem: 'scheme' }
  }
  if (url.protocol !== 'https:') return { problem: 'scheme' }
  const range = addressRange(host)
  return range !== null && range !== 'unicast' ? { problem: 'special_use', range } : null
}
