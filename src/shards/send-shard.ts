// A provider's send shard (decisions.md D32): a Durable Object with SQLite storage, addressed by
// the provider's id (domain/admission.ts sendShardName). It holds the provider's messages, their
// deliveries, timelines and early receipts, the quota counters and Idempotency-Keys, and the
// outboxes of webhook events and admin index rows. It runs one call at a time, so what it decides
// inside one synchronous transaction no parallel request of the provider can slip past. A provider
// that sends a lot has several, each admitting the messages to its share of destinations and
// drawing blocks of the minute and day quotas from the provider's first shard.
//
// The lifecycle's SQL stays in src/storage/ and reaches the shard as statements (run), or runs
// here against the shard's own database (`database`) when its alarm tends it: what the alarm does
// is src/queue/shard-alarm.ts, given to the class by src/index.ts.
import { DurableObject } from 'cloudflare:workers'
import {
  sendShardName,
  type Acceptance,
  type AcceptanceResult,
  type Admission,
  type Grant,
  type SendShardApi,
  type SharedSpan,
} from '../domain/admission.ts'
import type { QuotaRefusal, SendQuotas } from '../domain/quotas.ts'
import { recordSmsReceipt, type ReceiptResult } from '../domain/delivery-receipts.ts'
import type { DeliveryReceipt } from '../channel.ts'
import { AppError } from '../errors.ts'
import {
  runStatements,
  shardDatabase,
  type SqlOutcome,
  type SqlStatement,
} from '../storage/shard-database.ts'
import { epochSeconds } from '../utils/time.ts'
import { addAllowances, admitMessage, forgetAdmissions, grantAllowances } from './admissions.ts'
import { migrateSendShard } from './schema.ts'

type GrantAnswer = { grants: Grant[] } | { refusal: QuotaRefusal }

/** How soon the alarm runs after a call left something in an outbox: the calls of a burst share it. */
const OUTBOX_DELAY_MS = 200

export class SendShard extends DurableObject<Env> implements SendShardApi {
  /** The shard's own database, for the storage modules (src/storage/shard-database.ts). */
  protected readonly database: D1Database

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    migrateSendShard(ctx.storage)
    const { storage } = ctx
    this.database = shardDatabase(async (statements) =>
      storage.transactionSync(() => runStatements(storage.sql, statements)),
    )
  }

  /** The name the Worker addresses this shard by (`provider:<id>[:<k>]`). */
  protected get name(): string {
    return this.ctx.id.name ?? ''
  }

  async accept(admission: Admission, acceptance: Acceptance): Promise<AcceptanceResult> {
    const { storage } = this.ctx
    const attempt = () =>
      storage.transactionSync(
        (): AcceptanceResult | { outcome: 'needs_allowance'; spans: SharedSpan[] } => {
          if (acceptance.lookup.length > 0) {
            const outcomes = runStatements(storage.sql, acceptance.lookup)
            if (outcomes[0]!.rows.length > 0) return { outcome: 'found', outcomes }
          }
          const admitted = admitMessage(storage.sql, admission, epochSeconds(new Date()))
          switch (admitted.outcome) {
            case 'admitted':
            case 'seen':
              return { outcome: 'stored', outcomes: runStatements(storage.sql, acceptance.insert) }
            default:
              return admitted
          }
        },
      )
    // Ends: every grant takes from what is left of a window, until a refusal says nothing is.
    for (;;) {
      const result = attempt()
      if (result.outcome === 'stored') await this.#wake()
      if (result.outcome !== 'needs_allowance') return result
      const answer = await this.#askForBlocks(admission, result.spans)
      if ('refusal' in answer) {
        // Blocks another call asked for may have come in while this one waited.
        const again = attempt()
        if (again.outcome === 'stored') await this.#wake()
        return again.outcome === 'needs_allowance'
          ? { outcome: 'over_quota', refusal: answer.refusal }
          : again
      }
    }
  }

  async run(statements: SqlStatement[]): Promise<SqlOutcome[]> {
    const { storage } = this.ctx
    const outcomes = storage.transactionSync(() => runStatements(storage.sql, statements))
    if (outcomes.some((o) => o.changes > 0)) await this.#wake()
    return outcomes
  }

  /**
   * Applies one of the SMS API's delivery receipts to the delivery it names, or keeps it for
   * later (domain/delivery-receipts.ts), here: one call to the shard instead of one for each of
   * the receipt's statements. `refused`: it could not be kept (too many wait already).
   */
  async receipt(report: DeliveryReceipt): Promise<ReceiptResult | { outcome: 'refused' }> {
    const { env } = this
    const deps = { shard: this.database, db: env.DB, metrics: env.METRICS, now: new Date() }
    try {
      const result = await recordSmsReceipt(deps, report)
      if (result.outcome !== 'unchanged') await this.#wake()
      return result
    } catch (cause) {
      if (cause instanceof AppError && cause.code === 'not_found') return { outcome: 'refused' }
      throw cause
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

  /** Forgets everything: the provider was deleted (D1's index rows go with it). */
  async forget(): Promise<void> {
    const { storage } = this.ctx
    storage.transactionSync(() => {
      forgetAdmissions(storage.sql)
      for (const table of [
        'webhook_outbox',
        'index_outbox',
        'overview_hours',
        'early_receipts',
        'sandbox_receipts',
        'delivery_events',
        'deliveries',
        'messages',
      ]) {
        storage.sql.exec(`DELETE FROM ${table}`)
      }
    })
    await storage.deleteAlarm()
  }

  override async alarm(): Promise<void> {
    const next = await this.tend(new Date())
    if (next !== null) await this.ctx.storage.setAlarm(next)
  }

  /**
   * What the alarm does (src/queue/shard-alarm.ts, given by src/index.ts): hands the outboxes on,
   * takes up what is overdue, purges what is past its retention. Returns when to run again, or
   * null when nothing will need it until a call brings more.
   */
  protected async tend(_now: Date): Promise<number | null> {
    return null
  }

  /** Makes sure the alarm runs soon: a call changed something it is to hand on or watch. */
  async #wake(): Promise<void> {
    const { storage } = this.ctx
    const soon = Date.now() + OUTBOX_DELAY_MS
    const current = await storage.getAlarm()
    if (current === null || current > soon) await storage.setAlarm(soon)
  }
}
