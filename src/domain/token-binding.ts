// Sender-constrained tokens (docs/tokens.md "DPoP", "Certificate-bound tokens"; decisions.md D30): the key
// a token is bound to when it is issued (its `cnf` claim, RFC 7800), and the proof of possession
// of that key every use of the token must bring.
import { AppError } from '../errors.ts'
import type { Client } from '../storage/clients.ts'
import type { AccessTokenClaims, Confirmation } from '../token-claims.ts'
import {
  assertNonce,
  claimProof,
  verifyProof,
  type Proof,
  type ProofDeps,
  type ProofRequest,
} from './dpop.ts'

/**
 * What a token request brings to bind the token: a checked DPoP proof (verifyProof), and the
 * SHA-256 of the verified client certificate of its connection (base64url, RFC 8705 §3.1).
 */
export type BindingMaterial = { proof: Proof | null; certificate: string | null }

/**
 * The `cnf` of a token issued to `client`: `jkt` for a DPoP proof, `x5t#S256` for a client
 * certificate, both when the request brings both; undefined for a bearer token. A client that
 * requires DPoP (RFC 9449 §5.2) must bring a proof with a server nonce. Throws 400
 * `invalid_dpop_proof` (no proof, or a replayed one) or `use_dpop_nonce`.
 */
export async function confirmationFor(
  deps: ProofDeps,
  client: Client,
  { proof, certificate }: BindingMaterial,
): Promise<Confirmation | undefined> {
  if (client.dpopBoundAccessTokens === true) {
    if (!proof) {
      const detail =
        'This client gets DPoP-bound tokens only: send a DPoP proof to /oauth/token (RFC 9449).'
      throw new AppError('invalid_dpop_proof', detail)
    }
    await assertNonce(deps, proof)
  }
  if (proof) await claimProof(deps, proof)
  if (!proof && !certificate) return undefined
  return {
    ...(proof ? { jkt: proof.jkt } : {}),
    ...(certificate ? { 'x5t#S256': certificate } : {}),
  }
}

/** How a request presents its token, and what it brings to prove possession of a bound one. */
export type Presentation = {
  token: string
  /** `DPoP` only for `Authorization: DPoP`; the Bearer scheme and x-access-token are `Bearer`. */
  scheme: 'Bearer' | 'DPoP'
  /** The `DPoP` header, if any. */
  proof: string | undefined
  /** The connection's verified client certificate's SHA-256, base64url; null without one. */
  certificate: string | null
  request: Omit<ProofRequest, 'accessToken'>
}

/**
 * Checks that a request may use this active token (RFC 9449 §7, RFC 8705 §3): a DPoP-bound token
 * only with the DPoP scheme and a proof of its key for this request (with a server nonce when its
 * client requires DPoP), an unbound one never with the DPoP scheme, a certificate-bound one only
 * over a connection presenting that certificate. Throws 401 `invalid_token`, 400
 * `invalid_dpop_proof` or `use_dpop_nonce` (a resource answers both with 401).
 */
export async function confirmPossession(
  deps: ProofDeps,
  presented: Presentation,
  claims: Pick<AccessTokenClaims, 'cnf'>,
  nonceRequired: boolean,
): Promise<void> {
  const jkt = claims.cnf?.jkt
  if (presented.scheme === 'DPoP') {
    if (!jkt) {
      const detail = 'The access token is not DPoP-bound: send it as "Authorization: Bearer".'
      throw new AppError('invalid_token', detail)
    }
    if (presented.proof === undefined) {
      throw new AppError('invalid_dpop_proof', 'A DPoP-bound token needs a DPoP proof header.')
    }
    const proof = await verifyProof(deps, presented.proof, {
      ...presented.request,
      accessToken: presented.token,
    })
    if (proof.jkt !== jkt) {
      const detail = 'The DPoP proof is not signed by the key the access token is bound to.'
      throw new AppError('invalid_dpop_proof', detail)
    }
    if (nonceRequired) await assertNonce(deps, proof)
    await claimProof(deps, proof)
  } else if (jkt) {
    const detail =
      'The access token is DPoP-bound: send it as "Authorization: DPoP" with a DPoP proof.'
    throw new AppError('invalid_token', detail)
  }
  const x5t = claims.cnf?.['x5t#S256']
  if (x5t !== undefined && x5t !== presented.certificate) {
    const detail =
      'The access token is bound to a client certificate this connection did not present.'
    throw new AppError('invalid_token', detail)
  }
}
