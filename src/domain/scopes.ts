// The scopes Portero understands. A client may be allowed any subset.

export const SCOPES = {
  /** POST /Services: send notifications for the client's own provider. */
  send: 'services:send',
  /** Introspect tokens issued to the caller or naming it in `aud`. */
  introspect: 'tokens:introspect',
  /** Introspect any token (decisions.md D7). */
  introspectAny: 'tokens:introspect:any',
  /** The provider's recipients directory. */
  recipients: 'recipients:manage',
  /** The management API. */
  admin: 'admin',
} as const

export const ALL_SCOPES: string[] = Object.values(SCOPES)

/**
 * The scopes of Portero's own API, where Portero is the resource server (SECURITY.md, "Audience"):
 * /Services and /subscriptions (send), /recipients, /admin, and introspection with the caller's
 * own token (decisions.md D17). A token carrying one of them names Portero's resource in `aud`.
 */
export const API_SCOPES: readonly string[] = [
  SCOPES.send,
  SCOPES.recipients,
  SCOPES.admin,
  SCOPES.introspect,
  SCOPES.introspectAny,
]
