// Reads and writes .dev.vars, the local stand-in for Worker secrets (gitignored).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { generatePepper } from '../src/domain/secrets.ts'
import { generateSigningKey } from '../src/domain/signing-keys.ts'

export const DEV_VARS = '.dev.vars'

export function readDevVars(path = DEV_VARS): Record<string, string> {
  if (!existsSync(path)) return {}
  const vars: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (!match) continue
    const [, name, raw] = match
    vars[name!] = raw!.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1')
  }
  return vars
}

/** Makes sure .dev.vars holds a signing key set and a pepper; returns the vars and what it made. */
export async function ensureDevVars(path = DEV_VARS) {
  const vars = readDevVars(path)
  const created: string[] = []
  if (!vars.SIGNING_KEYS) {
    vars.SIGNING_KEYS = JSON.stringify({ keys: [await generateSigningKey('ES256')] })
    created.push('SIGNING_KEYS')
  }
  if (!vars.SECRET_PEPPER) {
    vars.SECRET_PEPPER = generatePepper()
    created.push('SECRET_PEPPER')
  }
  if (created.length > 0) {
    const lines = ['# Development secrets written by `npm start`. Never use these in production.']
    for (const [name, value] of Object.entries(vars)) lines.push(`${name}='${value}'`)
    writeFileSync(path, lines.join('\n') + '\n', { mode: 0o600 })
  }
  return { vars, created }
}
