// DPoP proofs (RFC 9449 §4): a JWT per request, signed by the key the token is bound to.
import { base64url, exportJWK, SignJWT } from 'jose'

export type DpopOptions = {
  /** The key pair the tokens are bound to (ES256 by default: generateKeyPair('ES256')). */
  keyPair: CryptoKeyPair
  /** Its algorithm: ES256, EdDSA or RS256 (default ES256). */
  alg?: string
}

/** Makes proofs, and remembers the last `DPoP-Nonce` the server gave (RFC 9449 §8). */
export class DpopSigner {
  readonly #options: DpopOptions
  #jwk: Promise<Record<string, unknown>> | undefined
  nonce: string | undefined

  constructor(options: DpopOptions) {
    this.#options = options
  }

  /** A proof for `method` on `url` (without its query), with `ath` when `accessToken` is given. */
  async proof(method: string, url: string, accessToken?: string): Promise<string> {
    this.#jwk ??= exportJWK(this.#options.keyPair.publicKey).then(({ kty, crv, x, y, n, e }) =>
      Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v)),
    )
    const target = new URL(url)
    const claims: Record<string, unknown> = {
      htm: method.toUpperCase(),
      htu: target.origin + target.pathname,
      jti: crypto.randomUUID(),
    }
    if (accessToken !== undefined) {
      const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))
      claims.ath = base64url.encode(new Uint8Array(digest))
    }
    if (this.nonce) claims.nonce = this.nonce
    return new SignJWT(claims)
      .setProtectedHeader({
        alg: this.#options.alg ?? 'ES256',
        typ: 'dpop+jwt',
        jwk: await this.#jwk,
      })
      .setIssuedAt()
      .sign(this.#options.keyPair.privateKey)
  }

  /** Keeps the answer's nonce; true when the answer asks for a retry with it. */
  async heard(response: Response): Promise<boolean> {
    const nonce = response.headers.get('dpop-nonce')
    if (nonce) this.nonce = nonce
    if (!nonce) return false
    if (response.status === 401) {
      return /error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? '')
    }
    if (response.status !== 400) return false
    const body = (await response
      .clone()
      .json()
      .catch(() => ({}))) as { error?: string }
    return body.error === 'use_dpop_nonce'
  }
}
