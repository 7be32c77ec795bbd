// The Portero app: global middleware, one sub-app per capability, and the error handlers.
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { AppEnv } from './config.ts'
import { AppError } from './errors.ts'
import { createNotFound, onError } from './http/errors.ts'
import { useDialect } from './http/dialect.ts'
import { requestId } from './http/request-id.ts'
import { admin } from './routes/admin/index.ts'
import { auth } from './routes/auth.ts'
import { docs } from './routes/docs.ts'
import { health } from './routes/health.ts'
import { introspection } from './routes/introspection.ts'
import { oauth } from './routes/oauth.ts'
import { recipients } from './routes/recipients.ts'
import { revocation } from './routes/revocation.ts'
import { services } from './routes/services.ts'
import { subscriptions } from './routes/subscriptions.ts'
import { wellKnown } from './routes/well-known.ts'

/** Bodies larger than this are refused before any parsing. */
export const MAX_BODY_BYTES = 16 * 1024

export const app = new Hono<AppEnv>()

app.use(requestId())
// Before the body limit, so that even a 413 answers in the envelope these clients read.
app.use('/oauth/*', useDialect('oauth'))
app.use('/mcg/v1/*', useDialect('oauth'))
app.use('/auth/me', useDialect('bridge'))
app.use(
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError() {
      throw new AppError(413, 'payload_too_large', `The request body is larger than ${MAX_BODY_BYTES} bytes.`)
    },
  }),
)

app.route('/healthz', health)
app.route('/auth', auth)
app.route('/oauth', oauth)
app.route('/.well-known', wellKnown)
app.route('/', introspection)
app.route('/', revocation)
app.route('/Services', services)
app.route('/recipients', recipients)
app.route('/subscriptions', subscriptions)
app.route('/admin', admin)
app.route('/', docs)

app.onError(onError)
app.notFound(createNotFound(app))
