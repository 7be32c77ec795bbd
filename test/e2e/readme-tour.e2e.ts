// The README's five-minute tour, run as a reader would run it against `npm start`: its ```sh tour
// blocks in one bash at the project's root, in order, reading the demo credentials where the README
// says `npm start` keeps them. Each step must answer as the README says it does, so the first page
// cannot drift from the code.
/// <reference types="node" />
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
const TOUR_HEADING = '## A five-minute tour'

/** The tour's section of the README: from its heading to the next one of the same level. */
function tourSection(): string {
  const start = README.indexOf(`\n${TOUR_HEADING}\n`)
  if (start < 0) throw new Error(`README.md has no "${TOUR_HEADING}" section`)
  const end = README.indexOf('\n## ', start + 1)
  return README.slice(start, end < 0 ? undefined : end)
}

/** The tour's commands: every fenced block whose info string is `sh tour`, in order. */
function tourBlocks(): string[] {
  return [...tourSection().matchAll(/^```sh tour\n([\s\S]*?)^```$/gm)].map((m) => m[1]!)
}

const MARK = '@@tour-block'
const ENV_MARK = '@@tour-env@@'

/**
 * Runs the blocks in one bash, as one shell session would (variables carry over), with every
 * variable exported so the session's environment can be taken for a later run. Returns each
 * block's output and that environment.
 */
async function runTour(
  blocks: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<{ outputs: string[]; env: Record<string, string> }> {
  const script = [
    'set -a',
    // A block's last answer may not end its line (curl prints JSON bare): each mark starts one.
    ...blocks.flatMap((block, i) => [`printf '\\n${MARK} ${i}\\n'`, block]),
    `printf '\\n${ENV_MARK}\\n'`,
    'env -0',
  ].join('\n')
  const { stdout } = await promisify(execFile)('bash', ['-c', script], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    maxBuffer: 10 * 1024 * 1024,
  })
  const [session = '', environment = ''] = stdout.split(`${ENV_MARK}\n`)
  const outputs = session
    .split(new RegExp(`^${MARK} \\d+\\n`, 'm'))
    .slice(1)
    .map((output) => output.trim())
  const sessionEnv = Object.fromEntries(
    environment
      .split('\0')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )
  return { outputs, env: sessionEnv }
}

const lastJson = (output: string) =>
  JSON.parse(output.slice(output.indexOf('{'))) as Record<string, unknown>

describe("README's five-minute tour", () => {
  it('has its commands in ```sh tour blocks: a token, /Services, the message', () => {
    expect(tourBlocks()).toHaveLength(4)
  })

  it('answers each step as the README says, and the message ends delivered', async () => {
    const blocks = tourBlocks()
    const { outputs, env } = await runTour(blocks)
    expect(outputs, outputs.join('\n---\n')).toHaveLength(blocks.length)
    const [token, kept, sent, status] = outputs as [string, string, string, string]

    // 1. A token: 200 with a Bearer access token, which the session keeps.
    expect(lastJson(token)).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    expect(kept).toBe('')
    expect(env.TOKEN).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)

    // 2. A message: 201 Created, its Location, and the message queued.
    expect(sent).toMatch(/^HTTP\/[\d.]+ 201 Created/)
    expect(sent).toMatch(/^location: \/Services\/messages\/\S+/im)
    expect(lastJson(sent)).toMatchObject({ status: 'queued', destination: 'paciente-42' })
    expect(env.MESSAGE).toMatch(/^\/Services\/messages\/\S+$/)

    // 3. Its journey: read again, as the README says, until it ends delivered.
    let message = lastJson(status)
    for (let i = 0; i < 30 && message.status !== 'delivered'; i++) {
      await sleep(500)
      const again = await runTour([blocks[3]!], env)
      message = lastJson(again.outputs[0]!)
    }
    expect(message).toMatchObject({
      status: 'delivered',
      deliveries: [expect.objectContaining({ channel: 'sms', status: 'delivered' })],
    })
  }, 60_000)

  it('links only to pages the running system serves', async () => {
    const links = [...tourSection().matchAll(/<(http:\/\/localhost:\d+\/[^>]*)>/g)].map(
      (m) => m[1]!,
    )
    expect(links).toEqual(expect.arrayContaining(['http://localhost:8787/console/']))
    for (const link of links) {
      expect((await fetch(link)).status, link).toBe(200)
    }
  })
})
