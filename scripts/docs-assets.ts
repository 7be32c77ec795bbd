// Copies Swagger UI's files from node_modules/swagger-ui-dist into public/docs/swagger-ui/, which
// the Worker serves as static assets (wrangler.toml [assets]), so GET /docs loads nothing from any
// other origin. Runs before `npm start`, `npm test` and `npm run deploy`; the copies are
// gitignored.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const OUT = 'public/docs/swagger-ui'
// The bundle (no standalone preset: /docs uses the base layout), its styles and the licences the
// bundle's header points to.
const FILES = [
  'swagger-ui-bundle.js',
  'swagger-ui-bundle.js.LICENSE.txt',
  'swagger-ui.css',
  'index.css',
  'favicon-32x32.png',
  'LICENSE',
  'NOTICE',
]

const source = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
mkdirSync(OUT, { recursive: true })
for (const file of FILES) copyFileSync(join(source, file), join(OUT, file))
const { version } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as {
  version: string
}
console.log(`copied Swagger UI ${version} to ${OUT}`)
