// Which special-use range an IP literal falls in (the IANA IPv4 and IPv6 special-purpose address
// registries, as ipaddr.js keeps them): where a webhook may point and a delivery may go.
import ipaddr from 'ipaddr.js'

/**
 * The range of `host` when it is an IP literal (`10.0.0.8`, `[::ffff:a00:8]`, as URL's hostname
 * spells them), named as ipaddr.js names it: `unicast` for a public address, `loopback`,
 * `private`, `ipv4Mapped`, `rfc6052` (NAT64), `6to4`… Null when `host` is a name.
 * IPv4-compatible IPv6 addresses (`::a.b.c.d`, deprecated by RFC 4291 §2.5.5.1, which ipaddr.js
 * counts as unicast) are `ipv4Compatible`.
 */
export function addressRange(host: string): string | null {
  const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  // Dotted quads only: URL's hostname spells every IPv4 form so; a bare number would be a name.
  if (!ipaddr.IPv6.isValid(literal) && !ipaddr.IPv4.isValidFourPartDecimal(literal)) return null
  const address = ipaddr.parse(literal)
  const range = address.range()
  if (address.kind() === 'ipv6' && range === 'unicast') {
    const parts = (address as ipaddr.IPv6).parts
    if (parts.slice(0, 6).every((part) => part === 0)) return 'ipv4Compatible'
  }
  return range
}

/** True for an IP literal in a special-use range (private, loopback, NAT64…); false for a name. */
export function isSpecialUseAddress(host: string): boolean {
  const range = addressRange(host)
  return range !== null && range !== 'unicast'
}
