// The client_record_versions table: which clients' edge records D1 has changed and KV may not hold
// yet (migration 0016, decisions.md D35), so that a publish that failed is repaired by the
// scheduled job instead of waiting for the record to expire.

/** The version of a client's record an admin change made, and a deleted client's end of tokens. */
export type RecordVersion = { clientId: string; version: number; tokensValidAfter: number }

type VersionRow = { client_id: string; version: number; tokens_valid_after: number }

function toRecordVersion(row: VersionRow): RecordVersion {
  return {
    clientId: row.client_id,
    version: row.version,
    tokensValidAfter: row.tokens_valid_after,
  }
}

/**
 * Bumps the version of each client's record: D1 now holds (or is about to hold) something its
 * edge record does not. `tokensValidAfter` (epoch seconds) is kept, never lowered, for the record of
 * a client that is gone. Returns the new versions.
 */
export async function bumpRecordVersions(
  db: D1Database,
  ids: readonly string[],
  tokensValidAfter = 0,
): Promise<RecordVersion[]> {
  if (ids.length === 0) return []
  const results = await db.batch<VersionRow>(
    ids.map((id) =>
      db
        .prepare(
          `INSERT INTO client_record_versions (client_id, version, tokens_valid_after)
           VALUES (?1, 1, ?2)
           ON CONFLICT (client_id) DO UPDATE SET version = version + 1,
             tokens_valid_after = MAX(tokens_valid_after, excluded.tokens_valid_after)
           RETURNING client_id, version, tokens_valid_after`,
        )
        .bind(id, tokensValidAfter),
    ),
  )
  return results.flatMap((result) => result.results.map(toRecordVersion))
}

/** Up to `limit` records whose latest version has not reached KV, in id order. */
export async function findLaggingRecords(db: D1Database, limit: number): Promise<RecordVersion[]> {
  const { results } = await db
    .prepare(
      `SELECT client_id, version, tokens_valid_after FROM client_record_versions
       WHERE published_version < version ORDER BY client_id LIMIT ?1`,
    )
    .bind(limit)
    .all<VersionRow>()
  return results.map(toRecordVersion)
}

/** The versions of these clients' records now. */
export async function findRecordVersions(
  db: D1Database,
  ids: readonly string[],
): Promise<RecordVersion[]> {
  if (ids.length === 0) return []
  const { results } = await db
    .prepare(
      `SELECT client_id, version, tokens_valid_after FROM client_record_versions
       WHERE client_id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(ids))
    .all<VersionRow>()
  return results.map(toRecordVersion)
}

/**
 * KV took these versions. A version bumped meanwhile stays lagging: the record published may
 * predate that change.
 */
export async function markRecordsPublished(
  db: D1Database,
  versions: readonly RecordVersion[],
): Promise<void> {
  if (versions.length === 0) return
  await db.batch(
    versions.map(({ clientId, version }) =>
      db
        .prepare(
          `UPDATE client_record_versions SET published_version = ?2
           WHERE client_id = ?1 AND published_version < ?2`,
        )
        .bind(clientId, version),
    ),
  )
}
