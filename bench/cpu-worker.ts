// Bench-only Worker (npm run bench): the CPU cost of Portero's hot paths inside workerd, in
// microseconds per operation, from the real domain functions and the real app.
import { app } from '../src/app.ts'
import { introspectToken } from '../src/domain/introspection.ts'
import { digestClientSecret, generateClientSecret, importPepper, secretMatches } from '../src/domain/secrets.ts'
import { parseSigningKeySet } from '../src/domain/signing-keys.ts'
import type { Limiters } from '../src/domain/throttle.ts'
import { checkAccessToken, type TokenStateDeps } from '../src/domain/token-state.ts'
import { issueAccessToken, verifyAccessToken, type IssueTokenInput } from '../src/domain/tokens.ts'
import { sha256Hex } from '../src/encoding.ts'
import { tokenCacheKey, writeCachedTokenState } from '../src/storage/token-cache.ts'

type BenchEnv = { SIGNING_KEYS: string; SECRET_PEPPER: string; ISSUER: string; CACHE: KVNamespace; DB: D1Database }

export type CpuFigure = { name: string; microseconds: number; operations: number }

/** Each timed batch runs about this long: performance.now() has 1 ms resolution in workerd. */
const BATCH_MS = 150

/**
 * KV as the binding behaves for a hit (a string stored, JSON.parse on get) with no I/O, so the
 * figures are the isolate's own CPU and not local KV latency.
 */
class MemoryKv {
  readonly #values = new Map<string, string>()
  async get(key: string | string[], type?: 'json'): Promise<unknown> {
    if (Array.isArray(key)) return new Map(key.map((k) => [k, this.#read(k, type)]))
    return this.#read(key, type)
  }
  #read(key: string, type?: 'json'): unknown {
    const text = this.#values.get(key)
    return text === undefined ? null : type === 'json' ? JSON.parse(text) : text
  }
  async put(key: string, value: string): Promise<void> {
    this.#values.set(key, value)
  }
  async delete(key: string): Promise<void> {
    this.#values.delete(key)
  }
}

export default {
  async fetch(_request, env, ctx) {
    const keys = await parseSigningKeySet(env.SIGNING_KEYS)
    const pepper = await importPepper(env.SECRET_PEPPER)
    const cache = new MemoryKv() as unknown as KVNamespace
    const now = new Date()
    const input: IssueTokenInput = {
      issuer: env.ISSUER,
      clientId: 'bench-client',
      providerId: '1001',
      scopes: ['services:send', 'tokens:introspect'],
      audiences: [env.ISSUER],
      lifetimeSeconds: 3600,
    }
    const { token, claims } = await issueAccessToken(keys, input, now)
    const secret = generateClientSecret()
    const digest = await digestClientSecret(pepper, secret)
    const deps = (kv: KVNamespace): TokenStateDeps => ({
      db: undefined as unknown as D1Database, // a warm check never reads D1
      cache: kv,
      keys,
      issuer: env.ISSUER,
      now,
      defer: (work) => ctx.waitUntil(work),
    })
    // Warm caches: the entry the first check would have written, by the module that writes it.
    const state = { active: true, kid: keys.signing.kid, claims, username: 'Bench client' } as const
    await writeCachedTokenState(cache, await tokenCacheKey(token), state, now)
    await writeCachedTokenState(env.CACHE, await tokenCacheKey(token), state, now)
    const appEnv = { ...env, CACHE: cache } as unknown as Env
    // With the Content-Length every HTTP client sends for a fixed body (and the edge passes on):
    // without it the body-size limit has to read the body through a stream to count it.
    const route = (path: string, init: RequestInit & { body?: string } = {}) => {
      const headers = new Headers(init.headers)
      if (init.body !== undefined) headers.set('content-length', String(new TextEncoder().encode(init.body).length))
      return async () => app.fetch(new Request(`https://portero.bench${path}`, { ...init, headers }), appEnv, ctx)
    }

    const figures: CpuFigure[] = []
    const measure = async (name: string, op: () => Promise<unknown>) => {
      figures.push({ name, ...(await timePerOperation(op, () => env.CACHE.get('bench-io-boundary'))) })
    }
    await measure('sha256Hex(token)', () => sha256Hex(token))
    await measure('digestClientSecret', () => digestClientSecret(pepper, secret))
    await measure('secretMatches', () => secretMatches(pepper, secret, [digest]))
    await measure('issueAccessToken (ES256 sign)', () => issueAccessToken(keys, input, now))
    await measure('verifyAccessToken (ES256 verify)', () => verifyAccessToken(keys, token, { issuer: env.ISSUER, now }))
    await measure('checkAccessToken, warm cache', () => checkAccessToken(deps(cache), token))
    await measure('introspectToken, warm cache', () =>
      introspectToken(
        // A real token never counts a failed attempt: the limiters are not called.
        { ...deps(cache), throttle: { cache, limiters: undefined as unknown as Limiters, now } },
        { clientId: 'bench-client', scopes: ['tokens:introspect'], ip: null },
        token,
      ),
    )
    await measure('parseSigningKeySet (key import; once per isolate)', () => parseSigningKeySet(env.SIGNING_KEYS))
    await measure('app: GET /healthz', route('/healthz'))
    await measure('app: POST /auth/me, warm cache', route('/auth/me', { method: 'POST', headers: { 'x-access-token': token } }))
    await measure(
      'app: POST /mcg/v1/tokeninfo, warm cache',
      route('/mcg/v1/tokeninfo', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${token}`,
      }),
    )
    // Wall time, not CPU: what the same check costs with its one (bulk) read of the local KV
    // binding, and what single operations on the local bindings cost. On Cloudflare these run
    // outside the isolate; locally workerd emulates them on the same cores as the Worker, which is
    // most of every figure above /healthz in the HTTP table (bench/README.md).
    await measure('checkAccessToken, warm local KV binding (wall time)', () => checkAccessToken(deps(env.CACHE), token))
    await env.CACHE.put('bench-present', 'x'.repeat(600))
    await measure('local KV binding: get of a 600-byte value (wall time)', () => env.CACHE.get('bench-present'))
    await env.DB.exec('CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, value TEXT NOT NULL)')
    await env.DB.prepare("INSERT OR REPLACE INTO bench (id, value) VALUES (1, 'one')").run()
    await measure('local D1 binding: SELECT by primary key (wall time)', () =>
      env.DB.prepare('SELECT value FROM bench WHERE id = ?').bind(1).first(),
    )
    await measure('local D1 binding: INSERT of one row (wall time)', () =>
      env.DB.prepare('INSERT INTO bench (value) VALUES (?)').bind('row').run(),
    )
    return Response.json(figures)
  },
} satisfies ExportedHandler<BenchEnv>

/**
 * Microseconds per call of `op`. Deployed workerd moves its clocks only across I/O (a Spectre
 * mitigation), so each batch is timed between two awaited I/O boundaries, minus the time of the
 * boundaries alone. The batch doubles until it runs BATCH_MS; the fastest of three is kept.
 */
async function timePerOperation(op: () => Promise<unknown>, io: () => Promise<unknown>) {
  const batch = async (n: number) => {
    await io()
    const start = performance.now()
    for (let i = 0; i < n; i++) await op()
    await io()
    return performance.now() - start
  }
  const baseline = Math.min(await batch(0), await batch(0), await batch(0))
  let operations = 16
  while ((await batch(operations)) - baseline < BATCH_MS && operations < 1_000_000) operations *= 2
  const best = Math.min(await batch(operations), await batch(operations), await batch(operations))
  return { microseconds: (Math.max(0, best - baseline) / operations) * 1000, operations }
}
