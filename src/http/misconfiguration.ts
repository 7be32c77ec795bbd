// A deployment that is misconfigured refuses to serve (decisions.md D24): away from localhost, an
// ISSUER that is not https:// or names localhost, no signing key or a short pepper answer 503
// `server_misconfigured` on every route, so no token is ever issued under a wrong issuer.
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './app-env.ts'
import { channelProblems, PEPPER_PATTERN, type SettingProblem } from '../config.ts'
import { AppError } from '../errors.ts'
import { isLocalHost } from './security.ts'
import { memoize } from '../utils/memo.ts'

/**
 * What is wrong with ISSUER for a deployment, or null: it must be the https:// origin the Worker
 * answers on. `npm run deploy:check` applies the same rule before anything is deployed.
 */
export function issuerProblem(issuer: string | undefined): string | null {
  let url: URL
  try {
    url = new URL(issuer ?? '')
  } catch {
    return 'is not set to a URL: it must be the https:// origin this Worker answers on'
  }
  const wrong: string[] = []
  if (url.protocol !== 'https:') wrong.push('is not https://')
  const host = url.hostname
  if (isLocalHost(host) || host === 'localhost' || host.endsWith('.localhost')) {
    wrong.push('names localhost')
  }
  if (wrong.length === 0) return null
  return `${wrong.join(' and ')} (${issuer}): set it to the https:// origin this Worker answers on`
}

function signingKeysProblem(keys: string | undefined): string | null {
  if (!keys) return 'is not set (a JWK set of private keys; see docs/configuration.md)'
  try {
    const set = (JSON.parse(keys) as { keys?: unknown } | null)?.keys
    if (Array.isArray(set) && set.length > 0) return null
  } catch {
    // Reported below: a set that cannot be read signs nothing.
  }
  return 'holds no key: it must be {"keys": [...]} with at least one private key (docs/configuration.md)'
}

// Keyed by the three settings, as loadConfig is: a check per request is one lookup.
const deploymentProblemsOf = memoize(
  (env: Env) => [env.ISSUER, env.SIGNING_KEYS, env.SECRET_PEPPER].join('\n'),
  (env: Env): readonly SettingProblem[] => {
    const problems: SettingProblem[] = []
    const issuer = issuerProblem(env.ISSUER)
    if (issuer) problems.push({ path: 'ISSUER', message: issuer })
    const keys = signingKeysProblem(env.SIGNING_KEYS)
    if (keys) problems.push({ path: 'SIGNING_KEYS', message: keys })
    if (!PEPPER_PATTERN.test(env.SECRET_PEPPER ?? '')) {
      const message = 'is shorter than 32 bytes: it must be base64url of at least 32 random bytes'
      problems.push({ path: 'SECRET_PEPPER', message })
    }
    return problems
  },
)

/**
 * What makes this configuration unfit to serve a public host: ISSUER, SIGNING_KEYS and
 * SECRET_PEPPER, each with what is wrong. Empty for a sound configuration.
 */
export function deploymentProblems(env: Env): readonly SettingProblem[] {
  let problems = byEnv.get(env)
  if (!problems) byEnv.set(env, (problems = deploymentProblemsOf(env)))
  return problems
}

// This check runs on every request: the runtime hands each request of an isolate the same env
// object, and an env object never changes, so the answer is looked up by that object first
// (nanoseconds) before the settings' values are joined into the memo's key (about a microsecond).
const byEnv = new WeakMap<Env, readonly SettingProblem[]>()

/** 503 `server_misconfigured` naming each setting at fault (as `errors`) and what is wrong. */
export function misconfiguredServer(problems: readonly SettingProblem[]): AppError {
  const list = problems.map((p) => `${p.path} ${p.message}`).join('; ')
  const detail = `This deployment is misconfigured and serves nothing until it is fixed: ${list}.`
  return new AppError('server_misconfigured', detail, { errors: [...problems] })
}

/**
 * Refuses every request to a host other than localhost while deploymentProblems finds anything,
 * with every problem of the configuration (a half-configured channel's included). A sound
 * configuration costs one memoized lookup; the request URL is read only when something is wrong.
 * Locally (`npm start`, http://localhost) nothing is refused.
 */
export function refuseMisconfigured(): MiddlewareHandler<AppEnv> {
  return async function refuseMisconfigured(c, next) {
    const problems = deploymentProblems(c.env)
    if (problems.length === 0 || isLocalHost(new URL(c.req.url).hostname)) return next()
    throw misconfiguredServer([...problems, ...channelProblems(c.env)])
  }
}
