// The console's only link to Portero: the admin token, kept in this module's memory alone (never
// in storage, a cookie or the URL), and every call to /admin with it. Same origin only: the page's
// Content-Security-Policy allows connect-src 'self' and nothing else.

/** @type {{ token: string, clientId: string, expiresAt: number, timer: number } | null} */
let session = null
/** @type {(reason: string) => void} */
let onSignedOut = () => {}

/** An answer of the API that is not a success: problem details (RFC 9457) when it sent them. */
export class ApiError extends Error {
  constructor(status, body) {
    const detail = body?.detail ?? body?.error_description ?? `The request failed (HTTP ${status}).`
    super(detail)
    this.status = status
    this.code = body?.code ?? body?.error ?? null
    /** @type {{ path: string, message: string }[]} */
    this.errors = Array.isArray(body?.errors) ? body.errors : []
  }
}

/** Called with a sentence saying why, whenever the session ends. */
export function whenSignedOut(listener) {
  onSignedOut = listener
}

export function signedIn() {
  return session !== null && Date.now() < session.expiresAt
}

export function clientId() {
  return session?.clientId ?? null
}

export function signOut(reason = 'Signed out.') {
  if (!session) return
  clearTimeout(session.timer)
  session = null
  onSignedOut(reason)
}

// RFC 6749 §2.3.1: the id and secret are form-urlencoded before they are joined for Basic.
const formEncode = (value) => encodeURIComponent(value).replace(/%20/g, '+')

/**
 * Client credentials (client_secret_basic) asking for the admin scope. Refuses a client that may
 * not have it, or whose token the management API then refuses (403).
 */
export async function signIn(id, secret) {
  signOut()
  const response = await fetch('/oauth/token', {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${formEncode(id)}:${formEncode(secret)}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=admin',
    cache: 'no-store',
    credentials: 'omit',
  })
  const body = await response.json().catch(() => null)
  if (!response.ok) {
    if (body?.error === 'invalid_scope') throw new Error(NOT_ADMIN)
    if (response.status === 401) throw new Error('Wrong client id or secret.')
    throw new ApiError(response.status, body)
  }
  const scopes = String(body?.scope ?? '').split(' ')
  if (!scopes.includes('admin') || typeof body?.access_token !== 'string') {
    throw new Error(NOT_ADMIN)
  }
  const lifetime = Number(body.expires_in) * 1000
  session = {
    token: body.access_token,
    clientId: id,
    expiresAt: Date.now() + lifetime,
    timer: setTimeout(() => signOut('Your session expired: sign in again.'), lifetime),
  }
  try {
    await api('/admin/providers?limit=1')
  } catch (err) {
    signOut()
    if (err instanceof ApiError && err.status === 403) throw new Error(NOT_ADMIN)
    throw err
  }
}

const NOT_ADMIN =
  'This client cannot sign in to the console: it is not an operator client with the admin scope.'

/**
 * A call to the management API: JSON in, JSON (or nothing) out. 401 ends the session; any other
 * failure throws an ApiError with the problem's detail and field errors.
 */
export async function api(path, { method = 'GET', body } = {}) {
  if (!session) throw new Error('Not signed in.')
  if (Date.now() >= session.expiresAt) {
    signOut('Your session expired: sign in again.')
    throw new Error('Your session expired: sign in again.')
  }
  const headers = { authorization: `Bearer ${session.token}`, accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  })
  if (response.status === 204) return null
  const answer = await response.json().catch(() => null)
  if (response.status === 401) {
    signOut('Portero no longer accepts this session (401): sign in again.')
    throw new ApiError(401, answer)
  }
  if (!response.ok) throw new ApiError(response.status, answer)
  return answer
}

/** A list's path with its query: empty values are left out. */
export function withQuery(path, query) {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value))
  }
  const search = params.toString()
  return search ? `${path}?${search}` : path
}
