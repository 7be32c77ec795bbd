// Proof of possession on Portero's routes (docs/tokens.md "DPoP", "Certificate-bound tokens"): what a
// request brings to bind a token or to use a bound one: its DPoP proof and the client certificate
// Cloudflare verified on its connection.
import type { Context } from 'hono'
import { base64url } from 'jose'
import { loadConfig } from '../config.ts'
import type { AppEnv } from './app-env.ts'
import { AppError, ResourceDpopError } from '../errors.ts'
import { currentNonce, verifyProof, type Proof } from '../domain/dpop.ts'
import { isLocalIssuer } from '../domain/secrets.ts'
import type { ActiveToken } from '../domain/token-state.ts'
import { confirmPossession, type BindingMaterial } from '../domain/token-binding.ts'
import { fromHex } from '../encoding.ts'
import type { PresentedToken } from './bearer.ts'
import { proofDeps } from './deps.ts'

/**
 * Development only: the SHA-256 fingerprint (hex) of a client certificate, honoured only while
 * ISSUER is a localhost URL, so that tests and `npm start` can exercise certificate-bound tokens
 * without Cloudflare's mTLS. Anywhere else the header is ignored.
 */
export const DEV_CERTIFICATE_HEADER = 'x-portero-dev-client-cert-sha256'

const SHA256_HEX = /^[0-9a-f]{64}$/i

/**
 * The `x5t#S256` (RFC 8705 §3.1: base64url of the DER certificate's SHA-256) of the client
 * certificate Cloudflare verified on this connection (`request.cf.tlsClientAuth`: presented,
 * verified, not revoked; its `certFingerprintSHA256` is that digest in hex); null without one.
 */
export async function clientCertificate(c: Context<AppEnv>): Promise<string | null> {
  const cf = c.req.raw.cf as { tlsClientAuth?: Partial<TlsClientAuth> } | undefined
  const auth = cf?.tlsClientAuth
  let fingerprint =
    auth?.certPresented === '1' && auth.certVerified === 'SUCCESS' && auth.certRevoked !== '1'
      ? auth.certFingerprintSHA256
      : undefined
  const dev = c.req.header(DEV_CERTIFICATE_HEADER)
  if (fingerprint === undefined && dev !== undefined) {
    if (isLocalIssuer((await loadConfig(c.env)).issuer)) fingerprint = dev.trim()
  }
  if (!fingerprint || !SHA256_HEX.test(fingerprint)) return null
  return base64url.encode(fromHex(fingerprint.toLowerCase()))
}

type TlsClientAuth = {
  certPresented: string
  certVerified: string
  certRevoked: string
  certFingerprintSHA256: string
}

/**
 * The DPoP proof of a token request, checked for this request (POST to this URL), or null without
 * a DPoP header. Throws 400 `invalid_dpop_proof`.
 */
export async function tokenRequestProof(c: Context<AppEnv>): Promise<Proof | null> {
  const header = c.req.header('dpop')
  if (header === undefined) return null
  return verifyProof(await proofDeps(c), header, { method: c.req.method, url: c.req.url })
}

/** What a token request brings to bind the token it gets (token-binding.ts confirmationFor). */
export async function bindingMaterial(c: Context<AppEnv>): Promise<BindingMaterial> {
  const [proof, certificate] = await Promise.all([tokenRequestProof(c), clientCertificate(c)])
  return { proof, certificate }
}

/**
 * Checks that this request may use the active token it presented (confirmPossession). A request
 * with the DPoP scheme gets the current server nonce in `DPoP-Nonce` (RFC 9449 §8.2).
 */
export async function assertPossession(
  c: Context<AppEnv>,
  presented: PresentedToken,
  active: ActiveToken,
): Promise<void> {
  const deps = await proofDeps(c)
  if (presented.scheme === 'DPoP') c.header('dpop-nonce', await currentNonce(deps))
  await confirmPossession(
    deps,
    {
      ...presented,
      proof: c.req.header('dpop'),
      certificate: await clientCertificate(c),
      request: { method: c.req.method, url: c.req.url },
    },
    active.claims,
    active.dpopRequired,
  )
}

/**
 * RFC 9449 §7.1: a request made with the DPoP scheme is answered with a DPoP challenge, and its
 * DPoP errors with 401; anything else is left as it is.
 */
export function challengeFor(presented: PresentedToken | null, err: unknown): unknown {
  if (!(err instanceof AppError) || err instanceof ResourceDpopError) return err
  const dpop = err.code === 'invalid_dpop_proof' || err.code === 'use_dpop_nonce'
  if (presented?.scheme !== 'DPoP' && !dpop) return err
  return dpop || err.status === 401 || err.status === 403 ? new ResourceDpopError(err) : err
}
