// Generates the TypeScript client's types (clients/typescript/src/schema.d.ts) from the OpenAPI
// description of the code, with openapi-typescript, which must report nothing but its own banner:
// a warning means the description says something a generator cannot type. With --check, fails
// when the checked-in file differs from what the description gives (CI).
//   node scripts/client-types.ts [--check]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeOpenApiDocument } from './openapi.ts'

const CLIENT = 'clients/typescript'
const TYPES = join(CLIENT, 'src/schema.d.ts')
const GENERATOR = join(CLIENT, 'node_modules/.bin/openapi-typescript')

const check = process.argv.includes('--check')
const scratch = mkdtempSync(join(tmpdir(), 'portero-client-'))
try {
  const document = join(scratch, 'openapi.json')
  const out = join(scratch, 'schema.d.ts')
  writeOpenApiDocument(document)
  const run = spawnSync(GENERATOR, [document, '-o', out], { encoding: 'utf8' })
  if (run.error) {
    throw new Error(`${GENERATOR} did not run (npm install --prefix ${CLIENT}): ${run.error}`)
  }
  const said = `${run.stdout}\n${run.stderr}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^✨ openapi-typescript /.test(line) && !/^🚀 .* → /.test(line))
  if (run.status !== 0 || said.length > 0) {
    console.error(said.join('\n'))
    throw new Error(`openapi-typescript ${run.status === 0 ? 'warned' : 'failed'}`)
  }
  const generated = readFileSync(out, 'utf8')
  if (check) {
    if (readFileSync(TYPES, 'utf8') !== generated) {
      console.error(`${TYPES} is stale: npm run client:generate, and commit it`)
      process.exit(1)
    }
    console.log(`${TYPES} is the description's`)
  } else {
    writeFileSync(TYPES, generated)
    console.log(`wrote ${TYPES}`)
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
