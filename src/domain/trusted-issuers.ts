// A client's trusted issuers (decisions.md D38): which platforms' tokens authenticate it, checked
// and replaced as a whole. Every change republishes the client's edge record, which carries them
// to /oauth/token, and begins a new credential generation (decisions.md D34).
import { AppError, invalidFields, notFound, type FieldError } from '../errors.ts'
import { findClientById } from '../storage/clients.ts'
import { replaceTrustedIssuers, type TrustedIssuer } from '../storage/trusted-issuers.ts'
import { epochSeconds } from '../utils/time.ts'
import { refusedUrl } from '../utils/safe-fetch.ts'
import { checkPublicKeys } from './client-keys.ts'
import {
  markClientRecordsChanging,
  renewClientCredentials,
  type ClientRecordDeps,
} from './client-records.ts'
import { MAX_ISSUER_KEYS, MAX_TRUSTED_ISSUERS } from './federation.ts'
import { isLocalIssuer } from './secrets.ts'

export const MAX_REQUIRED_CLAIMS = 10
const CLAIM_NAME = /^[\x21-\x7E]{1,64}$/
/** Claims checked by their own rules, which a required claim may not name. */
const CHECKED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'])
const PRINTABLE = /^[^\p{Cc}]+$/u

/** One trusted issuer as the admin API takes it. */
export type TrustedIssuerInput = {
  issuer: string
  jwks?: { keys: unknown[] }
  subject?: string
  subjectPattern?: string
  audience?: string
  claims?: Record<string, string>
}

/**
 * Checks trusted issuers and returns them as stored. Refuses, naming each at fault (`<path>.<i>`):
 * an issuer URL that is not https (http only for localhost while Portero runs there), has a query
 * or fragment, or names a special-use address; neither or both of subject and subject_pattern; a
 * pattern with nothing but wildcards; a required claim checked by its own rule; a fixed key that
 * checkPublicKeys refuses; the same issuer and subject twice.
 */
export async function checkTrustedIssuers(
  inputs: readonly TrustedIssuerInput[],
  { issuer: portero, now }: { issuer: string; now: Date },
  path = 'issuers',
): Promise<TrustedIssuer[]> {
  const errors: FieldError[] = []
  const seen = new Set<string>()
  const accepted: TrustedIssuer[] = []
  if (inputs.length > MAX_TRUSTED_ISSUERS) {
    throw invalidFields([{ path, message: `at most ${MAX_TRUSTED_ISSUERS} trusted issuers` }])
  }
  for (const [index, input] of inputs.entries()) {
    const at = `${path}.${index}`
    const refuse = (field: string, message: string) =>
      errors.push({ path: `${at}.${field}`, message })
    const refused = refusedUrl(input.issuer, isLocalIssuer(portero))
    if (refused) refuse('issuer', `must be an https URL (${refused})`)
    else if (/[?#]/.test(input.issuer)) refuse('issuer', 'must have no query or fragment')
    const subject = input.subject ?? input.subjectPattern
    if ((input.subject === undefined) === (input.subjectPattern === undefined)) {
      refuse('subject', 'send exactly one of subject and subject_pattern')
    } else if (!subject || !PRINTABLE.test(subject)) {
      refuse('subject', 'must be printable')
    } else if (input.subjectPattern !== undefined && !/[^*:]/.test(input.subjectPattern)) {
      refuse('subject_pattern', 'must have characters other than * and :')
    }
    if (input.audience !== undefined && !PRINTABLE.test(input.audience)) {
      refuse('audience', 'must be printable')
    }
    const claims = Object.entries(input.claims ?? {})
    if (claims.length > MAX_REQUIRED_CLAIMS) {
      refuse('claims', `at most ${MAX_REQUIRED_CLAIMS} claims`)
    }
    for (const [name] of claims) {
      if (!CLAIM_NAME.test(name) || CHECKED_CLAIMS.has(name)) {
        refuse(`claims.${name}`, 'names a claim that cannot be required this way')
      }
    }
    let jwks: TrustedIssuer['jwks']
    if (input.jwks) {
      if (input.jwks.keys.length > MAX_ISSUER_KEYS) {
        refuse('jwks.keys', `at most ${MAX_ISSUER_KEYS} keys`)
      } else {
        try {
          const keys = await checkPublicKeys(input.jwks.keys, [], now, `${at}.jwks.keys`)
          jwks = { keys: keys.map((key) => key.jwk) }
        } catch (error) {
          if (!(error instanceof AppError)) throw error
          errors.push(...(error.options.errors ?? []))
        }
      }
    }
    const identity = `${input.issuer}\n${subject}`
    if (seen.has(identity)) refuse('subject', 'this issuer and subject are given twice')
    seen.add(identity)
    accepted.push({
      issuer: input.issuer,
      ...(jwks ? { jwks } : {}),
      subject: subject ?? '',
      subjectIsPattern: input.subjectPattern !== undefined,
      ...(input.audience !== undefined ? { audience: input.audience } : {}),
      claims: Object.fromEntries(claims),
      createdAt: epochSeconds(now),
    })
  }
  if (errors.length > 0) throw invalidFields(errors)
  return accepted
}

/** A client's trusted issuers. Throws 404 for an unknown client. */
export async function listTrustedIssuers(
  deps: Pick<ClientRecordDeps, 'db'>,
  id: string,
): Promise<TrustedIssuer[]> {
  const client = await findClientById(deps.db, id)
  if (!client) throw notFound(`No client "${id}".`)
  return client.trustedIssuers ?? []
}

/**
 * Replaces a client's trusted issuers (none: it trusts no platform any more). A new credential
 * generation begins, so tokens minted from a stale record's trust end once the record arrives.
 */
export async function replaceClientTrustedIssuers(
  deps: ClientRecordDeps & { issuer: string },
  id: string,
  inputs: readonly TrustedIssuerInput[],
): Promise<TrustedIssuer[]> {
  if (!(await findClientById(deps.db, id))) throw notFound(`No client "${id}".`)
  const issuers = await checkTrustedIssuers(inputs, deps)
  await markClientRecordsChanging(deps, [id])
  await replaceTrustedIssuers(deps.db, id, issuers)
  const [client] = await renewClientCredentials(deps, [id])
  return client?.trustedIssuers ?? []
}
