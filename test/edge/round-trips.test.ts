// The round-trip budget of every hot path (docs/api.md "Edge first"): how many KV, D1 and queue round
// trips each response waits for, counted by proxies around the real bindings. Work deferred past
// the response (cache fills, audit events, enqueueing) is not counted: it runs after app.fetch
// resolves, and each test then waits for it (waitOnExecutionContext) so the next one starts warm.
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { base64url, exportJWK, generateKeyPair, SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { app } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { ackUrl } from '../../src/domain/push-acks.ts'
import worker from '../../src/index.ts'
import { adminToken } from '../helpers/admin.ts'
import {
  assertion,
  assertionFields,
  createKeyClient,
  generateClientKey,
} from '../helpers/client-keys.ts'
import { createClient, type TestClient } from '../helpers/clients.ts'
import { changeDeliveryStatus } from '../../src/storage/delivery-lifecycle.ts'
import { claimDelivery, findDeliveryById } from '../../src/storage/messages.ts'
import {
  createSender,
  deliveryDb,
  DISPATCH_BINDINGS,
  dispatchBindingOf,
  dispatchJob,
  example001,
  freshPhone,
  writeOutbox,
} from '../helpers/dispatch.ts'
import { basicAuth, freshIp, ORIGIN, signedSmsPost } from '../helpers/http.ts'
import { probe } from '../helpers/probe.ts'
import { countRoundTrips, type RoundTrips } from '../helpers/round-trips.ts'
import {
  createFederatedClient,
  federatedFields,
  freshIssuer,
  platformToken,
  type Way,
} from '../helpers/federation.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { claims, signToken } from '../helpers/keys.ts'
import { tokenFor } from '../helpers/tokens.ts'

type Budget = Partial<RoundTrips>

/** Sends the request twice: the first warms the edge state, the second is measured. */
async function probeWarm(make: () => Request) {
  const first = await probe(make())
  expect(first.response.status, 'the warming request').toBeLessThan(500)
  return probe(make())
}

function expectWithin(
  trips: RoundTrips,
  budget: Required<Omit<Budget, 'd1Statements' | 'do'>> & Pick<Budget, 'do'>,
  calls: string[],
) {
  const detail = `calls: ${calls.join(', ')}`
  expect(trips.kv, detail).toBeLessThanOrEqual(budget.kv)
  expect(trips.d1, detail).toBeLessThanOrEqual(budget.d1)
  expect(trips.queue, detail).toBeLessThanOrEqual(budget.queue)
  // A route that names no Durable Object budget calls none.
  expect(trips.do, detail).toBeLessThanOrEqual(budget.do ?? 0)
}

const GRANT = new URLSearchParams({ grant_type: 'client_credentials' }).toString()

function tokenRequest(client: TestClient, ip = freshIp()): Request {
  return new Request(`${ORIGIN}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(client.clientId, client.clientSecret),
      'cf-connecting-ip': ip,
    },
    body: GRANT,
  })
}

function jsonRequest(path: string, body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(ORIGIN + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': freshIp(), ...headers },
    body: JSON.stringify(body),
  })
}

function meRequest(token: string): Request {
  return new Request(`${ORIGIN}/auth/me`, { method: 'POST', headers: { 'x-access-token': token } })
}

describe('token issue: one KV round trip, no D1, no queue', () => {
  it('POST /oauth/token', async () => {
    const client = await createClient()
    const ip = freshIp()
    const { response, trips, calls } = await probeWarm(() => tokenRequest(client, ip))
    expect(response.status).toBe(200)
    expectWithin(trips, { kv: 1, d1: 0, queue: 0 }, calls)
  })

  it('POST /oauth/token with private_key_jwt: the used jti is read with the client record', async () => {
    const key = await generateClientKey()
    const client = await createKeyClient([key])
    const ip = freshIp()
    const assertions = [
      await assertion(client.clientId, key),
      await assertion(client.clientId, key),
    ]
    const request = () =>
      new Request(`${ORIGIN}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': ip },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          ...assertionFields(assertions.shift()!),
        }).toString(),
      })
    const { response, trips, calls } = await probeWarm(request)
    expect(response.status).toBe(200)
    expectWithin(trips, { kv: 1, d1: 0, queue: 0 }, calls)
  })

  it("POST /oauth/token with a trusted issuer's token: its keys are read with the client record", async () => {
    const standIn = useStandIn()
    const issuer = freshIssuer()
    const sub = 'repo:example-org/deployer:ref:refs/heads/main'
    const { clientId } = await createFederatedClient([{ issuer: issuer.url, subject: sub }])
    const ip = freshIp()
    const tokens = await Promise.all(
      [1, 2, 3].map(() => platformToken(standIn, issuer.name, { sub })),
    )
    const request = (way: Way) => () =>
      new Request(`${ORIGIN}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': ip },
        body: new URLSearchParams(federatedFields(way, clientId, tokens.shift()!)).toString(),
      })
    // The first request warms the client record and the issuer's keys (fetched once, then in KV).
    const assertion = await probeWarm(request('client_assertion'))
    expect(assertion.response.status).toBe(200)
    expectWithin(assertion.trips, { kv: 1, d1: 0, queue: 0 }, assertion.calls)
    const grant = await probe(request('jwt-bearer grant')())
    expect(grant.response.status).toBe(200)
    expectWithin(grant.trips, { kv: 1, d1: 0, queue: 0 }, grant.calls)
    expect(standIn.issuers.get(issuer.name)).toMatchObject({
      discoveryRequests: 1,
      jwksRequests: 1,
    })
  })

  it('POST /auth/login, Bridge dialect', async () => {
    const client = await createClient()
    const body = { clientId: client.clientId, clientSecret: client.clientSecret }
    const { response, trips, calls } = await probeWarm(() => jsonRequest('/auth/login', body))
    expect(response.status).toBe(200)
    expectWithin(trips, { kv: 1, d1: 0, queue: 0 }, calls)
  })

  it('POST /auth/login, Yativo dialect', async () => {
    const client = await createClient()
    const body = { account_id: client.clientId, app_secret: client.clientSecret }
    const { response, trips, calls } = await probeWarm(() => jsonRequest('/auth/login', body))
    expect(response.status).toBe(200)
    expectWithin(trips, { kv: 1, d1: 0, queue: 0 }, calls)
  })

  it('adds one D1 read when the client is not at the edge yet, and fills it after the response', async () => {
    const client = await createClient()
    const cold = await probe(tokenRequest(client))
    expect(cold.response.status).toBe(200)
    expect(cold.trips).toMatchObject({ kv: 1, d1: 1, queue: 0, d1Statements: 1 })
    const warm = await probe(tokenRequest(client))
    expect(warm.trips).toMatchObject({ kv: 1, d1: 0, queue: 0 })
  })

  it('an unknown client id or a wrong secret writes nothing to D1 before the response', async () => {
    const client = await createClient()
    for (const who of [
      { ...client, clientId: `nobody-${crypto.randomUUID()}` },
      { ...client, clientSecret: 'wrong' },
    ]) {
      const { response, trips, calls } = await probe(tokenRequest(who))
      expect(response.status).toBe(401)
      // At most the one read of a client not at the edge; no statement that writes.
      expect(trips.d1Statements, calls.join(', ')).toBeLessThanOrEqual(1)
      expect(calls.filter((c) => c.startsWith('d1.') && c !== 'd1.first')).toEqual([])
      expect(trips.queue).toBe(0)
    }
  })
})

/** A DPoP proof signer for one fresh key (RFC 9449 §4.2), each proof with a new jti. */
async function dpopSigner() {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const jwk = await exportJWK(publicKey)
  return async (htu: string, token?: string) => {
    const digest = (text: string) => crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
    const ath = token ? base64url.encode(new Uint8Array(await digest(token))) : undefined
    return new SignJWT({ htm: 'POST', htu, jti: crypto.randomUUID(), ath })
      .setIssuedAt()
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(privateKey)
  }
}

describe('DPoP: no binding round trip more (the jti goes to the Cache API)', () => {
  it('POST /oauth/token with a proof, then POST /auth/me with the DPoP-bound token', async () => {
    const client = await createClient()
    const sign = await dpopSigner()
    const withProof = (request: Request, proof: string) => {
      request.headers.set('dpop', proof)
      return request
    }
    const tokenUrl = `${ORIGIN}/oauth/token`
    const issueProofs = [await sign(tokenUrl), await sign(tokenUrl)]
    const issued = await probeWarm(() => withProof(tokenRequest(client), issueProofs.shift()!))
    expect(issued.response.status).toBe(200)
    expectWithin(issued.trips, { kv: 1, d1: 0, queue: 0 }, issued.calls)

    const response = await worker.fetch(
      withProof(tokenRequest(client), await sign(tokenUrl)) as never,
      env,
      createExecutionContext(),
    )
    const { access_token: token } = (await response.json()) as { access_token: string }
    const meUrl = `${ORIGIN}/auth/me`
    const meProofs = [await sign(meUrl, token), await sign(meUrl, token)]
    const me = await probeWarm(() =>
      withProof(
        new Request(meUrl, { method: 'POST', headers: { authorization: `DPoP ${token}` } }),
        meProofs.shift()!,
      ),
    )
    expect(me.response.status).toBe(200)
    expectWithin(me.trips, { kv: 1, d1: 0, queue: 0 }, me.calls)
  })
})

describe('token checks: one KV round trip, no D1', () => {
  it('POST /auth/me', async () => {
    const token = await tokenFor(await createClient())
    const { response, trips, calls } = await probeWarm(() => meRequest(token))
    expect(response.status).toBe(200)
    expectWithin(trips, { kv: 1, d1: 0, queue: 0 }, calls)
  })

  it('POST /mcg/v1/tokeninfo with a bearer caller: caller and subject in one read', async () => {
    const caller = await tokenFor(await createClient())
    const subject = await tokenFor(await createClient())
    const make = () =>
      new Request(`${ORIGIN}/mcg/v1/tokeninfo`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Bearer ${caller}`,
        },
        body: new URLSearchParams({ token: subject }).toString(),
      })
    const { response, trips, calls } = await probeWarm(make)
    expect(response.status).toBe(200)
    expectWithin(trips, { kv: 1, d1: 0, queue: 0 }, calls)
  })

  it('every bearer-authenticated API route checks its token with one KV read before anything else', async () => {
    const sender = await createSender()
    const admin = await adminToken()
    const routes: Array<[string, string]> = [
      ['/recipients', sender.token],
      [`/recipients/${sender.userId}`, sender.token],
      ['/subscriptions', sender.token],
      ['/Services/messages/00000000-0000-4000-8000-000000000000', sender.token],
      ['/admin/clients', admin],
      ['/admin/providers', admin],
      ['/admin/audit', admin],
      ['/admin/messages', admin],
    ]
    for (const [path, token] of routes) {
      const make = () =>
        new Request(ORIGIN + path, { headers: { authorization: `Bearer ${token}` } })
      const { response, calls } = await probeWarm(make)
      expect(response.status, path).toBeLessThan(500)
      // The check is the first call; what the route itself reads comes after it.
      expect(calls[0], `${path}: ${calls.join(', ')}`).toBe('kv.get')
      expect(
        calls.slice(1).filter((c) => c.startsWith('kv.get')),
        `${path}: ${calls.join(', ')}`,
      ).toEqual([])
    }
  })

  it('a malformed bearer token is refused before any binding call', async () => {
    const real = await tokenFor(await createClient())
    const [header, payload] = real.split('.')
    const unknownKid = await signToken(claims(), { header: { kid: 'not-one-of-ours' } })
    const malformed = [
      'not-a-jwt',
      'a.b',
      `${header}.${payload}`,
      `${header}.${payload}.sig.extra`,
      `e30.${payload}.AAAA`, // a header without kid or alg
      `bm90LWpzb24.${payload}.AAAA`, // a header that is not JSON
      unknownKid,
    ]
    for (const token of malformed) {
      const { response, calls } = await probe(meRequest(token))
      expect(response.status, token).toBe(401)
      expect(calls, token).toEqual([])
    }
  })
})

describe('POST /Services: one send shard call, no D1, no queue send after its token check', () => {
  it('sends document 001’s example', async () => {
    const sender = await createSender()
    await probe(meRequest(sender.token)) // the token check warm, as it is for a busy provider
    const { response, trips, calls } = await probe(
      jsonRequest('/Services', example001(sender), { authorization: `Bearer ${sender.token}` }),
    )
    expect(response.status).toBe(201)
    // One KV round for the token check; pictures would add one more. The shard checks the request
    // against its copy of the send facts, admits the message and stores it in one call: D1 is
    // neither read nor written (decisions.md D48).
    expectWithin(trips, { kv: 1, d1: 0, queue: 0, do: 1 }, calls)
    expect(calls.filter((c) => c.startsWith('do.'))).toEqual(['do.accept'])
  })
})

describe('POST /Services of a scheduled message: the same one call to its shard', () => {
  it('stores it scheduled in one call to its shard', async () => {
    const sender = await createSender()
    await probe(meRequest(sender.token))
    const sendAt = new Date(Date.now() + 3600_000).toISOString()
    const body = { ...example001(sender), send_at: sendAt }
    const probed = await probe(
      jsonRequest('/Services', body, { authorization: `Bearer ${sender.token}` }),
    )
    const { response, trips, calls } = probed
    expect(response.status).toBe(201)
    expect(JSON.parse(probed.body)).toMatchObject({ status: 'scheduled' })
    // The shard's alarm enqueues it when due, not the request.
    expectWithin(trips, { kv: 1, d1: 0, queue: 0, do: 1 }, calls)
  })
})

describe('POST /acks/{token}: one call to the shard the token names', () => {
  it('acknowledges a push with no KV, D1 or queue', async () => {
    const sender = await createSender()
    const { issuer, ackKey } = await loadConfig(env)
    const url = await ackUrl(
      { key: ackKey, issuer },
      { shard: `provider:${sender.providerId}`, deliveryId: crypto.randomUUID() },
      new Date(),
    )
    const { response, trips, calls } = await probe(
      new Request(`${ORIGIN}${new URL(url).pathname}`, { method: 'POST' }),
    )
    expect(response.status).toBe(204)
    expectWithin(trips, { kv: 0, d1: 0, queue: 0, do: 1 }, calls)
  })
})

describe('GET /Services/messages/{id}: one call to the shard its id names, no D1', () => {
  it('reads the message, its deliveries and their timeline', async () => {
    const sender = await createSender()
    const accepted = await probe(
      jsonRequest('/Services', example001(sender), { authorization: `Bearer ${sender.token}` }),
    )
    const { id } = JSON.parse(accepted.body) as { id: string }
    const read = () =>
      new Request(`${ORIGIN}/Services/messages/${id}`, {
        headers: { authorization: `Bearer ${sender.token}` },
      })
    const { response, trips, calls } = await probeWarm(read)
    expect(response.status).toBe(200)
    expectWithin(trips, { kv: 1, d1: 0, queue: 0, do: 1 }, calls)
    expect(calls.filter((c) => c.startsWith('do.'))).toEqual(['do.run'])
  })
})

describe('POST /callbacks/sms/status: one call to the shard the URL names, no D1', () => {
  it('applies a delivery receipt', async () => {
    const sender = await createSender()
    const [id] = await writeOutbox(sender, [{ address: freshPhone() }])
    const shard = { shard: deliveryDb(id!) }
    const sid = `SM${crypto.randomUUID().replaceAll('-', '')}`
    await claimDelivery(shard, id!, new Date(), 30)
    await changeDeliveryStatus(shard, {
      kind: 'sent',
      deliveryId: id!,
      at: new Date(),
      providerMessageId: sid,
    })
    const url = `${ORIGIN}/callbacks/sms/status?shard=${encodeURIComponent(dispatchJob(id!).shard)}`
    const form = {
      AccountSid: env.SMS_ACCOUNT_SID,
      MessageSid: sid,
      MessageStatus: 'delivered',
    }
    const request = new Request(url, await signedSmsPost(url, form))
    const { response, body, trips, calls } = await probe(request)
    expect(response.status, body).toBe(200)
    expect(JSON.parse(body)).toEqual({ outcome: 'applied', status: 'delivered' })
    expectWithin(trips, { kv: 0, d1: 0, queue: 0, do: 1 }, calls)
    expect(calls.filter((c) => c.startsWith('do.'))).toEqual(['do.receipt'])
  })

  it('answers a status on the way with no call at all', async () => {
    const url = `${ORIGIN}/callbacks/sms/status?shard=${encodeURIComponent('provider:1')}`
    const form = {
      AccountSid: env.SMS_ACCOUNT_SID,
      MessageSid: `SM${crypto.randomUUID().replaceAll('-', '')}`,
      MessageStatus: 'sent',
    }
    const request = new Request(url, await signedSmsPost(url, form))
    const { response, body, trips, calls } = await probe(request)
    expect(response.status, body).toBe(200)
    expect(JSON.parse(body)).toEqual({ outcome: 'unchanged', status: null })
    expectWithin(trips, { kv: 0, d1: 0, queue: 0, do: 0 }, calls)
  })
})

describe('the dispatch consumer: no D1, its sends through the shards', () => {
  it('claims, sends and records ten deliveries in three calls to their shard, without D1', async () => {
    useStandIn()
    const sender = await createSender()
    const ids = await writeOutbox(
      sender,
      Array.from({ length: 10 }, () => ({ address: freshPhone() })),
    )
    const counter = countRoundTrips(env)
    const batch = createMessageBatch(
      env.DISPATCH_QUEUE_NAME,
      ids.map((id, i) => ({
        id: `m-${i}`,
        timestamp: new Date(),
        attempts: 1,
        body: dispatchJob(id),
      })),
    )
    const ctx = createExecutionContext()
    await worker.queue(batch, counter.env)
    expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(10)
    // The send policy is read from the shard's copy of the send facts: the batch touches no D1.
    expect(counter.snapshot().d1Statements).toBe(0)
    // For the batch, one read of the shard's policy and one claim of its deliveries; then the ten
    // records, sent together once every delivery had its answer.
    const calls = counter.timeline().filter((c) => c.kind === 'do')
    expect(calls.map((c) => c.name)).toEqual(['do.runFresh', 'do.run', 'do.runEach'])
    for (const id of ids) expect((await findDeliveryById(deliveryDb(id), id))?.status).toBe('sent')
  })
})

describe('a push that falls back to SMS: the same calls as a failed push, and one queue message', () => {
  it('records the failure and creates the SMS in the one call that records it', async () => {
    useStandIn()
    const sender = await createSender({
      phone: freshPhone(),
      fcmTokens: [`unregistered-${crypto.randomUUID()}`],
    })
    const body = {
      ...example001(sender),
      parameters: {
        destination: sender.userId,
        notification: { title: 'Turno', message: 'Lunes 9:15', channel: 'FCM' },
        fallback: { channel: 'SMS' },
      },
    }
    const accepted = await probe(
      jsonRequest('/Services', body, { authorization: `Bearer ${sender.token}` }),
    )
    expect(accepted.response.status).toBe(201)
    const [push] = (JSON.parse(accepted.body) as { deliveries: { id: string }[] }).deliveries
    const counter = countRoundTrips(env)
    const batch = createMessageBatch(env.DISPATCH_QUEUE_NAME, [
      {
        id: 'm-0',
        timestamp: new Date(),
        attempts: 1,
        body: { deliveryId: push!.id, shard: `provider:${sender.providerId}` },
      },
    ])
    const ctx = createExecutionContext()
    await worker.queue(batch, counter.env)
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(['m-0'])
    // The shard's send policy, the claim, and the failure recorded with the SMS it falls back to.
    expect(counter.timeline().filter((c) => c.kind === 'do')).toHaveLength(3)
    // The SMS's queue message, on the dispatch queue its id picks; it then lives as any SMS does.
    const sent = DISPATCH_BINDINGS.flatMap((binding) =>
      (counter.sent(binding) as { deliveryId: string }[]).map((job) => ({ binding, job })),
    )
    expect(sent).toHaveLength(1)
    expect(sent[0]!.binding).toBe(dispatchBindingOf(sent[0]!.job.deliveryId))
    // The unregistered token leaves the directory (decisions.md D12): one D1 statement.
    expect(counter.snapshot().d1Statements).toBe(1)
  })
})

describe('D1 per token issued', () => {
  it(
    'costs at most 10 statements per 1,000 tokens, the audit trail included',
    { timeout: 120_000 },
    async () => {
      const client = await createClient()
      const ip = freshIp()
      // The client's first login reads it from D1 and fills the edge; the thousand after it do not.
      await probe(tokenRequest(client, ip))
      const counter = countRoundTrips(env)
      for (let i = 0; i < 1000; i++) {
        const ctx = createExecutionContext()
        const response = await app.fetch(tokenRequest(client, ip), counter.env, ctx)
        expect(response.status).toBe(200)
        await waitOnExecutionContext(ctx)
      }
      expect(counter.snapshot().d1Statements).toBe(0)
      const events = counter.sent('AUDIT_QUEUE')
      expect(events).toHaveLength(1000)

      // The audit queue delivers them in batches of up to 100 (wrangler.toml); each is one insert.
      for (let start = 0; start < events.length; start += 100) {
        const messages = events.slice(start, start + 100).map((body, i) => ({
          id: `audit-${start + i}`,
          timestamp: new Date(),
          attempts: 1,
          body,
        }))
        const batch = createMessageBatch(env.AUDIT_QUEUE_NAME, messages)
        const ctx = createExecutionContext()
        await worker.queue(batch, counter.env)
        expect((await getQueueResult(batch, ctx)).ackAll).toBe(true)
      }
      expect(counter.snapshot().d1Statements).toBeLessThanOrEqual(10)
      const { issued } = (await env.DB.prepare(
        `SELECT COALESCE(SUM(count), 0) AS issued FROM audit_events
         WHERE action = 'token.issued' AND target = ?1`,
      )
        .bind(client.clientId)
        .first<{ issued: number }>())!
      // The real queue may have delivered some of them too: at least every token is recorded.
      expect(issued).toBeGreaterThanOrEqual(1000)
    },
  )
})
