// POST /auth/login (Bridge and Yativo dialects) and POST /auth/me (Bridge's token check).
import { Hono } from 'hono'
import type { AppEnv } from '../http/app-env.ts'
import { BRIDGE_ACK } from '../errors.ts'
import { loginClient } from '../domain/login.ts'
import { checkAccessToken } from '../domain/token-state.ts'
import { readAccessToken } from '../http/bearer.ts'
import { clientIp } from '../http/client-auth.ts'
import { loginDeps, tokenStateDeps } from '../http/deps.ts'
import { BridgeLogin, detectLoginDialect, YativoLogin } from '../http/dialect.ts'
import { parseWith, requireJson } from '../http/validate.ts'

export const auth = new Hono<AppEnv>()

auth.post('/login', requireJson(), async (c) => {
  const body: unknown = await c.req.json()
  const dialect = detectLoginDialect(body)
  c.set('dialect', dialect)
  const { clientId, clientSecret } =
    dialect === 'bridge'
      ? parseWith(BridgeLogin, body)
      : (({ account_id, app_secret }) => ({ clientId: account_id, clientSecret: app_secret }))(
          parseWith(YativoLogin, body),
        )

  const issued = await loginClient(await loginDeps(c), {
    clientId,
    clientSecret,
    ip: clientIp(c),
    via: `auth/login:${dialect}`,
  })

  // RFC 6749 §5.1, as /oauth/token: a token answer is kept by no cache, HTTP/1.0 ones included.
  c.header('cache-control', 'no-store')
  c.header('pragma', 'no-cache')
  if (dialect === 'bridge') {
    return c.json({ ack: BRIDGE_ACK.ok, token: issued.token, expires_in: issued.expiresIn })
  }
  return c.json({
    status: 'success',
    status_code: 200,
    message: 'Request successful',
    data: { access_token: issued.token, token_type: 'bearer', expires_in: issued.expiresIn },
  })
})

// Document 003: "El método /auth/me sirve para probar si el token es valido". Errors carry ack
// (app.ts sets the Bridge dialect for this path).
auth.post('/me', async (c) => {
  const token = readAccessToken(c)
  // The same check as introspection: revoked tokens and disabled clients' tokens fail here too.
  const { claims } = await checkAccessToken(await tokenStateDeps(c), token)
  c.header('cache-control', 'no-store')
  return c.json({ ack: BRIDGE_ACK.ok, active: true, ...claims })
})
