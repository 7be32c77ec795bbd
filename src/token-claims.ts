// The claims of the access tokens Portero issues (RFC 9068 §2.2): what domain/tokens.ts signs and
// checks, and what the token cache in storage keeps of a verified token.

export type AccessTokenClaims = {
  iss: string
  sub: string
  aud: string | string[]
  client_id: string
  scope: string
  jti: string
  iat: number
  nbf: number
  exp: number
  provider_id: string | null
  /**
   * The generation of its client's credentials it was minted under (decisions.md D34): epoch
   * milliseconds. Absent from tokens minted before generations existed: generation 0.
   */
  gen?: number
  /**
   * The key the token is bound to (RFC 7800): a DPoP key's RFC 7638 thumbprint (RFC 9449 §6) or a
   * client certificate's SHA-256 (RFC 8705 §3.1), both base64url. Absent: a bearer token.
   */
  cnf?: Confirmation
}

export type Confirmation = { jkt?: string; 'x5t#S256'?: string }
