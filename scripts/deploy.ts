// `npm run deploy -- --env production`: `npm run deploy:check` for that environment (never with
// placeholders), then `wrangler deploy` with the same arguments. Nothing is uploaded when the check
// finds a problem. The local default cannot be deployed: its ISSUER is http://localhost:8787.
import { spawnSync } from 'node:child_process'
import { checkBundle, checkEnvironment, parseDeployArgs, reportCheck } from './deploy-check.ts'

process.env.WRANGLER_SEND_METRICS ??= 'false'
const argv = process.argv.slice(2)
const usage = 'usage: npm run deploy -- --env NAME [wrangler deploy arguments…]'
const { env, config } = parseDeployArgs(argv, usage)
if (argv.includes('--placeholders')) {
  console.error('--placeholders is for deploy:check only: a placeholder cannot be deployed.')
  process.exit(2)
}
if (!reportCheck(checkEnvironment(env, { config })) || !checkBundle(env, config)) {
  console.error('Nothing was deployed.')
  process.exit(1)
}
const deploy = spawnSync('node_modules/.bin/wrangler', ['deploy', ...argv], { stdio: 'inherit' })
process.exit(deploy.status ?? 1)
