// Writes the OpenAPI description the Worker serves to a file, for linting and for publishing.
//   node scripts/openapi.ts [out.json] [server-url]
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { app } from '../src/app.ts'
import { buildOpenApiDocument } from '../src/openapi/document.ts'

const [out = 'openapi.json', server = 'https://auth.portero.test'] = process.argv.slice(2)
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, JSON.stringify(buildOpenApiDocument(app, server), null, 2) + '\n')
console.log(`wrote ${out}`)
