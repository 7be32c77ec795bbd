// Builds the Worker as `wrangler deploy` would (a dry run: nothing is uploaded, no account is
// needed) and prints the bundle's size, raw and gzipped; exits 1 when the gzipped size is over the
// limit (--max, in KiB). Other arguments go to wrangler, e.g. an environment; the last --max wins.
//   node scripts/bundle-size.ts [--max KiB] [wrangler args…]
//   npm run bundle:size -- --env production      (the npm script passes --max 188)
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { gzipSync } from 'node:zlib'

export interface BundleSize {
  /** The Worker's main module, in bytes. */
  raw: number
  /** The same, gzipped at gzip's default level, in bytes. */
  gzip: number
}

const KiB = 1024

/** The size of the Worker's main module in `outdir`, the output of `wrangler deploy --outdir`. */
export function measureBundle(outdir: string): BundleSize {
  const modules = readdirSync(outdir).filter((file) => /\.m?js$/.test(file))
  if (modules.length !== 1) {
    throw new Error(`expected one module in ${outdir}, found ${modules.join(', ') || 'none'}`)
  }
  const bytes = readFileSync(join(outdir, modules[0]!))
  return { raw: bytes.length, gzip: gzipSync(bytes).length }
}

/** `wrangler deploy --dry-run` with `args`, measured. Throws with wrangler's output if it fails. */
export function dryRunBundle(args: readonly string[] = []): BundleSize {
  const pkg = createRequire(import.meta.url).resolve('wrangler/package.json')
  const wrangler = join(dirname(pkg), 'bin', 'wrangler.js')
  const outdir = mkdtempSync(join(tmpdir(), 'portero-bundle-'))
  try {
    const run = spawnSync(
      process.execPath,
      [wrangler, 'deploy', '--dry-run', '--outdir', outdir, ...args],
      { encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
    )
    if (run.status !== 0) {
      throw new Error(`wrangler deploy --dry-run failed:\n${run.stdout}${run.stderr}`)
    }
    return measureBundle(outdir)
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}

export function formatBundleSize({ raw, gzip }: BundleSize): string {
  return `${(raw / KiB).toFixed(1)} KiB raw, ${(gzip / KiB).toFixed(1)} KiB gzip`
}

const USAGE = 'usage: node scripts/bundle-size.ts [--max KiB] [wrangler args…]'

if (import.meta.main) {
  const wranglerArgs: string[] = []
  let limit: number | undefined
  for (let args = process.argv.slice(2); args.length > 0;) {
    const arg = args.shift()!
    const max = arg === '--max' ? args.shift() : arg.startsWith('--max=') ? arg.slice(6) : null
    if (max === null) wranglerArgs.push(arg)
    else if (Number(max) > 0) limit = Number(max)
    else {
      console.error(USAGE)
      process.exit(2)
    }
  }
  // Without an environment, the local default, named: wrangler.toml has staging and production.
  const named = wranglerArgs.some((a) => a === '--env' || a === '-e' || a.startsWith('--env='))
  const size = dryRunBundle(named ? wranglerArgs : ['--env', '', ...wranglerArgs])
  const over = limit !== undefined && size.gzip > limit * KiB
  const verdict =
    limit === undefined ? '' : over ? ` (over the ${limit} KiB limit)` : ` (limit ${limit} KiB)`
  console.log(`Worker bundle: ${formatBundleSize(size)}${verdict}`)
  if (over) process.exitCode = 1
}
