// `npm run admin:bootstrap [-- --env staging|production]`: creates the first operator client (scope
// admin) in the local D1, or with --env in that environment's deployed D1 (wrangler.toml
// [env.staging], [env.production]), and prints its secret once. Refuses when an admin client exists
// already: from then on clients are managed through /admin/clients.
//
// The secret's digest is computed here, so this needs the deployment's pepper: from .dev.vars
// locally, from the SECRET_PEPPER environment variable with --env. The printed curl names the
// environment's ISSUER (--url overrides it).
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { digestClientSecret, generateClientSecret, importPepper } from '../src/domain/secrets.ts'
import { SCOPES } from '../src/domain/scopes.ts'
import { readDevVars } from './dev-vars.ts'

const { values } = parseArgs({
  options: {
    env: { type: 'string' },
    // Kept for the older spelling `--remote --env X`: an environment's database is always remote.
    remote: { type: 'boolean', default: false },
    name: { type: 'string', default: 'Operator' },
    url: { type: 'string' },
  },
})

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false'
process.env.WRANGLER_SEND_METRICS ??= 'false'

// The local default of wrangler.toml has no deployed database (its ids are placeholders): the
// deployed ones belong to the environments.
if (values.remote && values.env === undefined) {
  console.error('Name the deployment: --env staging or --env production (wrangler.toml [env.…]).')
  process.exit(2)
}
const remote = values.env !== undefined
const where = remote ? ['--remote', '--env', values.env!] : ['--local']

function d1(sql: string): unknown[] {
  const run = spawnSync(
    'node_modules/.bin/wrangler',
    ['d1', 'execute', 'DB', ...where, '--json', '--command', sql],
    {
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    },
  )
  if (run.status !== 0) {
    console.error(run.stderr || run.stdout)
    process.exit(run.status ?? 1)
  }
  return (JSON.parse(run.stdout) as { results: unknown[] }[])[0]!.results
}

const base = values.url ?? (remote ? await issuerOf(values.env!) : 'http://localhost:8787')

const pepperText = remote ? process.env.SECRET_PEPPER : readDevVars().SECRET_PEPPER
if (!pepperText) {
  console.error(
    remote
      ? `Set SECRET_PEPPER to the pepper stored as the ${values.env} Worker's secret ` +
          '(docs/deployment.md, the secrets step), e.g. from your vault.'
      : 'No SECRET_PEPPER in .dev.vars: run `npm start` once first.',
  )
  process.exit(2)
}

const [existing] = d1(
  'SELECT COUNT(*) AS n FROM clients WHERE provider_id IS NULL ' +
    `AND ' ' || allowed_scopes || ' ' LIKE '% ${SCOPES.admin} %'`,
) as { n: number }[]
if (existing!.n > 0) {
  console.error('An admin client exists already. Create further clients with POST /admin/clients.')
  process.exit(1)
}

const id = `admin-${crypto.randomUUID().slice(0, 8)}`
const secret = generateClientSecret()
const digest = await digestClientSecret(await importPepper(pepperText), secret)
const name = values.name.replaceAll("'", "''")
d1(
  `INSERT INTO clients (id, provider_id, name, secret_digest, allowed_scopes, audiences)
   VALUES ('${id}', NULL, '${name}', '${digest}', '${SCOPES.admin} ${SCOPES.introspectAny}', '[]')`,
)

console.log(`Created the admin client. Its secret is shown only now; keep it in a password manager.

  client_id      ${id}
  client_secret  ${secret}

  curl -s -u '${id}:${secret}' -d grant_type=client_credentials ${base}/oauth/token
`)

/** The environment's ISSUER as wrangler.toml declares it, read with Wrangler's own reader. */
async function issuerOf(env: string): Promise<string> {
  const { unstable_readConfig } = await import('wrangler')
  try {
    const issuer = unstable_readConfig({ env }).vars.ISSUER
    if (typeof issuer === 'string' && issuer !== '') return issuer
    console.error(`[env.${env}.vars] has no ISSUER: pass --url https://your-origin.`)
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
  }
  process.exit(2)
}
