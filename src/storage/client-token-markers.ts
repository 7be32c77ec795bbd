// KV "client-tokens:" entries: written when a client's existing tokens stop being valid (disabled,
// deleted, secret rotated with revocation), so cached token states are re-checked without D1.
// An entry outlives every token it can affect (the longest token lifetime).

export const KV_PREFIX = 'client-tokens:'
/** clients.token_lifetime is at most 86400 s (migration 0001), plus a minute of slack. */
export const MARKER_TTL_SECONDS = 86400 + 60

export type ClientTokenMarker = {
  status: 'active' | 'disabled' | 'deleted'
  /** Tokens issued before this (seconds since the epoch) are inactive. */
  tokensValidAfter: number
}

export function clientTokenMarkerKey(clientId: string): string {
  return KV_PREFIX + clientId
}

export function readClientTokenMarker(kv: KVNamespace, clientId: string): Promise<ClientTokenMarker | null> {
  return kv.get<ClientTokenMarker>(clientTokenMarkerKey(clientId), 'json')
}

export async function writeClientTokenMarker(
  kv: KVNamespace,
  clientId: string,
  marker: ClientTokenMarker,
): Promise<void> {
  await kv.put(clientTokenMarkerKey(clientId), JSON.stringify(marker), { expirationTtl: MARKER_TTL_SECONDS })
}
