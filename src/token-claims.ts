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
}
