// The admin API's spelling of a client's trusted issuers (decisions.md D38): the body schema, its
// translation for the domain and the view, shared by client creation and /admin/clients/{id}/issuers.
import * as z from 'zod'
import { MAX_ISSUER_KEYS, MAX_TRUSTED_ISSUERS } from '../domain/federation.ts'
import { MAX_REQUIRED_CLAIMS, type TrustedIssuerInput } from '../domain/trusted-issuers.ts'
import type { TrustedIssuer } from '../storage/trusted-issuers.ts'

/** One trusted issuer, as the admin API takes it (the domain checks the rest). */
export const TrustedIssuerBody = z.strictObject({
  issuer: z
    .string()
    .min(1)
    .max(512)
    .meta({
      description:
        'The exact `iss` of its tokens: an https URL (http only for a localhost issuer while ' +
        "Portero's own ISSUER is localhost), e.g. `https://token.actions.githubusercontent.com`.",
    }),
  jwks: z
    .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_ISSUER_KEYS) })
    .optional()
    .meta({
      description:
        'A fixed JWK set of its public keys (each with a `kid`). Absent: its keys are found ' +
        'through OpenID discovery (`{issuer}/.well-known/openid-configuration`, `jwks_uri`).',
    }),
  subject: z.string().min(1).max(256).optional().meta({
    description: "The exact `sub` of the client's tokens, e.g. `system:serviceaccount:ns:name`.",
  }),
  subject_pattern: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .meta({
      description:
        'Instead of `subject`: a pattern in which `*` stands for one or more characters other ' +
        'than `:`, e.g. `repo:org/name:ref:refs/heads/*`.',
    }),
  audience: z.string().min(1).max(512).optional().meta({
    description:
      "The `aud` the tokens must name, as their sole audience. Absent: Portero's issuer.",
  }),
  claims: z
    .record(z.string(), z.string().min(1).max(256))
    .optional()
    .meta({
      description:
        `Up to ${MAX_REQUIRED_CLAIMS} further claims the tokens must carry, each with exactly ` +
        'this string value, e.g. `{"repository_owner": "org"}`.',
    }),
})

/** A list of trusted issuers, as creation and the replacement take it. */
export const TrustedIssuerList = z.array(TrustedIssuerBody).max(MAX_TRUSTED_ISSUERS)

export const TrustedIssuers = z.strictObject({
  issuers: TrustedIssuerList.meta({
    description: `Every trusted issuer, at most ${MAX_TRUSTED_ISSUERS}; [] trusts none.`,
  }),
})

/** The admin API's spelling of one trusted issuer, for the domain. */
export function toTrustedIssuerInput(body: z.infer<typeof TrustedIssuerBody>): TrustedIssuerInput {
  const { subject_pattern, ...rest } = body
  return { ...rest, ...(subject_pattern === undefined ? {} : { subjectPattern: subject_pattern }) }
}

/** One trusted issuer as the admin API shows it. */
export function trustedIssuerView(trust: TrustedIssuer) {
  return {
    issuer: trust.issuer,
    jwks: trust.jwks ?? null,
    subject: trust.subjectIsPattern ? null : trust.subject,
    subject_pattern: trust.subjectIsPattern ? trust.subject : null,
    audience: trust.audience ?? null,
    claims: trust.claims,
    created_at: new Date(trust.createdAt * 1000).toISOString(),
  }
}
