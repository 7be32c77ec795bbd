// Epoch seconds: the unit of JWT claims (RFC 7519 §2 NumericDate), KV expirations and the tables'
// integer instants (expires_at, lease_until, tokens_valid_after).

/** Whole seconds from 1970-01-01T00:00:00Z to `date`, rounded down. */
export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000)
}
