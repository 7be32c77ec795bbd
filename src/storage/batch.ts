// Reads that share one D1 round trip: a storage module returns its statements with the function
// that maps their results, so a caller can put reads of several tables in one db.batch.

/** Statements for db.batch and how to turn their results (in the same order) into a value. */
export type BatchRead<T> = { statements: D1PreparedStatement[]; read: (results: D1Result[]) => T }

type ValueOf<R> = R extends BatchRead<infer T> ? T : null
type Values<R> = { [K in keyof R]: ValueOf<R[K]> }

/**
 * Runs the reads in one db.batch: one round trip and one transaction, so they all see the same
 * state of the database. A read given as null is skipped and its value is null.
 */
export async function readBatch<R extends Record<string, BatchRead<unknown> | null>>(
  db: D1Database,
  reads: R,
): Promise<Values<R>> {
  const entries = Object.entries(reads)
  const statements = entries.flatMap(([, read]) => read?.statements ?? [])
  const results = statements.length > 0 ? await db.batch(statements) : []
  let at = 0
  const values = entries.map(([name, read]) => {
    if (!read) return [name, null]
    const own = results.slice(at, (at += read.statements.length))
    return [name, read.read(own)]
  })
  return Object.fromEntries(values) as Values<R>
}

/** Runs one read on its own: one round trip. */
export async function readOne<T>(db: D1Database, read: BatchRead<T>): Promise<T> {
  const [statement, ...more] = read.statements
  return read.read(
    more.length === 0 && statement ? [await statement.all()] : await db.batch(read.statements),
  )
}

/** The first row of a result mapped to its domain type, or null when there is none. */
export function firstRow<Row, T>(result: D1Result | undefined, map: (row: Row) => T): T | null {
  const row = result?.results[0] as Row | undefined
  return row ? map(row) : null
}
