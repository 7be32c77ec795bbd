// Creates providers and clients straight in the test D1, each with fresh ids.
import { env } from 'cloudflare:workers'
import { digestClientSecret, generateClientSecret, importPepper } from '../../src/domain/secrets.ts'
import { insertClient, type NewClient } from '../../src/storage/clients.ts'
import { insertProvider } from '../../src/storage/providers.ts'

export type TestClient = { clientId: string; clientSecret: string; providerId: string }

export async function createProvider(): Promise<string> {
  const id = String(Math.floor(Math.random() * 2 ** 40) + 1)
  await insertProvider(env.DB, { id, name: `provider ${id}` })
  return id
}

export async function createClient(
  overrides: Partial<Omit<NewClient, 'secretDigest'>> & { secret?: string } = {},
): Promise<TestClient> {
  const providerId =
    overrides.providerId === undefined ? await createProvider() : overrides.providerId
  const clientId = overrides.id ?? `client-${crypto.randomUUID()}`
  const clientSecret = overrides.secret ?? generateClientSecret()
  const pepper = await importPepper(env.SECRET_PEPPER)
  await insertClient(env.DB, {
    id: clientId,
    providerId,
    name: overrides.name ?? clientId,
    secretDigest: await digestClientSecret(pepper, clientSecret),
    allowedScopes: overrides.allowedScopes ?? ['services:send', 'tokens:introspect'],
    audiences: overrides.audiences ?? [],
    tokenLifetime: overrides.tokenLifetime,
    status: overrides.status,
    dpopBoundAccessTokens: overrides.dpopBoundAccessTokens,
  })
  return { clientId, clientSecret, providerId: providerId ?? '' }
}
