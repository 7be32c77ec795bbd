// Admitting a /Services message (decisions.md D32): its Idempotency-Key and the provider's send
// quotas, decided together by the provider's send shard in one transaction, so that of N parallel
// requests with R messages left exactly min(N, R) are accepted and a key's retries are counted once.
import { findQuotaRefusal, type QuotaRefusal, type SendCounts, type SendQuotas } from './quotas.ts'

/** What the Worker asks a provider's send shard when a request has passed every other check. */
export type Admission = {
  idempotencyKey: string | null
  /** The request as its idempotency check sees it (domain/dispatch.ts hashRequest). */
  requestHash: string
  /** The per-destination counter's subject (quotas.ts destinationKey). */
  destinationKey: string
  quotas: SendQuotas
}

export type AdmissionResult =
  /** Counted: store the message under the admission's id. */
  | { outcome: 'admitted' }
  /**
   * The key was admitted before with this body, and counted then: store the message unless D1's
   * unique index finds it stored already (its first request is being written, or failed to be).
   */
  | { outcome: 'seen' }
  /** The key was admitted before with another body. */
  | { outcome: 'conflict' }
  | { outcome: 'over_quota'; refusal: QuotaRefusal }

/** A provider's send shard as the Worker calls it (src/shards/send-shard.ts). */
export interface SendShardApi {
  admit(admission: Admission): Promise<AdmissionResult>
  /** Drops what the shard keeps of a provider that was deleted. */
  forget(): Promise<void>
}

/** An Idempotency-Key the shard admitted, as it kept it. */
export type AdmittedKey = { requestHash: string }

/**
 * The shard's decision, from what it holds for the key and the current windows' counts. A replay
 * is answered whatever the quotas say: it sends nothing new.
 */
export function decideAdmission(
  admission: Admission,
  earlier: AdmittedKey | null,
  counts: SendCounts,
  seconds: number,
): AdmissionResult {
  if (earlier) {
    return earlier.requestHash === admission.requestHash
      ? { outcome: 'seen' }
      : { outcome: 'conflict' }
  }
  const refusal = findQuotaRefusal(admission.quotas, counts, seconds)
  return refusal ? { outcome: 'over_quota', refusal } : { outcome: 'admitted' }
}
