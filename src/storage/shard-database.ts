// A provider's send shard as a database (decisions.md D32): the lifecycle's storage modules
// (messages.ts, delivery-lifecycle.ts, early-receipts.ts, stale-sms.ts) are written against D1's
// statement API, and run unchanged against the SQLite database of a send shard through this
// adapter. Statements are prepared where the caller runs and executed by the shard, a batch in one
// transaction and one call, as D1 runs a db.batch: the SQL stays in the storage module that owns
// the table, whichever database holds it.
//
// Only what the storage modules use is provided: prepare, bind, first, all, run and batch, with
// `results` and `meta.changes`. Anything else of D1Database throws.
import type { BatchRead } from './batch.ts'

/** A value SQLite binds: D1's conversions (booleans as 0 and 1, undefined as NULL) are applied. */
export type SqlValue = string | number | null | ArrayBuffer

/** One prepared statement, as it travels to the shard. */
export type SqlStatement = { sql: string; params: SqlValue[] }

/** What running one statement gave: its rows, and how many rows it changed. */
export type SqlOutcome = { rows: Record<string, SqlStorageValue>[]; changes: number }

/** Runs statements in order, in one transaction: the shard's `run`, or a local SqlStorage. */
export type SqlRunner = (statements: SqlStatement[]) => Promise<SqlOutcome[]>

/**
 * Runs statements on a Durable Object's SQLite storage, synchronously: the caller wraps them in
 * transactionSync when they must commit together. Parameters are positional (`?1`, `?2`, or `?`
 * in order), as D1 takes them.
 */
export function runStatements(sql: SqlStorage, statements: SqlStatement[]): SqlOutcome[] {
  return statements.map(({ sql: query, params }) => {
    const before = totalChanges(sql)
    const rows = sql.exec(query, ...params).toArray()
    return { rows, changes: totalChanges(sql) - before }
  })
}

function totalChanges(sql: SqlStorage): number {
  return sql.exec<{ n: number }>('SELECT total_changes() AS n').one().n
}

/**
 * readBatch (src/storage/batch.ts) run synchronously on the shard's own storage, inside the
 * caller's transaction: the reads' statements are prepared on `db` (a shardDatabase) and run here.
 */
export function readNow<R extends Record<string, BatchRead<unknown> | null>>(
  sql: SqlStorage,
  reads: R,
): { [K in keyof R]: R[K] extends BatchRead<infer T> ? T : null } {
  const entries = Object.entries(reads)
  const statements = entries.flatMap(([, read]) => read?.statements ?? [])
  const results = toResults(runStatements(sql, statementsOf(statements)))
  let at = 0
  const values = entries.map(([name, read]) => {
    if (!read) return [name, null]
    const own = results.slice(at, (at += read.statements.length))
    return [name, read.read(own)]
  })
  return Object.fromEntries(values) as {
    [K in keyof R]: R[K] extends BatchRead<infer T> ? T : null
  }
}

/** A D1Database whose statements `runner` executes: a send shard's, or one's own storage. */
export function shardDatabase(runner: SqlRunner): D1Database {
  const db = {
    prepare: (query: string) => new ShardStatement(runner, query, []),
    async batch(statements: ShardStatement[]) {
      const outcomes = await runner(statements.map((s) => s.statement))
      return outcomes.map(toResult)
    },
    exec: unsupported('exec'),
    dump: unsupported('dump'),
    withSession: unsupported('withSession'),
  }
  return db as unknown as D1Database
}

/** The statements of a D1 batch built on a shardDatabase, to send in a call of one's own. */
export function statementsOf(statements: D1PreparedStatement[]): SqlStatement[] {
  return statements.map((s) => {
    if (!(s instanceof ShardStatement)) throw new TypeError('not a send shard statement')
    return s.statement
  })
}

/** Outcomes of statementsOf's statements, as the D1 results their readers expect. */
export function toResults(outcomes: SqlOutcome[]): D1Result[] {
  return outcomes.map(toResult)
}

class ShardStatement {
  readonly #runner: SqlRunner
  readonly statement: SqlStatement

  constructor(runner: SqlRunner, sql: string, params: SqlValue[]) {
    this.#runner = runner
    this.statement = { sql, params }
  }

  bind(...values: unknown[]): ShardStatement {
    return new ShardStatement(this.#runner, this.statement.sql, values.map(toSqlValue))
  }

  async first<T>(column?: string): Promise<T | null> {
    const [outcome] = await this.#runner([this.statement])
    const row = outcome!.rows[0]
    if (row === undefined) return null
    return (column === undefined ? row : row[column]) as T
  }

  async all<T>(): Promise<D1Result<T>> {
    const [outcome] = await this.#runner([this.statement])
    return toResult(outcome!) as D1Result<T>
  }

  async run<T>(): Promise<D1Result<T>> {
    return this.all<T>()
  }
}

function toResult(outcome: SqlOutcome): D1Result {
  return {
    results: outcome.rows,
    success: true,
    meta: {
      changes: outcome.changes,
      changed_db: outcome.changes > 0,
      duration: 0,
      last_row_id: 0,
      rows_read: outcome.rows.length,
      rows_written: outcome.changes,
      size_after: 0,
    },
  } as D1Result
}

function toSqlValue(value: unknown): SqlValue {
  if (value === undefined || value === null) return null
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'string' || typeof value === 'number' || value instanceof ArrayBuffer) {
    return value
  }
  throw new TypeError(`cannot bind a ${typeof value} to a send shard statement`)
}

function unsupported(name: string) {
  return () => {
    throw new Error(`D1Database.${name} is not available on a send shard`)
  }
}

/**
 * While a shard is busy its alarm runs about once a second, not after every call: each run hands
 * its outboxes on, many rows a statement, with what the calls since the last one left
 * (src/queue/shard-alarm.ts). The admin search lags a status by about that much.
 */
export const OUTBOX_EVERY_MS = 1000

/** A provider id (an int64 above 0, in decimal), and one of its shards' index (0 to 63). */
export const PROVIDER_ID_SOURCE = '[1-9][0-9]{0,18}'
export const SHARD_INDEX_SOURCE = '[0-9]|[1-5][0-9]|6[0-3]'

/** A send shard's name as domain/admission.ts sendShardName writes it, and nothing else. */
export const SEND_SHARD_NAME = new RegExp(
  `^provider:${PROVIDER_ID_SOURCE}(?::(?:${SHARD_INDEX_SOURCE}))?$`,
)

/** What one group of runEach gave: its outcomes, or the error that undid its transaction. */
export type GroupOutcome = { outcomes: SqlOutcome[] } | { error: string }

/** The SEND_SHARDS binding, as far as a shard's database needs it. */
export type ShardNamespace = {
  getByName(name: string): {
    run(statements: SqlStatement[]): Promise<SqlOutcome[]>
    runFresh(statements: SqlStatement[]): Promise<SqlOutcome[]>
    runEach(groups: SqlStatement[][]): Promise<GroupOutcome[]>
  }
}

/** The database of the send shard `name` (domain/admission.ts sendShardName): one call a batch. */
export function shardDatabaseIn(shards: ShardNamespace, name: string): D1Database {
  return shardDatabase((statements) => shards.getByName(name).run(statements))
}

/**
 * The same, for reads of the shard's copy of the send facts (decisions.md D48): the shard first
 * brings a copy older than the most a check may see up to date.
 */
export function freshShardDatabaseIn(shards: ShardNamespace, name: string): D1Database {
  return shardDatabase((statements) => shards.getByName(name).runFresh(statements))
}

/**
 * The database of the send shard `name` for `tasks` tasks running at once (the deliveries of one
 * shard in a queue batch): whenever every task still running waits for the shard, their batches go
 * in one call (runEach), each in its own transaction as if sent alone. Each task calls done() once
 * it ends, whatever way, so that the others do not wait for it.
 */
export function sharedShardDatabaseIn(
  shards: ShardNamespace,
  name: string,
  tasks: number,
): { db: D1Database; done(): void } {
  let running = tasks
  let waiting: {
    statements: SqlStatement[]
    resolve(outcomes: SqlOutcome[]): void
    reject(cause: unknown): void
  }[] = []
  const flush = () => {
    if (waiting.length === 0 || waiting.length < running) return
    const taken = waiting
    waiting = []
    shards
      .getByName(name)
      .runEach(taken.map((t) => t.statements))
      .then(
        (answers) =>
          answers.forEach((answer, i) =>
            'error' in answer
              ? taken[i]!.reject(new Error(answer.error))
              : taken[i]!.resolve(answer.outcomes),
          ),
        (cause: unknown) => taken.forEach((t) => t.reject(cause)),
      )
  }
  const db = shardDatabase(
    (statements) =>
      new Promise<SqlOutcome[]>((resolve, reject) => {
        waiting.push({ statements, resolve, reject })
        flush()
      }),
  )
  return {
    db,
    done() {
      running -= 1
      flush()
    },
  }
}
