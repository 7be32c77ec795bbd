// `npm start`: a working local Portero with no Cloudflare account. Writes development secrets if
// missing, migrates the local D1, seeds demo clients, serves with `wrangler dev` and prints
// ready-to-paste curl commands.
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { getPlatformProxy, unstable_readConfig } from 'wrangler'
import {
  DEV_CREDENTIALS,
  devWorkloadIdentity,
  ensureDevVars,
  keepPrivate,
  STAND_IN_PORT,
} from './dev-vars.ts'
import { startLocalCron } from './local-cron.ts'
import {
  DEMO_PROVIDER,
  DEMO_SERVICE_ID,
  DEMO_USER_ID,
  seedDispatch,
  seedLocalDatabase,
  type SeededClient,
} from './seed.ts'

// Everything runs offline: no Request.cf lookup at Cloudflare, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
process.env.WRANGLER_SEND_METRICS ??= 'false'

const PORT = 8787
const BASE = `http://localhost:${PORT}`
const STAND_IN = `http://localhost:${STAND_IN_PORT}`
const WRANGLER = 'node_modules/.bin/wrangler'

function step(message: string) {
  console.log(`\n\u25b8 ${message}`)
}

step('Development secrets (.dev.vars)')
const { vars, created } = await ensureDevVars()
console.log(
  created.length ? `  generated ${created.join(' and ')}` : '  using the existing .dev.vars',
)

step('Migrating the local D1 database')
// CI=true: apply without asking (the local database is disposable).
const migrate = spawnSync(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local'], {
  stdio: 'inherit',
  env: { ...process.env, CI: 'true' },
})
if (migrate.status !== 0) process.exit(migrate.status ?? 1)

step('Seeding the demo provider and clients')
const proxy = await getPlatformProxy<Env>({ persist: true })
let clients: SeededClient[]
let serviceToken: string
try {
  clients = await seedLocalDatabase(proxy.env.DB, proxy.env.CACHE, vars.SECRET_PEPPER!)
  ;({ serviceToken } = await seedDispatch(proxy.env.DB))
} finally {
  await proxy.dispose()
}

/**
 * wrangler.toml's `[secrets] required` lists only what every deployment needs, and `wrangler dev`
 * then takes no other secret from .dev.vars: the channels' secrets are handed over as local vars.
 * They are the stand-in's development credentials unless .dev.vars was changed by hand.
 */
function channelSecretArgs(): string[] {
  const names = [
    'SMS_AUTH_TOKEN',
    'SMS_AUTH_TOKEN_SECONDARY',
    'SMS_API_KEY_SECRET',
    'VONAGE_API_SECRET',
  ]
  const args = names
    .filter((name) => vars[name])
    .flatMap((name) => ['--var', `${name}:${vars[name]}`])
  // FCM without a key by default (decisions.md D39); PORTERO_FCM_CREDENTIAL=key uses the
  // stand-in's service-account key instead. Exactly one of the two is handed over.
  const fcm =
    process.env.PORTERO_FCM_CREDENTIAL === 'key'
      ? `FCM_SERVICE_ACCOUNT:${vars.FCM_SERVICE_ACCOUNT}`
      : `FCM_WORKLOAD_IDENTITY:${devWorkloadIdentity()}`
  return [...args, '--var', fcm]
}

step(`Starting the SMS/FCM stand-in on ${STAND_IN} and Portero on ${BASE}`)
const servers = [
  spawn(
    WRANGLER,
    [
      'dev',
      '--config',
      'stand-in/wrangler.toml',
      '--port',
      String(STAND_IN_PORT),
      '--inspector-port',
      '9230',
    ],
    {
      stdio: 'inherit',
    },
  ),
  // --test-scheduled: the scheduled handler answers GET /__scheduled, which the local cron calls.
  spawn(
    WRANGLER,
    [
      'dev',
      '--port',
      String(PORT),
      '--inspector-port',
      '9229',
      '--test-scheduled',
      ...channelSecretArgs(),
    ],
    { stdio: 'inherit' },
  ),
]
let stopCron = () => {}
const stopAll = (signal: NodeJS.Signals) => {
  stopCron()
  servers.forEach((s) => s.kill(signal))
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopAll(signal))
// Either one stopping stops the other: half a system is no use.
for (const server of servers) {
  server.on('exit', (code) => {
    stopAll('SIGTERM')
    process.exit(code ?? 0)
  })
}

await Promise.all([waitFor(`${STAND_IN}/_control/received`), waitFor(`${BASE}/healthz`)])
// wrangler dev fires no cron trigger: the clean-up runs on wrangler.toml's schedule all the same
// (docs/development.md "Running locally"). The send shards' alarms run in wrangler dev as deployed.
const crons =
  unstable_readConfig({ config: 'wrangler.toml' }, { hideWarnings: true }).triggers.crons ?? []
stopCron = startLocalCron({ base: BASE, crons })
// For tools and end-to-end tests that drive this local system: what the banner says, as JSON.
writeFileSync(
  DEV_CREDENTIALS,
  JSON.stringify(
    {
      base: BASE,
      standIn: STAND_IN,
      clients,
      serviceToken,
      serviceId: DEMO_SERVICE_ID,
      userId: DEMO_USER_ID,
    },
    null,
    2,
  ),
  { mode: 0o600 },
)
keepPrivate(DEV_CREDENTIALS)
printWelcome(clients, serviceToken)

async function waitFor(url: string) {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  console.error(`Nothing answered on ${url} within a minute.`)
  stopAll('SIGTERM')
  process.exit(1)
}

function printWelcome(seeded: SeededClient[], serviceToken: string) {
  const [admin, demo, bridge, yativo] = seeded as [
    SeededClient,
    SeededClient,
    SeededClient,
    SeededClient,
  ]
  const token = `sed -E 's/.*"access_token":"([^"]+)".*/\\1/'`
  console.log(`
Portero is running on ${BASE}

Seeded clients (provider ${DEMO_PROVIDER.id}, ${DEMO_PROVIDER.name}):
${seeded.map((c) => `  ${c.id.padEnd(18)} secret ${c.secret}   ${c.note}`).join('\n')}

Cron triggers:    ${crons.join(', ')}, run here as deployed (${BASE}/__scheduled)
Operator console: ${BASE}/console/  (sign in as ${admin.id} with the secret above)
API reference:    ${BASE}/docs

Try it:

  # OAuth 2.0 client credentials (client_secret_basic), then keep the token
  curl -s -u '${demo.id}:${demo.secret}' -d grant_type=client_credentials ${BASE}/oauth/token
  TOKEN=$(curl -s -u '${demo.id}:${demo.secret}' -d grant_type=client_credentials ${BASE}/oauth/token | ${token})

  # The same with client_secret_post and a narrower scope
  curl -s -d grant_type=client_credentials -d client_id=${demo.id} -d client_secret=${demo.secret} -d scope=services:send ${BASE}/oauth/token

  # Bridge dialect (document 003, its own example)
  curl -s -X POST ${BASE}/auth/login -H 'Content-Type: application/json' -d '{"clientId":"${bridge.id}","clientSecret":"${bridge.secret}"}'

  # Yativo dialect (document 002, its own example body)
  curl -s -X POST ${BASE}/auth/login -H 'Content-Type: application/json' -d '{"account_id":"${yativo.id}","app_secret":"${yativo.secret}"}'

  # Is this token valid? (Bridge's x-access-token, or a Bearer header)
  curl -s -X POST ${BASE}/auth/me -H "x-access-token: $TOKEN"
  curl -s -X POST ${BASE}/auth/me -H "Authorization: Bearer $TOKEN"

  # Introspection (document 001's tokeninfo; the caller here is the token's own client)
  curl -s -X POST ${BASE}/mcg/v1/tokeninfo -H "Authorization: Bearer $TOKEN" --data-urlencode "token=$TOKEN"
  curl -s -u '${demo.id}:${demo.secret}' --data-urlencode "token=$TOKEN" ${BASE}/oauth/introspect

  # Revocation, then the token is inactive
  curl -s -u '${demo.id}:${demo.secret}' --data-urlencode "token=$TOKEN" ${BASE}/oauth/revoke
  curl -s -X POST ${BASE}/auth/me -H "x-access-token: $TOKEN"

  # Document 001's /Services example: an SMS notification and an FCM advertisement to ${DEMO_USER_ID}
  TOKEN=$(curl -s -u '${demo.id}:${demo.secret}' -d grant_type=client_credentials ${BASE}/oauth/token | ${token})
  curl -si -X POST ${BASE}/Services -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -H "Idempotency-Key: $(date +%s)" -d '{
      "provider_id": ${DEMO_PROVIDER.id},
      "service_token": "${serviceToken}",
      "service_id": ${DEMO_SERVICE_ID},
      "parameters": {
        "destination": "${DEMO_USER_ID}",
        "notification": {"titulo": "Clínica Dr. Nano. Turno", "mensaje": "Oftalmologo Lunes 29-10 a las 9:15Hs.", "canal": "SMS"},
        "advertisement": {"titulo": "Autos usados CHECHO", "mensaje": "Lleve su auto usado con Financiameiento ...", "canal": "FCM"}
      }
    }'
  # then read its status at the Location it answered with:
  curl -s ${BASE}/Services/messages/MESSAGE_ID -H "Authorization: Bearer $TOKEN"
  # and see what the SMS and FCM stand-in received: ${STAND_IN}/ (or ${STAND_IN}/_control/received)
  # A second later the stand-in's signed status callback moves the SMS to delivered. To see one
  # end undelivered, send to +15005550010 (or make any number undeliverable first):
  curl -s -X POST ${STAND_IN}/_control/undeliverable -H 'Content-Type: application/json' -d '{"to": "+5491155550000", "errorCode": 30003}'
  curl -s -X DELETE ${STAND_IN}/_control/undeliverable
  # Be told by signed webhook instead of asking: register the stand-in's receiver, tell it the
  # secret the answer shows once (in place of SECRET), send again, and read what it received:
  curl -s ${BASE}/webhooks -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"url": "${STAND_IN}/webhooks/receiver/demo", "event_types": ["message.sent", "message.delivered", "message.undelivered"]}'
  curl -s -X PUT ${STAND_IN}/_control/webhooks/demo -H 'Content-Type: application/json' -d '{"secrets": ["SECRET"]}'
  curl -s ${STAND_IN}/_control/webhooks/demo

  # The recipients directory
  curl -s ${BASE}/recipients -H "Authorization: Bearer $TOKEN"

Onboard a provider end to end with the management API (the admin client is local only):

  ADMIN=$(curl -s -u '${admin.id}:${admin.secret}' -d grant_type=client_credentials ${BASE}/oauth/token | ${token})
  # 1. the provider
  curl -s -X POST ${BASE}/admin/providers -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"id": "2002", "name": "Autos usados CHECHO"}'
  # 2. its client: the secret is in this answer only
  curl -s -X POST ${BASE}/admin/clients -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \\
    -d '{"id": "checho", "provider_id": "2002", "name": "CHECHO backend", "allowed_scopes": ["services:send", "recipients:manage"]}'
  # 3. the provider gets a token (paste the client_secret from step 2)
  CHECHO=$(curl -s -u 'checho:CLIENT_SECRET' -d grant_type=client_credentials ${BASE}/oauth/token | ${token})
  # 4. a service, and the provider's subscription to it: the answer holds its service_token
  curl -s -X POST ${BASE}/admin/services -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"id": 2, "name": "Publicidad", "allowed_channels": ["sms", "fcm"]}'
  curl -s -X POST ${BASE}/admin/providers/2002/subscriptions -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"service_id": 2}'
  # 5. a recipient, added by the provider itself
  curl -s -X POST ${BASE}/recipients -H "Authorization: Bearer $CHECHO" -H 'Content-Type: application/json' -d '{"user_id": "cliente-7", "phone": "+5491155550007"}'
  # 6. send (paste the service_token from step 4)
  curl -s -X POST ${BASE}/Services -H "Authorization: Bearer $CHECHO" -H 'Content-Type: application/json' \\
    -d '{"provider_id": 2002, "service_token": "SERVICE_TOKEN", "service_id": 2, "parameters": {"destination": "cliente-7", "advertisement": {"title": "Autos usados CHECHO", "message": "Lleve su auto usado con financiamiento", "channel": "SMS"}}}'
  # and what happened, in the audit log
  curl -s '${BASE}/admin/audit?limit=10' -H "Authorization: Bearer $ADMIN"

A client with no secret and no key: a CI job's own token (the stand-in plays the CI platform's
issuer, ${STAND_IN}/issuers/ci) is its credential, once (docs/tokens.md "Federated clients"):

  curl -s -X POST ${BASE}/admin/clients -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"id": "deployer", "provider_id": "${DEMO_PROVIDER.id}", "name": "Deploy pipeline", "allowed_scopes": ["services:send"], "with_secret": false, "trusted_issuers": [{"issuer": "${STAND_IN}/issuers/ci", "subject": "repo:example-org/deployer:ref:refs/heads/main"}]}'
  OIDC=$(curl -s -X POST ${STAND_IN}/_control/issuers/ci/tokens -H 'Content-Type: application/json' -d '{"shape": "actions", "sub": "repo:example-org/deployer:ref:refs/heads/main", "aud": "${BASE}"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')
  curl -s ${BASE}/oauth/token -d client_id=deployer -d grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer -d "assertion=$OIDC"

  # Public keys and server metadata
  curl -s ${BASE}/.well-known/jwks.json
  curl -s ${BASE}/.well-known/oauth-authorization-server
  curl -s ${BASE}/healthz

Stop with Ctrl-C. The local database lives in .wrangler/state; delete that folder to start over.
`)
}
