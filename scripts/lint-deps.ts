// Checks the imports in src/ against the rules in .dependency-cruiser.cjs, and that src/ imports
// zod only as a namespace.
//   node scripts/lint-deps.ts [output-type]   (err by default; text, dot, mermaid, json, …)
// dependency-cruiser reads TypeScript through the compiler API of TypeScript 2 to 6, which the
// native TypeScript 7 this project uses does not have (yet): run on src/ directly it would find no
// module and pass. So it runs on a JavaScript copy of src/ made with Node's own type stripping, in
// which type-only imports are kept as plain imports (a cycle of types is a cycle all the same);
// names are reported as the .ts files they come from.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { cruise, format, type ICruiseResult } from 'dependency-cruiser'
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options'

const [outputType = 'err'] = process.argv.slice(2)
const options = await extractDepcruiseOptions(resolve('.dependency-cruiser.cjs'))

// `import type { A } from './a.ts'` → `import { A } from './a.js'`; the same for
// `export type { … } from`. Inline `{ type A }` needs nothing: stripping leaves `import {} from`.
function toJavaScript(source: string): string {
  const typesKept = source
    .replace(/\bimport type (?=[\w{*])/g, 'import ')
    .replace(/\bexport type (?=(\{[^}]*\}|\*( as \w+)?)\s*from\s)/g, 'export ')
  return stripTypeScriptTypes(typesKept).replace(/(['"])(\.{1,2}\/[^'"]*)\.ts\1/g, '$1$2.js$1')
}

const sources = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) =>
  f.endsWith('.ts'),
)
// wrangler.toml's [alias] gives the bundle a 'zod' whose `z` holds only what @hono/zod-openapi
// needs (src/utils/zod-for-openapi.ts, decisions.md D23): a module of src/ taking `z` or a
// default import from 'zod' would build, and the Worker would fail when it starts.
const zodImports = [
  /\bimport\s+(?:type\s+)?\{[^}]*\bz\b[^}]*\}\s*from\s*['"]zod['"]/, // { z }
  /\bimport\s+(?:type\s+)?\w+\s*(?:,\s*\{[^}]*\}\s*)?from\s*['"]zod['"]/, // a default import
]
const zodMisuse = sources.filter((f) => {
  const source = readFileSync(join('src', f), 'utf8')
  return zodImports.some((pattern) => pattern.test(source))
})
if (zodMisuse.length > 0) {
  const files = zodMisuse.map((f) => `src/${f}`).join(', ')
  process.stdout.write(`import * as z from 'zod', not { z } or a default import: ${files}\n`)
  process.exit(1)
}

const copy = mkdtempSync(join(tmpdir(), 'lint-deps-'))
try {
  for (const file of sources) {
    const target = join(copy, 'src', file.replace(/\.ts$/, '.js'))
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, toJavaScript(readFileSync(join('src', file), 'utf8')))
  }
  // Packages resolve as from the project, so that rules can name them (hono, …).
  symlinkSync(resolve('node_modules'), join(copy, 'node_modules'), 'dir')
  const cruised = await cruise(['src'], {
    ...options,
    baseDir: copy,
    outputType: 'json',
    validate: true,
  })
  const result = JSON.parse(String(cruised.output)) as ICruiseResult
  // A module that was not read is a module whose imports were not checked.
  const read = result.modules.filter((m) => m.source.startsWith('src/')).length
  if (read !== sources.length) {
    throw new Error(`read ${read} of the ${sources.length} modules in src/; nothing was checked`)
  }
  const { output, exitCode } = await format(result, { outputType })
  const named = String(output).replace(/\b(src\/[\w./-]+?)\.js\b/g, '$1.ts')
  process.stdout.write(named.endsWith('\n') || named === '' ? named : named + '\n')
  process.exitCode = exitCode
} finally {
  rmSync(copy, { recursive: true, force: true })
}
