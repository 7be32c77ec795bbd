// Seeds what the scenarios need through the public API. Only the first admin client is written to
// D1 directly, as `npm run admin:bootstrap` does; everything else goes through /admin/* and
// /recipients.
import { digestClientSecret, generateClientSecret, importPepper } from '../src/domain/secrets.ts'
import { SCOPES } from '../src/domain/scopes.ts'
import { insertClient } from '../src/storage/clients.ts'

export type Seeded = {
  clientId: string
  clientSecret: string
  providerId: string
  serviceId: number
  serviceToken: string
  userId: string
}

const ADMIN_ID = 'bench-admin'
const PROVIDER_ID = '1001'
const SERVICE_ID = 1
const USER_ID = 'bench-user'

export async function seed(base: string, db: D1Database, pepper: string): Promise<Seeded> {
  const adminSecret = generateClientSecret()
  await insertClient(db, {
    id: ADMIN_ID,
    providerId: null,
    name: 'Bench operator',
    secretDigest: await digestClientSecret(await importPepper(pepper), adminSecret),
    allowedScopes: [SCOPES.admin, SCOPES.introspectAny],
    audiences: [],
  })
  const admin = await issueToken(base, ADMIN_ID, adminSecret)
  const call = (token: string, method: string, path: string, body: unknown) =>
    send(base, path, { method, headers: { authorization: `Bearer ${token}` }, json: body })

  await call(admin, 'POST', '/admin/providers', { id: PROVIDER_ID, name: 'Bench provider' })
  const client = (await call(admin, 'POST', '/admin/clients', {
    id: 'bench-client',
    provider_id: PROVIDER_ID,
    name: 'Bench client',
    allowed_scopes: [SCOPES.send, SCOPES.introspect, SCOPES.recipients],
  })) as { client_id: string; client_secret: string }
  await call(admin, 'POST', '/admin/services', {
    id: SERVICE_ID,
    name: 'Bench',
    allowed_channels: ['sms', 'fcm'],
  })
  const subscription = (await call(admin, 'POST', `/admin/providers/${PROVIDER_ID}/subscriptions`, {
    service_id: SERVICE_ID,
  })) as { service_token: string }

  const token = await issueToken(base, client.client_id, client.client_secret)
  await call(token, 'POST', '/recipients', { user_id: USER_ID, phone: '+5491155550000' })
  return {
    clientId: client.client_id,
    clientSecret: client.client_secret,
    providerId: PROVIDER_ID,
    serviceId: SERVICE_ID,
    serviceToken: subscription.service_token,
    userId: USER_ID,
  }
}

/** An access token by client_secret_basic at /oauth/token. */
export async function issueToken(base: string, clientId: string, secret: string): Promise<string> {
  const body = (await send(base, '/oauth/token', {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${clientId}:${secret}`)}` },
    form: 'grant_type=client_credentials',
  })) as { access_token: string }
  return body.access_token
}

type Init = { method: string; headers: Record<string, string>; json?: unknown; form?: string }

async function send(
  base: string,
  path: string,
  { method, headers, json, form }: Init,
): Promise<unknown> {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...headers,
      ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(form !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: json !== undefined ? JSON.stringify(json) : form,
  })
  const text = await response.text()
  if (!response.ok)
    throw new Error(`seeding: ${method} ${path} answered ${response.status}: ${text}`)
  return text ? (JSON.parse(text) as unknown) : null
}
