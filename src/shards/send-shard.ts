// A provider's send shard (decisions.md D32): a Durable Object with SQLite storage, one per
// provider, addressed by the provider's id (sendShardFor). It runs one call at a time, so what it
// decides inside one synchronous transaction no parallel request of the provider can slip past.
import { DurableObject } from 'cloudflare:workers'
import type { Admission, AdmissionResult, SendShardApi } from '../domain/admission.ts'
import { epochSeconds } from '../utils/time.ts'
import { admitMessage, forgetAdmissions } from './admissions.ts'
import { migrateSendShard } from './schema.ts'

export class SendShard extends DurableObject<Env> implements SendShardApi {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    migrateSendShard(ctx.storage)
  }

  /** Counts a /Services message against the provider's quotas and claims its Idempotency-Key. */
  async admit(admission: Admission): Promise<AdmissionResult> {
    const { storage } = this.ctx
    const seconds = epochSeconds(new Date())
    return storage.transactionSync(() => admitMessage(storage.sql, admission, seconds))
  }

  /** Forgets the provider's counters and keys (the provider was deleted). */
  async forget(): Promise<void> {
    const { storage } = this.ctx
    storage.transactionSync(() => forgetAdmissions(storage.sql))
  }
}

/** The send shard of a provider. */
export function sendShardFor(
  shards: DurableObjectNamespace<SendShard>,
  providerId: string,
): DurableObjectStub<SendShard> {
  return shards.getByName(`provider:${providerId}`)
}
