// A provider's send shard (decisions.md D32): a Durable Object with SQLite storage, addressed by
// the provider's id (domain/admission.ts sendShardName). It runs one call at a time, so what it
// decides inside one synchronous transaction no parallel request of the provider can slip past. A
// provider that sends a lot has several, each admitting the messages to its share of destinations
// and drawing blocks of the minute and day quotas from the provider's first shard.
import { DurableObject } from 'cloudflare:workers'
import {
  sendShardName,
  type Admission,
  type AdmissionResult,
  type Grant,
  type SendShardApi,
  type SharedSpan,
} from '../domain/admission.ts'
import type { QuotaRefusal, SendQuotas } from '../domain/quotas.ts'
import { epochSeconds } from '../utils/time.ts'
import { addAllowances, admitMessage, forgetAdmissions, grantAllowances } from './admissions.ts'
import { migrateSendShard } from './schema.ts'

type GrantAnswer = { grants: Grant[] } | { refusal: QuotaRefusal }

export class SendShard extends DurableObject<Env> implements SendShardApi {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    migrateSendShard(ctx.storage)
  }

  /** Counts a /Services message against the provider's quotas and claims its Idempotency-Key. */
  async admit(admission: Admission): Promise<AdmissionResult> {
    const { storage } = this.ctx
    const attempt = () =>
      storage.transactionSync(() => admitMessage(storage.sql, admission, epochSeconds(new Date())))
    // Ends: every grant takes from what is left of a window, until a refusal says nothing is.
    for (;;) {
      const result = attempt()
      if (result.outcome !== 'needs_allowance') return result
      const answer = await this.#askForBlocks(admission, result.spans)
      if ('refusal' in answer) {
        // Blocks another call asked for may have come in while this one waited.
        const again = attempt()
        return again.outcome === 'needs_allowance'
          ? { outcome: 'over_quota', refusal: answer.refusal }
          : again
      }
    }
  }

  /**
   * Asks the provider's first shard for blocks of `spans` and keeps what it grants. One request at
   * a time: calls that run out while one is on its way wait for it rather than each asking, so a
   * burst shares the blocks instead of taking one each and leaving them idle.
   */
  #askForBlocks(admission: Admission, spans: SharedSpan[]): Promise<GrantAnswer> {
    this.#asking ??= (async () => {
      try {
        const first = this.env.SEND_SHARDS.getByName(sendShardName(admission.providerId, null))
        const answer = await first.grant({
          quotas: admission.quotas,
          spans,
          shards: admission.shards,
        })
        if ('grants' in answer) {
          const { storage } = this.ctx
          storage.transactionSync(() => addAllowances(storage.sql, answer.grants))
        }
        return answer
      } finally {
        this.#asking = null
      }
    })()
    return this.#asking
  }

  #asking: Promise<GrantAnswer> | null = null

  /** As the provider's first shard: grants another of its shards blocks of the shared quotas. */
  async grant(request: {
    quotas: SendQuotas
    spans: SharedSpan[]
    shards: number
  }): Promise<GrantAnswer> {
    const { storage } = this.ctx
    const seconds = epochSeconds(new Date())
    return storage.transactionSync(() => grantAllowances(storage.sql, request, seconds))
  }

  /** Forgets the provider's counters, allowances and keys (the provider was deleted). */
  async forget(): Promise<void> {
    const { storage } = this.ctx
    storage.transactionSync(() => forgetAdmissions(storage.sql))
  }
}
