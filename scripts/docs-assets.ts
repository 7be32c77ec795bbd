// Writes the static assets built from the code and the dependencies (wrangler.toml [assets]):
// public/openapi.json, the OpenAPI description of the app's routes that GET /openapi.json serves,
// so the Worker carries no document generator (decisions.md D23); and Swagger UI's files, copied
// from node_modules/swagger-ui-dist into public/docs/swagger-ui/, so GET /docs loads nothing from
// any other origin. Runs before `npm start`, `npm test` and `npm run deploy`, so the document
// deployed is the one of the code deployed; both are gitignored.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { writeOpenApiDocument } from './openapi.ts'

const DOCUMENT = 'public/openapi.json'
writeOpenApiDocument(DOCUMENT)
console.log(`wrote ${DOCUMENT}`)

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
