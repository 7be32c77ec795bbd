// `npm start`: a working local Portero with no Cloudflare account. Writes development secrets if
// missing, migrates the local D1, seeds demo clients, serves with `wrangler dev` and prints
// ready-to-paste curl commands.
import { spawn, spawnSync } from 'node:child_process'
import { getPlatformProxy } from 'wrangler'
import { ensureDevVars } from './dev-vars.ts'
import { DEMO_PROVIDER, seedLocalDatabase, type SeededClient } from './seed.ts'

// Everything runs offline: no Request.cf lookup at Cloudflare, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
process.env.WRANGLER_SEND_METRICS ??= 'false'

const PORT = 8787
const BASE = `http://localhost:${PORT}`
const WRANGLER = 'node_modules/.bin/wrangler'

function step(message: string) {
  console.log(`\n\u25b8 ${message}`)
}

step('Development secrets (.dev.vars)')
const { vars, created } = await ensureDevVars()
console.log(created.length ? `  generated ${created.join(' and ')}` : '  using the existing .dev.vars')

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
try {
  clients = await seedLocalDatabase(proxy.env.DB, vars.SECRET_PEPPER!)
} finally {
  await proxy.dispose()
}

step(`Starting wrangler dev on ${BASE}`)
const server = spawn(WRANGLER, ['dev', '--port', String(PORT)], { stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.kill(signal))
server.on('exit', (code) => process.exit(code ?? 0))

await waitForHealth()
printWelcome(clients)

async function waitForHealth() {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${BASE}/healthz`)).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  console.error(`Portero did not answer on ${BASE}/healthz within a minute.`)
  server.kill()
  process.exit(1)
}

function printWelcome(seeded: SeededClient[]) {
  const [demo, bridge, yativo] = seeded as [SeededClient, SeededClient, SeededClient]
  const token = `sed -E 's/.*"access_token":"([^"]+)".*/\\1/'`
  console.log(`
Portero is running on ${BASE}

Seeded clients (provider ${DEMO_PROVIDER.id}, ${DEMO_PROVIDER.name}):
${seeded.map((c) => `  ${c.id.padEnd(18)} secret ${c.secret}   ${c.note}`).join('\n')}

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

  # Public keys and server metadata
  curl -s ${BASE}/.well-known/jwks.json
  curl -s ${BASE}/.well-known/oauth-authorization-server
  curl -s ${BASE}/healthz

Stop with Ctrl-C. The local database lives in .wrangler/state; delete that folder to start over.
`)
}
