// Signing-key rotation in the local .dev.vars, the way docs/operations.md "Rotating the signing key" does it
// (scripts/generate-keys.ts --rotate); the developer's own file is kept aside until the run ends.
/// <reference types="node" />
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEV_VARS, readDevVars } from '../../scripts/dev-vars.ts'
import { E2E_DIR } from './server.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const DEV_VARS_FILE = join(ROOT, DEV_VARS)
// Written before the first change and restored by the globalSetup's teardown (or, if a run died
// before its teardown, by the next run's setup).
const BACKUP = join(E2E_DIR, 'dev-vars.original')

type KeySet = { keys: { kid: string }[] }

/** The signing key set the server reads at its next start. */
export function currentSigningKeys(): KeySet {
  const json = readDevVars(DEV_VARS_FILE).SIGNING_KEYS
  if (!json) throw new Error(`${DEV_VARS} has no SIGNING_KEYS: run npm start once`)
  return JSON.parse(json) as KeySet
}

/**
 * Appends a new key to SIGNING_KEYS in .dev.vars with scripts/generate-keys.ts --rotate -;
 * it signs from the next start on. Returns the new key's kid.
 */
export async function rotateSigningKeys(): Promise<string> {
  mkdirSync(E2E_DIR, { recursive: true })
  const text = readFileSync(DEV_VARS_FILE, 'utf8')
  if (!existsSync(BACKUP)) writeFileSync(BACKUP, text, { mode: 0o600 })
  // The rotation command of docs/operations.md: the current set in on stdin, the new one out on stdout, no file in
  // between. npm puts the project's own Node (24, which runs .ts) on PATH.
  const args = ['run', '-s', 'keys:generate', '--', '--rotate', '-']
  const input = JSON.stringify(currentSigningKeys())
  const keys = execFileSync('npm', args, {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'ignore'],
  }).trim()
  // .dev.vars holds the set single-quoted on one line, as scripts/dev-vars.ts writes it.
  writeFileSync(
    DEV_VARS_FILE,
    text.replace(/^SIGNING_KEYS=.*$/m, () => `SIGNING_KEYS='${keys}'`),
    { mode: 0o600 },
  )
  return (JSON.parse(keys) as KeySet).keys.at(-1)!.kid
}

/** Puts the developer's .dev.vars back if a rotation changed it. */
export function restoreDevVars(): void {
  if (!existsSync(BACKUP)) return
  copyFileSync(BACKUP, DEV_VARS_FILE)
  rmSync(BACKUP)
}
