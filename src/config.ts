// AppEnv (Hono generics) and loadConfig(env): vars and secrets parsed once per isolate with zod.
import { z } from 'zod'
import { AppError, type Dialect } from './errors.ts'
import { parseSigningKeySet, type SigningKeySet } from './domain/signing-keys.ts'
import { importPepper } from './domain/secrets.ts'

export type AppEnv = {
  Bindings: Env
  Variables: { requestId: string; dialect: Dialect }
}

export type Config = {
  issuer: string
  keys: SigningKeySet
  pepper: CryptoKey
}

const ConfigSchema = z.object({
  ISSUER: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  SIGNING_KEYS: z.string({ error: 'is not set (a JWK set of private keys; see README)' }),
  SECRET_PEPPER: z
    .string({ error: 'is not set (base64url of at least 32 random bytes; see README)' })
    .regex(/^[A-Za-z0-9_-]{43,}$/, 'must be base64url of at least 32 bytes'),
})

const cache = new WeakMap<object, Promise<Config>>()

/**
 * Parses vars and secrets once per env object (so once per isolate in production) and fails loudly
 * on anything missing or malformed: a misconfigured Worker answers 500 and logs what is wrong.
 */
export function loadConfig(env: Env): Promise<Config> {
  let config = cache.get(env)
  if (!config) {
    config = parseConfig(env)
    cache.set(env, config)
    // A failed parse is not cached, so fixing a secret takes effect without a redeploy.
    config.catch(() => cache.delete(env))
  }
  return config
}

async function parseConfig(env: Env): Promise<Config> {
  try {
    const parsed = ConfigSchema.safeParse(env)
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`)
      throw new Error(problems.join('; '))
    }
    const { ISSUER, SIGNING_KEYS, SECRET_PEPPER } = parsed.data
    const [keys, pepper] = await Promise.all([
      parseSigningKeySet(SIGNING_KEYS),
      importPepper(SECRET_PEPPER),
    ])
    return { issuer: ISSUER, keys, pepper }
  } catch (cause) {
    throw new AppError(500, 'internal_error', 'The server is misconfigured.', {}, { cause })
  }
}
