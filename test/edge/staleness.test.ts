// Edge state never makes an ended token or an old client setting live again: a check or login
// that read D1 just before a change and fills KV just after it loses to the change (docs/api.md "Edge
// first"), and a token minted from a stale record dies once the record catches up (decisions.md
// D34).
// Races hold the fills of one request back, make the change, then let the fills land; a stale
// location is the old record put back under its key for one login.
import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.ts'
import { loginClient } from '../../src/domain/login.ts'
import worker from '../../src/index.ts'
import { checkAccessToken, type TokenStateDeps } from '../../src/domain/token-state.ts'
import { limiters } from '../../src/http/deps.ts'
import { clientRecordKeys } from '../../src/storage/client-records.ts'
import { findClientById } from '../../src/storage/clients.ts'
import { forgetEdgeState } from '../../src/storage/edge-state.ts'
import { adminCall, adminToken } from '../helpers/admin.ts'
import {
  assertion,
  assertionFields,
  createKeyClient,
  generateClientKey,
} from '../helpers/client-keys.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { basicAuth, expectProblem, freshIp, postForm } from '../helpers/http.ts'
import { expectActive, expectInactive } from '../helpers/token-state.ts'
import { eventually, tokenFor } from '../helpers/tokens.ts'

/** Work a request deferred past its response, held until the test lets it run. */
function heldBack() {
  const tasks: Array<() => Promise<unknown>> = []
  return {
    defer: (task: () => Promise<unknown>) => void tasks.push(task),
    count: () => tasks.length,
    release: () => Promise.all(tasks.map((task) => task())),
  }
}

/** Removes whatever the edge holds about a client, as at a location that never saw it. */
async function coldEdge(client: TestClient) {
  const keys = (await clientRecordKeys(client.clientId))!
  await Promise.all([env.CACHE.delete(keys.published), env.CACHE.delete(keys.filled)])
}

async function tokenDeps(defer: TokenStateDeps['defer']): Promise<TokenStateDeps> {
  const { keys, issuer } = await loadConfig(env)
  return { db: env.DB, cache: env.CACHE, keys, issuer, now: new Date(), memoryMs: 0, defer }
}

describe('a cache fill racing a change', () => {
  it('cannot bring a revoked token back: the tombstone wins', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    await coldEdge(owner)
    const fills = heldBack()
    // Reads D1 (nothing revoked yet) and leaves its fills pending.
    await checkAccessToken(await tokenDeps(fills.defer), token)
    expect(fills.count()).toBeGreaterThan(0)

    const revoke = await postForm(
      '/oauth/revoke',
      { token },
      { authorization: basicAuth(owner.clientId, owner.clientSecret) },
    )
    expect(revoke.status).toBe(200)
    await fills.release()

    await expectInactive(token)
  })

  it('cannot bring a disabled client’s token back: the published record wins', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    await coldEdge(owner)
    const fills = heldBack()
    await checkAccessToken(await tokenDeps(fills.defer), token)

    const disable = await adminCall(
      await adminToken(),
      'PATCH',
      `/admin/clients/${owner.clientId}`,
      { status: 'disabled' },
    )
    expect(disable.status).toBe(204)
    await fills.release()

    await expectInactive(token)
    const login = await postForm(
      '/oauth/token',
      { grant_type: 'client_credentials' },
      {
        authorization: basicAuth(owner.clientId, owner.clientSecret),
        'cf-connecting-ip': freshIp(),
      },
    )
    await expectProblem(login, 401, 'invalid_client', 'application/json')
  })

  it('cannot bring a rotated-out secret back: a login’s fill loses to the rotation', async () => {
    const owner = await createClient()
    await coldEdge(owner)
    const fills = heldBack()
    const config = await loadConfig(env)
    await loginClient(
      {
        db: env.DB,
        cache: env.CACHE,
        limiters: limiters(env),
        config,
        now: new Date(),
        audit: () => {},
        warn: () => {},
        defer: fills.defer,
      },
      { clientId: owner.clientId, clientSecret: owner.clientSecret, ip: freshIp(), via: 'test' },
    )
    expect(fills.count()).toBe(1)

    const rotation = await adminCall(
      await adminToken(),
      'POST',
      `/admin/clients/${owner.clientId}/secret`,
      {},
    )
    expect(rotation.status).toBe(200)
    const { client_secret: fresh } = (await rotation.json()) as { client_secret: string }
    await fills.release()

    const headers = (secret: string) => ({
      authorization: basicAuth(owner.clientId, secret),
      'cf-connecting-ip': freshIp(),
    })
    const old = await postForm(
      '/oauth/token',
      { grant_type: 'client_credentials' },
      headers(owner.clientSecret),
    )
    await expectProblem(old, 401, 'invalid_client', 'application/json')
    const current = await postForm(
      '/oauth/token',
      { grant_type: 'client_credentials' },
      headers(fresh),
    )
    expect(current.status).toBe(200)
  })
})

describe('changes are seen at once by the location that made them', () => {
  it('narrowing a client’s scopes ends the tokens it holds; new tokens carry the narrower scope', async () => {
    const owner = await createClient({
      allowedScopes: ['services:send', 'recipients:manage', 'tokens:introspect'],
    })
    const token = await tokenFor(owner)
    await expectActive(token)
    const narrow = await adminCall(
      await adminToken(),
      'PATCH',
      `/admin/clients/${owner.clientId}`,
      {
        allowed_scopes: ['services:send', 'tokens:introspect'],
      },
    )
    expect(narrow.status).toBe(204)
    await expectInactive(token)
    const fresh = await tokenFor(owner)
    await expectActive(fresh)
    expect(decodeJwt(fresh).scope).toBe('services:send tokens:introspect')
  })

  it('narrowing its audiences ends them too; widening or renaming does not', async () => {
    const owner = await createClient({ audiences: ['https://a.example', 'https://b.example'] })
    const token = await tokenFor(owner)
    await expectActive(token)
    const admin = await adminToken()
    const widen = await adminCall(admin, 'PATCH', `/admin/clients/${owner.clientId}`, {
      name: `renamed ${crypto.randomUUID()}`,
      audiences: ['https://a.example', 'https://b.example', 'https://c.example'],
    })
    expect(widen.status).toBe(204)
    await expectActive(token)
    const narrow = await adminCall(admin, 'PATCH', `/admin/clients/${owner.clientId}`, {
      audiences: ['https://a.example'],
    })
    expect(narrow.status).toBe(204)
    await expectInactive(token)
  })
})

/** The client's record as D1 has it now: what every location holds once a change has spread. */
async function recordNow(client: TestClient): Promise<string> {
  const row = (await findClientById(env.DB, client.clientId))!
  return JSON.stringify({ client: row, tokensValidAfter: row.tokensValidAfter })
}

/**
 * `work` (one login) at a location KV has not told of the latest change yet: `old` is put back
 * under the client's published key for it, then the current record is restored, as KV's copy
 * there catches up.
 */
async function atStaleLocation<T>(
  client: TestClient,
  old: string,
  work: () => Promise<T>,
): Promise<T> {
  const key = (await clientRecordKeys(client.clientId))!.published
  const current = await env.CACHE.get(key)
  expect(current).not.toBeNull()
  await env.CACHE.put(key, old)
  forgetEdgeState()
  try {
    return await work()
  } finally {
    await env.CACHE.put(key, current!)
    forgetEdgeState()
  }
}

/**
 * A change that keeps the tokens issued until then keeps those of its own second too (`iat` has
 * whole seconds; decisions.md D34): a stale location's login is made in a later one.
 */
function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)))
}

describe('a token minted from a stale record dies when the record catches up', () => {
  it('after a secret rotation with revoke_tokens', async () => {
    const owner = await createClient()
    const before = await tokenFor(owner)
    const old = await recordNow(owner)
    const rotation = await adminCall(
      await adminToken(),
      'POST',
      `/admin/clients/${owner.clientId}/secret`,
      { revoke_tokens: true },
    )
    expect(rotation.status).toBe(200)
    const { client_secret: fresh } = (await rotation.json()) as { client_secret: string }

    const stale = await atStaleLocation(owner, old, () => tokenFor(owner))
    await expectInactive(stale)
    await expectInactive(before)
    await expectActive(await tokenFor({ ...owner, clientSecret: fresh }))
  })

  it('after a secret rotation that keeps the tokens issued until then', async () => {
    const owner = await createClient()
    const before = await tokenFor(owner)
    const old = await recordNow(owner)
    const rotation = await adminCall(
      await adminToken(),
      'POST',
      `/admin/clients/${owner.clientId}/secret`,
      {},
    )
    expect(rotation.status).toBe(200)
    const { client_secret: fresh } = (await rotation.json()) as { client_secret: string }
    await nextSecond()

    const stale = await atStaleLocation(owner, old, () => tokenFor(owner))
    await expectInactive(stale)
    // Minted before the rotation, or with the new secret: both live.
    await expectActive(before)
    await expectActive(await tokenFor({ ...owner, clientSecret: fresh }))
  })

  it('after its scopes are narrowed', async () => {
    const owner = await createClient({
      allowedScopes: ['services:send', 'recipients:manage', 'tokens:introspect'],
    })
    await tokenFor(owner)
    const old = await recordNow(owner)
    const narrow = await adminCall(
      await adminToken(),
      'PATCH',
      `/admin/clients/${owner.clientId}`,
      { allowed_scopes: ['services:send', 'tokens:introspect'] },
    )
    expect(narrow.status).toBe(204)

    const stale = await atStaleLocation(owner, old, () =>
      tokenFor(owner, { scope: 'recipients:manage tokens:introspect' }),
    )
    expect(decodeJwt(stale).scope).toBe('recipients:manage tokens:introspect')
    await expectInactive(stale)
    await expectActive(await tokenFor(owner))
  })

  it('after its audiences are narrowed', async () => {
    const owner = await createClient({ audiences: ['https://a.example', 'https://b.example'] })
    await tokenFor(owner)
    const old = await recordNow(owner)
    const narrow = await adminCall(
      await adminToken(),
      'PATCH',
      `/admin/clients/${owner.clientId}`,
      { audiences: ['https://a.example'] },
    )
    expect(narrow.status).toBe(204)

    const stale = await atStaleLocation(owner, old, () =>
      tokenFor(owner, { resource: 'https://b.example' }),
    )
    await expectInactive(stale)
  })

  it('after DPoP becomes required: a bearer token minted from the old record', async () => {
    const owner = await createClient()
    await tokenFor(owner)
    const old = await recordNow(owner)
    const bind = await adminCall(await adminToken(), 'PATCH', `/admin/clients/${owner.clientId}`, {
      dpop_bound_access_tokens: true,
    })
    expect(bind.status).toBe(204)

    const stale = await atStaleLocation(owner, old, () => tokenFor(owner))
    expect(decodeJwt(stale).cnf).toBeUndefined()
    await expectInactive(stale)
  })

  it('after the key it was asserted with is removed', async () => {
    const [key, other] = await Promise.all([generateClientKey(), generateClientKey()])
    const owner = await createKeyClient([key, other])
    const old = await recordNow(owner)
    const removal = await adminCall(
      owner.admin,
      'DELETE',
      `/admin/clients/${owner.clientId}/keys/${key.kid}`,
    )
    expect(removal.status).toBe(204)
    await nextSecond()

    const login = async () => {
      const fields = assertionFields(await assertion(owner.clientId, key), owner.clientId)
      const response = await postForm('/oauth/token', {
        grant_type: 'client_credentials',
        ...fields,
      })
      expect(response.status).toBe(200)
      return ((await response.json()) as { access_token: string }).access_token
    }
    const stale = await atStaleLocation(owner, old, login)
    await expectInactive(stale)
  })

  it('after its client is deleted and created again with the same id', async () => {
    const admin = await adminToken()
    const provider = await createClient()
    const id = `client-${crypto.randomUUID()}`
    const body = {
      id,
      provider_id: provider.providerId,
      name: id,
      allowed_scopes: ['services:send'],
    }
    const created = await adminCall(admin, 'POST', '/admin/clients', body)
    expect(created.status).toBe(201)
    const first = { ...provider, clientId: id, clientSecret: '' }
    first.clientSecret = ((await created.json()) as { client_secret: string }).client_secret
    await tokenFor(first)
    const old = await recordNow(first)
    expect((await adminCall(admin, 'DELETE', `/admin/clients/${id}`)).status).toBe(204)
    const again = await adminCall(admin, 'POST', '/admin/clients', body)
    expect(again.status).toBe(201)

    const stale = await atStaleLocation(first, old, () => tokenFor(first))
    await expectInactive(stale)
  })

  it('after its client is disabled and enabled again', async () => {
    const owner = await createClient()
    await tokenFor(owner)
    const old = await recordNow(owner)
    const admin = await adminToken()
    const path = `/admin/clients/${owner.clientId}`
    expect((await adminCall(admin, 'PATCH', path, { status: 'disabled' })).status).toBe(204)
    const stale = await atStaleLocation(owner, old, () => tokenFor(owner))
    expect((await adminCall(admin, 'PATCH', path, { status: 'active' })).status).toBe(204)

    await expectInactive(stale)
    await expectActive(await tokenFor(owner))
  })
})

describe('revocations made before tombstones existed', () => {
  it('are tombstoned by the scheduled clean-up, which then leaves them alone', async () => {
    const owner = await createClient()
    const token = await tokenFor(owner)
    await expectActive(token)
    // The check filled the client's record at the edge after its response.
    const keys = (await clientRecordKeys(owner.clientId))!
    expect(
      await eventually(
        () => env.CACHE.get(keys.filled),
        (v) => v !== null,
      ),
    ).not.toBeNull()
    // A revocation as an earlier version made it: a D1 row, no tombstone.
    const { jti, exp } = decodeJwt(token)
    await env.DB.prepare(
      'INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES (?1, ?2, ?3)',
    )
      .bind(jti, owner.clientId, exp)
      .run()
    await expectActive(token) // the edge does not ask D1 while the client's record is there

    await worker.scheduled(createScheduledController({ scheduledTime: new Date() }), env)
    await expectInactive(token)
    const row = await env.DB.prepare('SELECT tombstoned FROM revoked_tokens WHERE jti = ?1')
      .bind(jti)
      .first<{ tombstoned: number }>()
    expect(row?.tombstoned).toBe(1)
  })
})
