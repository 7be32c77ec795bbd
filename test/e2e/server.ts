// Starts and stops the local system the real way, with `npm start`, for tests that drive it over
// HTTP from Node (the e2e conformance suite, the browser test). Reusable: import startServer,
// restartServer and stopServer, or use test/e2e/global-setup.ts as a Vitest globalSetup.
/// <reference types="node" />
import { spawn } from 'node:child_process'
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { DEV_CREDENTIALS } from '../../scripts/dev-vars.ts'

export type DevCredentials = {
  base: string
  standIn: string
  clients: { id: string; secret: string; note: string }[]
  serviceToken: string
  serviceId: number
  userId: string
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Scratch space of the e2e run (gitignored with .wrangler/). */
export const E2E_DIR = join(ROOT, '.wrangler', 'e2e')
/** Everything `npm start` printed, appended run after run. */
export const SERVER_LOG = join(E2E_DIR, 'server.log')
// The running server's process group, in a file that is also a lock: a test that restarts the
// server runs in a worker process, the globalSetup's teardown must stop whichever server runs
// last, and a second run (the browser suite, another checkout's) must not start on top of this one.
const LOCK_FILE = join(E2E_DIR, 'server.json')
const CREDENTIALS_FILE = join(ROOT, DEV_CREDENTIALS)
// Portero, the stand-in and their inspectors (scripts/dev.ts): all must be free to start again.
const PORTS = [8787, 8788, 9229, 9230]

/** `owner` holds the lock (the Vitest main process); `pgid` is the server's process group. */
type Lock = { owner: number; pgid: number | null }

/** The credentials of the running server, as `npm start` wrote them (fresh after every restart). */
export function readCredentials(): DevCredentials {
  return JSON.parse(readFileSync(CREDENTIALS_FILE, 'utf8')) as DevCredentials
}

/** A seeded client's id and secret (admin-client's and demo-client's change on every start). */
export function seededClient(id: string): { id: string; secret: string } {
  const client = readCredentials().clients.find((c) => c.id === id)
  if (!client) throw new Error(`npm start seeded no client ${id} (see ${DEV_CREDENTIALS})`)
  return client
}

/**
 * Takes the lock, runs `prepare`, then `npm start` in a process group of its own, and resolves
 * once it has written a fresh .wrangler/portero-dev.json and answers /healthz. Refuses to start
 * while another run holds the lock or a port is taken. Stop it with stopServer().
 */
export async function startServer({
  prepare = async () => {},
  timeoutMs = 60_000,
}: { prepare?: () => unknown; timeoutMs?: number } = {}): Promise<DevCredentials> {
  acquireLock()
  try {
    await prepare()
    return await launch(timeoutMs)
  } catch (err) {
    rmSync(LOCK_FILE, { force: true })
    throw err
  }
}

/**
 * Stops the server and starts it again, running `between` in the meantime (e.g. a key rotation),
 * without letting go of the lock. Resolves with the new credentials.
 */
export async function restartServer(
  between: () => unknown = async () => {},
  { timeoutMs = 60_000 } = {},
): Promise<DevCredentials> {
  const lock = readLock()
  if (!lock) throw new Error('restartServer() without a running startServer()')
  if (lock.pgid) await stopGroup(lock.pgid)
  writeLock({ ...lock, pgid: null })
  await between()
  return launch(timeoutMs)
}

/** Stops the server (TERM, then KILL), waits until its ports are closed, releases the lock. */
export async function stopServer(): Promise<void> {
  const lock = readLock()
  if (!lock) return
  if (lock.pgid) await stopGroup(lock.pgid)
  rmSync(LOCK_FILE, { force: true })
  // Its credentials describe a server that is gone (and secrets that no longer work).
  rmSync(CREDENTIALS_FILE, { force: true })
}

async function launch(timeoutMs: number): Promise<DevCredentials> {
  const busy = await openPorts()
  if (busy.length > 0) {
    throw new Error(`port ${busy.join(', ')} in use: stop the other npm start (or wrangler dev)`)
  }
  rmSync(CREDENTIALS_FILE, { force: true })
  const startedAt = Date.now()
  const log = openSync(SERVER_LOG, 'a')
  // detached: npm, scripts/dev.ts, both `wrangler dev` and their workerd processes share one new
  // process group, so the whole tree can be signalled at once.
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', log, log],
    env: serverEnv(),
  })
  closeSync(log)
  child.unref()
  const pgid = child.pid!
  writeLock({ ...readLock()!, pgid })
  let exit: string | null = null
  child.on('exit', (code, signal) => (exit = signal ?? `code ${code}`))

  while (Date.now() - startedAt < timeoutMs) {
    if (exit) {
      await stopGroup(pgid)
      throw new Error(`npm start exited (${exit}) before the server was up:\n${logTail()}`)
    }
    const credentials = await freshCredentials(startedAt)
    if (credentials && (await answers(`${credentials.base}/healthz`))) return credentials
    await sleep(200)
  }
  await stopGroup(pgid)
  throw new Error(`npm start did not come up within ${timeoutMs / 1000} s:\n${logTail()}`)
}

async function stopGroup(pgid: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  signalGroup(pgid, 'SIGTERM')
  let killed = false
  while (groupAlive(pgid) || (await openPorts()).length > 0) {
    if (Date.now() > deadline) {
      const ports = await openPorts()
      throw new Error(`the server (process group ${pgid}) did not stop; ports open: ${ports}`)
    }
    if (!killed && Date.now() > deadline - timeoutMs / 2) {
      signalGroup(pgid, 'SIGKILL')
      killed = true
    }
    await sleep(100)
  }
}

function acquireLock(): void {
  mkdirSync(E2E_DIR, { recursive: true })
  for (;;) {
    try {
      writeFileSync(LOCK_FILE, JSON.stringify({ owner: process.pid, pgid: null }), { flag: 'wx' })
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const held = readLock()
    if (held && (processAlive(held.owner) || (held.pgid !== null && groupAlive(held.pgid)))) {
      throw new Error(
        `another run (process ${held.owner}, server group ${held.pgid}) holds ${LOCK_FILE}: ` +
          'wait for it to end',
      )
    }
    // Left by a run that died: nothing of it is alive.
    rmSync(LOCK_FILE, { force: true })
  }
}

function readLock(): Lock | null {
  try {
    return JSON.parse(readFileSync(LOCK_FILE, 'utf8')) as Lock
  } catch {
    return null
  }
}

function writeLock(lock: Lock): void {
  writeFileSync(LOCK_FILE, JSON.stringify(lock))
}

// What Vitest and Vite put in process.env (import.meta.env's members among them).
const TEST_RUNNER_VARIABLES = new Set([
  'NODE_ENV',
  'TEST',
  'BASE_URL',
  'MODE',
  'DEV',
  'PROD',
  'SSR',
])

// The server starts as a developer would start it, not as a test process: no Vitest variables.
function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of Object.keys(env)) {
    if (name.startsWith('VITEST') || TEST_RUNNER_VARIABLES.has(name)) delete env[name]
  }
  return env
}

async function freshCredentials(startedAt: number): Promise<DevCredentials | null> {
  try {
    // Deleted before the start, so any file is this run's; the mtime check guards against a clock
    // or a stray writer anyway. A half-written file fails to parse and is read again.
    if (statSync(CREDENTIALS_FILE).mtimeMs < startedAt - 1000) return null
    return readCredentials()
  } catch {
    return null
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok
  } catch {
    return false
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pgid, signal)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Ports of PORTS that accept a connection on IPv4 or IPv6 loopback. */
async function openPorts(): Promise<number[]> {
  const open = await Promise.all(
    PORTS.map(async (port) => (await accepts('127.0.0.1', port)) || (await accepts('::1', port))),
  )
  return PORTS.filter((_, i) => open[i])
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.setTimeout(1000)
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('timeout', () => (socket.destroy(), resolve(false)))
    socket.once('error', () => resolve(false))
  })
}

function logTail(lines = 30): string {
  try {
    return readFileSync(SERVER_LOG, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}
