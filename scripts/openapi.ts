// Writes the OpenAPI description of the app's routes to a file: public/openapi.json, which GET
// /openapi.json serves (scripts/docs-assets.ts), or elsewhere for linting and publishing.
//   node scripts/openapi.ts [out.json]
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { app } from '../src/app.ts'
import { buildOpenApiDocument } from '../src/openapi/document.ts'

export function writeOpenApiDocument(out: string): void {
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(buildOpenApiDocument(app), null, 2) + '\n')
}

if (import.meta.main) {
  const [out = 'openapi.json'] = process.argv.slice(2)
  writeOpenApiDocument(out)
  console.log(`wrote ${out}`)
}
