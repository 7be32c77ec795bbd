// The client_trusted_issuers table: the platforms whose tokens authenticate a client (migration
// 0025, decisions.md D38). They travel in the client's edge record (storage/clients.ts reads them
// with the client), so /oauth/token matches a platform's token without reading D1.
import type { JWK } from 'jose'

export type TrustedIssuer = {
  /** The exact `iss`. */
  issuer: string
  /** A fixed key set; absent: OpenID discovery's `jwks_uri`. */
  jwks?: { keys: JWK[] }
  /** The exact `sub`, or a pattern when `subjectIsPattern` (`*`: one or more non-`:` characters). */
  subject: string
  subjectIsPattern: boolean
  /** The `aud` required; absent: Portero's issuer. */
  audience?: string
  /** Claims required with exactly these string values. */
  claims: Record<string, string>
  /** Seconds since the epoch. */
  createdAt: number
}

/** The columns of a client's trusted issuers as one JSON array, for a SELECT of clients. */
export const TRUSTED_ISSUERS_COLUMN = `(SELECT json_group_array(json_object('issuer', t.issuer,
    'jwks', json(t.jwks), 'subject', t.subject, 'subjectIsPattern', t.subject_is_pattern,
    'audience', t.audience, 'claims', json(t.claims), 'createdAt', t.created_at,
    'position', t.position))
  FROM client_trusted_issuers t WHERE t.client_id = c.id)`

type Column = Omit<TrustedIssuer, 'jwks' | 'audience' | 'subjectIsPattern'> & {
  jwks: { keys: JWK[] } | null
  audience: string | null
  subjectIsPattern: number
  position: number
}

/** The trusted issuers of TRUSTED_ISSUERS_COLUMN, in the order they were given. */
export function parseTrustedIssuersColumn(json: string | null): TrustedIssuer[] {
  const rows = json ? (JSON.parse(json) as Column[]) : []
  return rows
    .sort((a, b) => a.position - b.position)
    .map(({ jwks, audience, subjectIsPattern, position: _, ...rest }) => ({
      ...rest,
      subjectIsPattern: subjectIsPattern === 1,
      ...(jwks ? { jwks } : {}),
      ...(audience ? { audience } : {}),
    }))
}

/** Replaces a client's trusted issuers, in one batch. */
export async function replaceTrustedIssuers(
  db: D1Database,
  clientId: string,
  issuers: readonly TrustedIssuer[],
): Promise<void> {
  await db.batch([
    db.prepare('DELETE FROM client_trusted_issuers WHERE client_id = ?1').bind(clientId),
    ...insertTrustedIssuerStatements(db, clientId, issuers),
  ])
}

/** The statements adding a client's trusted issuers, for one batch with whatever else changes. */
export function insertTrustedIssuerStatements(
  db: D1Database,
  clientId: string,
  issuers: readonly TrustedIssuer[],
): D1PreparedStatement[] {
  return issuers.map((t, position) =>
    db
      .prepare(
        `INSERT INTO client_trusted_issuers (client_id, position, issuer, jwks, subject,
           subject_is_pattern, audience, claims, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
      )
      .bind(
        clientId,
        position,
        t.issuer,
        t.jwks ? JSON.stringify(t.jwks) : null,
        t.subject,
        t.subjectIsPattern ? 1 : 0,
        t.audience ?? null,
        JSON.stringify(t.claims),
        t.createdAt,
      ),
  )
}
