// The examples providers copy (examples/), run as they are against `npm start`: each gets a token,
// sends through /Services, follows the message until it is final, and verifies its webhook.
/// <reference types="node" />
import { execFile, spawnSync } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const run = promisify(execFile)

/** Runs an example to its end; its output, or the failure with what it printed. */
async function runExample(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd: ROOT, timeout: 60_000 })
    return stdout
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`)
  }
}

/** What every example prints, in order, when the flow went through. */
const FLOW = [
  /^token: eyJ/m,
  /^webhook endpoint: ep_[0-9a-f]{32}$/m,
  /^message: p\d+_[0-9a-f]{32} queued$/m,
  /^status: delivered$/m,
  /^webhook: message\.delivered msg_[0-9a-f]{32} signature verified$/m,
]

describe('the examples with npm start', () => {
  it('runs the Python example (requests)', { timeout: 70_000 }, async () => {
    const output = await runExample('python3', ['examples/python/portero_example.py'])
    for (const line of FLOW) expect(output).toMatch(line)
  })

  it('runs the curl example (curl, jq, openssl)', { timeout: 70_000 }, async () => {
    const output = await runExample('bash', ['examples/curl/flow.sh'])
    for (const line of FLOW) expect(output).toMatch(line)
  })
})

describe('examples/curl/verify-webhook.sh', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const id = 'msg_0123456789abcdef0123456789abcdef'
  const body = '{"type":"message.delivered","data":{"message_id":"m1"}}\n'
  const sign = (timestamp: string, text: string) =>
    createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`${id}.${timestamp}.${text}`)
      .digest('base64')
  const verify = (timestamp: string, signature: string, input: string) =>
    spawnSync('bash', ['examples/curl/verify-webhook.sh', secret, id, timestamp, signature], {
      cwd: ROOT,
      input,
    }).status

  it('accepts the body byte for byte with one matching signature of several', () => {
    const now = String(Math.floor(Date.now() / 1000))
    expect(verify(now, `v1,bm90IGl0 v1,${sign(now, body)}`, body)).toBe(0)
  })

  it('refuses a changed body, another signature and an old timestamp', () => {
    const now = String(Math.floor(Date.now() / 1000))
    expect(verify(now, `v1,${sign(now, body)}`, body.trim())).toBe(1)
    expect(verify(now, `v1,${sign(now, 'other')}`, body)).toBe(1)
    const old = String(Math.floor(Date.now() / 1000) - 301)
    expect(verify(old, `v1,${sign(old, body)}`, body)).toBe(1)
  })
})
