// The Portero app: global middleware, one sub-app per capability, and the error handlers.
import { afterResponse } from './http/after-response.ts'
import { cors } from './http/cors.ts'
import { createAllowedMethods, createNotFound, onError } from './http/errors.ts'
import { useDialect } from './http/dialect.ts'
import { accessLog } from './http/access-log.ts'
import { refuseMisconfigured } from './http/misconfiguration.ts'
import { OpenApiApp } from './http/openapi-app.ts'
import { requestId } from './http/request-id.ts'
import { limitBody, limitHeaders, requireHttps, securityHeaders } from './http/security.ts'
import { acks } from './routes/acks.ts'
import { admin } from './routes/admin/index.ts'
import { auth } from './routes/auth.ts'
import { callbacks, SMS_INBOUND_BODY_BYTES } from './routes/callbacks.ts'
import { docs } from './routes/docs.ts'
import { health } from './routes/health.ts'
import { introspection } from './routes/introspection.ts'
import { oauth } from './routes/oauth.ts'
import { pictures } from './routes/pictures.ts'
import { recipients } from './routes/recipients.ts'
import { revocation } from './routes/revocation.ts'
import { DISPATCH_BODY_BYTES, services } from './routes/services.ts'
import { subscriptions } from './routes/subscriptions.ts'
import { webhooks } from './routes/webhooks.ts'
import { wellKnown } from './routes/well-known.ts'

/** Bodies larger than this are refused before any parsing, unless BODY_LIMITS says otherwise. */
export const MAX_BODY_BYTES = 16 * 1024

/**
 * Limits applied before the caller is known. The credential endpoints read their body before they
 * can authenticate anyone, and a login is a few hundred bytes. No route gets more than the default
 * here: a larger limit is applied by its route once the token is checked
 * (AUTHENTICATED_BODY_LIMITS).
 */
export const BODY_LIMITS: ReadonlyMap<string, number> = new Map([
  ['/auth/login', 4 * 1024],
  ['/oauth/token', 4 * 1024],
  // The SMS API's webhooks: a few hundred bytes of form (an inbound message's text up to a few
  // KiB), from anyone until their signature is checked.
  ['/callbacks/sms/status', 4 * 1024],
  ['/callbacks/sms/inbound', SMS_INBOUND_BODY_BYTES],
])

/** Routes whose larger limit applies only after their bearer token is checked (SECURITY.md). */
export const AUTHENTICATED_BODY_LIMITS: ReadonlyMap<string, number> = new Map([
  ['/Services', DISPATCH_BODY_BYTES],
])

/** Every route is an operation of the OpenAPI document GET /openapi.json serves (src/openapi/). */
export const app = new OpenApiApp()
const allowedMethods = createAllowedMethods(app)

// Outermost, so its headers land on every response: errors, 404s and redirects included.
app.use(securityHeaders())
app.use(requestId())
app.use(afterResponse())
app.use(accessLog())
// Before the checks below, so that even a 401, 413 or 431 answers in the envelope clients read.
app.use('/oauth/*', useDialect('oauth'))
app.use('/mcg/v1/*', useDialect('oauth'))
app.use('/auth/me', useDialect('bridge'))
app.use(requireHttps())
// Before routing: the notFound handler would answer every preflight with a bare 204.
app.use(cors(allowedMethods))
// Every route, /healthz included, refuses to serve a public host misconfigured (decisions.md D24).
app.use(refuseMisconfigured())
app.use(limitHeaders())
app.use(limitBody(MAX_BODY_BYTES, BODY_LIMITS, AUTHENTICATED_BODY_LIMITS))

app.route('/healthz', health)
app.route('/auth', auth)
app.route('/oauth', oauth)
app.route('/.well-known', wellKnown)
app.route('/', introspection)
app.route('/', revocation)
app.route('/Services', services)
app.route('/callbacks', callbacks)
app.route('/acks', acks)
app.route('/pictures', pictures)
app.route('/recipients', recipients)
app.route('/subscriptions', subscriptions)
app.route('/webhooks', webhooks)
app.route('/admin', admin)
app.route('/', docs)

app.onError(onError)
app.notFound(createNotFound(allowedMethods))
