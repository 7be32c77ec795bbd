// KV "issuer-keys:" entries: the public keys of a trusted issuer found through its discovery
// document (decisions.md D38), read in the login's one bulk read, so a warm federated login waits
// for no fetch. Keyed by a hash of the issuer URL. `fetchedAt` lets a token with an unknown kid
// refresh them, at most once a minute.
import type { JWK } from 'jose'
import { sha256Hex } from '../encoding.ts'

export const KV_PREFIX = 'issuer-keys:'
/** How long fetched keys are used: a key the issuer withdrew verifies at most this long. */
export const ISSUER_KEYS_TTL_SECONDS = 3600

export type IssuerKeys = {
  keys: JWK[]
  /** Epoch seconds. */
  fetchedAt: number
}

export async function issuerKeysKey(issuer: string): Promise<string> {
  return KV_PREFIX + (await sha256Hex(issuer))
}

/** After the response: the keys just fetched, for every isolate and, soon, every location. */
export async function storeIssuerKeys(
  kv: KVNamespace,
  key: string,
  keys: IssuerKeys,
): Promise<void> {
  await kv.put(key, JSON.stringify(keys), { expirationTtl: ISSUER_KEYS_TTL_SECONDS })
}
