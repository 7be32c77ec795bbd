// Seeds the local D1 with a demo provider and clients: the source documents' own examples work
// as written, and the demo client gets a fresh secret on every run (only its digest is stored).
import { publishClientRecords } from '../src/domain/client-records.ts'
import {
  checkImportedSecret,
  digestClientSecret,
  generateClientSecret,
  importPepper,
} from '../src/domain/secrets.ts'
import { SCOPES } from '../src/domain/scopes.ts'
import {
  findClientById,
  insertClient,
  updateClientSecretDigest,
  type NewClient,
} from '../src/storage/clients.ts'
import { insertProvider } from '../src/storage/providers.ts'
import { findRecipient, insertRecipient } from '../src/storage/recipients.ts'
import { findServiceById, insertService } from '../src/storage/services.ts'
import { findSubscription, insertSubscription } from '../src/storage/subscriptions.ts'

export const DEMO_PROVIDER = { id: '1001', name: 'Clínica Dr. Nano' }
export const DEMO_SERVICE_ID = 1
/** Document 001's $USER_ID: the demo provider's patient in the recipients directory. */
export const DEMO_USER_ID = 'paciente-42'

export type SeededClient = { id: string; secret: string; note: string }

type SeedClient = Omit<NewClient, 'secretDigest'> & {
  secret: string
  note: string
  /** Skip the imported-secret length rule: only for a document's literal placeholder. */
  placeholder?: true
}

export async function seedLocalDatabase(
  db: D1Database,
  cache: KVNamespace,
  pepperText: string,
): Promise<SeededClient[]> {
  const pepper = await importPepper(pepperText)
  await insertProvider(db, DEMO_PROVIDER)
  const clients: SeedClient[] = [
    {
      // Local only: a deployment gets its first admin client from `npm run admin:bootstrap`.
      id: 'admin-client',
      name: 'Local operator',
      secret: generateClientSecret(),
      note: 'operator client (scope admin) for the management API',
      providerId: null,
      allowedScopes: [SCOPES.admin, SCOPES.introspectAny],
      audiences: [],
    },
    {
      id: 'demo-client',
      name: 'Demo client',
      secret: generateClientSecret(),
      note: 'a client of the demo provider with a generated secret',
      providerId: DEMO_PROVIDER.id,
      allowedScopes: [SCOPES.send, SCOPES.introspect, SCOPES.recipients],
      audiences: [],
    },
    {
      // Document 003's curl example, imported as a migrated Bridge client.
      id: 'bridge-api-client',
      name: 'Bridge example client',
      secret: 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709',
      note: "document 003's example credentials (imported secret)",
      providerId: DEMO_PROVIDER.id,
      allowedScopes: [SCOPES.send],
      audiences: [],
    },
    {
      // Document 002's example body uses the placeholders literally. Local development only: an
      // imported secret this short is refused everywhere else.
      id: 'account_id',
      name: 'Yativo example account',
      secret: 'app_secret',
      note: "document 002's example body, placeholders as written (local only)",
      providerId: DEMO_PROVIDER.id,
      allowedScopes: [SCOPES.send],
      audiences: [],
      tokenLifetime: 600,
      placeholder: true,
    },
  ]
  for (const { secret, note: _note, placeholder, ...client } of clients) {
    // Only ever the local database (npm start): document 003's example secret is allowed here.
    const weakness = placeholder ? null : checkImportedSecret(secret, { local: true })
    if (weakness) throw new Error(`seed client ${client.id}: secret ${weakness}`)
    const secretDigest = await digestClientSecret(pepper, secret)
    // Re-digest on every run: .dev.vars may hold a new pepper since the last seed.
    if (await findClientById(db, client.id))
      await updateClientSecretDigest(db, client.id, secretDigest)
    else await insertClient(db, { ...client, secretDigest })
  }
  // As after any change to a client: the edge records, read back from D1, so a restart's new
  // secrets and pepper are what logins see (an older record would keep the old digests).
  await publishClientRecords(
    { db, cache, now: new Date() },
    clients.map((c) => c.id),
  )
  return clients.map(({ id, secret, note }) => ({ id, secret, note }))
}

/** A service for document 001's example, the demo provider's subscription, and a recipient. */
export async function seedDispatch(db: D1Database): Promise<{ serviceToken: string }> {
  if (!(await findServiceById(db, DEMO_SERVICE_ID))) {
    await insertService(db, {
      id: DEMO_SERVICE_ID,
      name: 'Turnos y publicidad',
      kind: 'notification',
      requiredParameters: ['destination'],
      allowedChannels: ['sms', 'fcm', 'whatsapp'],
    })
  }
  const subscription =
    (await findSubscription(db, DEMO_PROVIDER.id, DEMO_SERVICE_ID)) ??
    (await insertSubscription(db, DEMO_PROVIDER.id, DEMO_SERVICE_ID))
  const serviceToken = subscription!.serviceToken
  if (!(await findRecipient(db, DEMO_PROVIDER.id, DEMO_USER_ID))) {
    await insertRecipient(db, DEMO_PROVIDER.id, DEMO_USER_ID, {
      phone: '+5491155550000',
      fcmTokens: ['dev-device-token-1'],
      smsOptOut: false,
      fcmOptOut: false,
    })
  }
  return { serviceToken }
}
