// A provider's send shard (decisions.md D32): a Durable Object with SQLite storage, addressed by
// the provider's id (domain/admission.ts sendShardName). It holds the provider's messages, their
// deliveries, timelines and early receipts, the quota counters and Idempotency-Keys, and the
// outboxes of webhook events and admin index rows, and a copy of the send facts the checks read
// (decisions.md D48: src/shards/send-facts.ts). It runs one call at a time, so what it decides
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
  shardOfName,
  type Admission,
  type Grant,
  type SharedSpan,
} from '../domain/admission.ts'
import {
  planAcceptance,
  sendFactReads,
  toRefusal,
  type AcceptanceInput,
  type AcceptancePlan,
  type AcceptanceResult,
  type SendShardApi,
} from '../domain/acceptance.ts'
import type { QuotaRefusal, SendQuotas } from '../domain/quotas.ts'
import { recordSmsReceipt, type ReceiptResult } from '../domain/delivery-receipts.ts'
import type { DeliveryReceipt } from '../channel.ts'
import { AppError } from '../errors.ts'
import { insertMessage, selectMessageByIdempotencyKey } from '../storage/messages.ts'
import {
  OUTBOX_EVERY_MS,
  readNow,
  runStatements,
  shardDatabase,
  statementsOf,
  toResults,
  type GroupOutcome,
  type SqlOutcome,
  type SqlStatement,
} from '../storage/shard-database.ts'
import { epochSeconds } from '../utils/time.ts'
import { log } from '../log.ts'
import { addAllowances, admitMessage, forgetAdmissions, grantAllowances } from './admissions.ts'
import { migrateSendShard } from './schema.ts'
import {
  factsAge,
  FACTS_MAX_AGE_SECONDS,
  FACTS_REFRESH_SECONDS,
  forgetSendFacts,
  readFactsState,
  syncSendFacts,
} from './send-facts.ts'

type GrantAnswer = { grants: Grant[] } | { refusal: QuotaRefusal }

/** How old a copy of the send facts may serve while D1 cannot be read (decisions.md D48). */
const FACTS_OUTAGE_SECONDS = 600

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

  async accept(input: AcceptanceInput): Promise<AcceptanceResult> {
    await this.#factsNoOlderThan(FACTS_MAX_AGE_SECONDS)
    const { storage } = this.ctx
    const db = this.database
    const { request, idempotencyKey } = input
    type Attempt = AcceptanceResult | { outcome: 'needs_allowance'; spans: SharedSpan[] }
    let plan: AcceptancePlan | null = null
    const attempt = () =>
      storage.transactionSync((): Attempt => {
        try {
          plan = planAcceptance(readNow(storage.sql, sendFactReads(db, input)), input)
        } catch (error) {
          if (!(error instanceof AppError)) throw error
          // Routed by a number of shards this copy was not made for (a client's edge record not
          // yet republished): the recipient may be another shard's. The first shard has them all.
          const misrouted =
            error.code === 'unknown_destination' &&
            shardOfName(this.name).index !== null &&
            readFactsState(storage.sql)?.shards !== input.shards
          if (misrouted) return { outcome: 'misrouted' }
          return { outcome: 'refused', refusal: toRefusal(error) }
        }
        if (idempotencyKey !== null) {
          const lookup = selectMessageByIdempotencyKey(db, request.providerId, idempotencyKey)
          const stored = readNow(storage.sql, { stored: lookup }).stored
          if (stored) return { outcome: 'found', stored }
        }
        const admitted = admitMessage(storage.sql, plan.admission, epochSeconds(new Date()))
        switch (admitted.outcome) {
          case 'admitted':
          case 'seen': {
            const { message, parts, scheduledFor } = plan
            const insert = insertMessage(db, message, parts, scheduledFor)
            const outcomes = runStatements(storage.sql, statementsOf(insert.statements))
            return { outcome: 'stored', message, deliveries: insert.read(toResults(outcomes))! }
          }
          default:
            return admitted
        }
      })
    // Ends: every grant takes from what is left of a window, until a refusal says nothing is.
    for (;;) {
      const result = attempt()
      if (result.outcome === 'stored') await this.#wake()
      if (result.outcome !== 'needs_allowance') return result
      const answer = await this.#askForBlocks(plan!.admission, result.spans)
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

  async runFresh(statements: SqlStatement[]): Promise<SqlOutcome[]> {
    await this.#factsNoOlderThan(FACTS_MAX_AGE_SECONDS)
    return this.run(statements)
  }

  async syncFacts(): Promise<void> {
    // A shard with no copy yet makes one when it first needs it.
    if (factsAge(this.ctx.storage.sql, epochSeconds(new Date())) === Infinity) return
    // A sync already on its way may have read D1 before the change this call is about: the one
    // that counts starts after it.
    await this.#syncing?.catch(() => {})
    await this.#sync()
  }

  /** Brings the copy of the send facts up to date when it is older than `seconds`. */
  async #factsNoOlderThan(seconds: number): Promise<void> {
    const age = factsAge(this.ctx.storage.sql, epochSeconds(new Date()))
    if (age <= seconds) return
    try {
      await this.#sync()
    } catch (cause) {
      // D1 unreachable: a copy a few minutes old serves rather than refusing every message.
      if (age > FACTS_OUTAGE_SECONDS) throw cause
      log('warn', 'send facts could not be brought up to date; using the copy', {
        shard: this.name,
        ageSeconds: age,
        cause: String(cause),
      })
    }
  }

  /** One sync at a time: calls that find the copy old while one runs wait for it. */
  #sync(): Promise<void> {
    this.#syncing ??= (async () => {
      try {
        await syncSendFacts(this.env.DB, this.ctx.storage, this.name, epochSeconds(new Date()))
      } finally {
        this.#syncing = null
      }
    })()
    return this.#syncing
  }

  #syncing: Promise<void> | null = null

  async run(statements: SqlStatement[]): Promise<SqlOutcome[]> {
    const { storage } = this.ctx
    const outcomes = storage.transactionSync(() => runStatements(storage.sql, statements))
    if (outcomes.some((o) => o.changes > 0)) await this.#wake()
    return outcomes
  }

  async runEach(groups: SqlStatement[][]): Promise<GroupOutcome[]> {
    const { storage } = this.ctx
    const answers = groups.map((statements): GroupOutcome => {
      try {
        return { outcomes: storage.transactionSync(() => runStatements(storage.sql, statements)) }
      } catch (cause) {
        return { error: String(cause instanceof Error ? cause.message : cause) }
      }
    })
    const changed = answers.some((a) => 'outcomes' in a && a.outcomes.some((o) => o.changes > 0))
    if (changed) await this.#wake()
    return answers
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
      forgetSendFacts(storage.sql)
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
    // A busy shard's alarm runs often: it keeps the copy young enough that no check waits on D1.
    await this.#factsNoOlderThan(FACTS_REFRESH_SECONDS).catch((cause: unknown) =>
      log('warn', 'send facts could not be refreshed', { shard: this.name, cause: String(cause) }),
    )
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

  /**
   * Makes sure the alarm runs soon: a call changed something it is to hand on or watch. An alarm
   * already due within OUTBOX_EVERY_MS is left alone, so a busy shard's calls share one run a
   * second rather than each bringing the next one forward.
   */
  async #wake(): Promise<void> {
    const { storage } = this.ctx
    const now = Date.now()
    const current = await storage.getAlarm()
    if (current === null || current > now + OUTBOX_EVERY_MS)
      await storage.setAlarm(now + OUTBOX_DELAY_MS)
  }
}
