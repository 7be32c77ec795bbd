// Vonage's SMS API (`POST /sms/json`) for Portero's secondary SMS route (decisions.md D45): checks
// the request as Vonage does (api_key and api_secret, form or JSON body, from, to as digits, text),
// answers as Vonage does (HTTP 200 with a status per message, "0" accepted), then sends the
// delivery receipt to the message's `callback` URL (GET, the fields as query parameters), as
// Vonage's DLR webhook does. Fails on demand: POST /_control/vonage/failures.
import type { Hono } from 'hono'
import { z } from 'zod'

export type VonageOptions = {
  apiKey: string
  apiSecret: string
  /** Sends the receipts; tests pass one that hands them to the Worker under test. */
  fetch?: (request: Request) => Promise<Response>
  /** Keep receipts until sendReceipts() is called (tests decide when they arrive). */
  holdReceipts?: boolean
  /** How long after the answer a receipt goes. */
  receiptDelayMs?: number
}

/** A request the route received: its body without api_secret, and the answer. */
export type VonageRequest = {
  at: string
  contentType: string | null
  body: Record<string, unknown>
  httpStatus: number
  response: unknown
  injected: boolean
}

export type VonageReceipt = { url: string; answer: number | string | null }

export type VonageFailure = {
  /** An HTTP status to answer with, or a Vonage status code in a 200 answer. */
  httpStatus?: number
  status?: string
  remaining: number
}

export type VonageStandIn = {
  /** Every send request, oldest first. */
  requests: VonageRequest[]
  /** Receipts sent or held, oldest first. */
  receipts: VonageReceipt[]
  failures: VonageFailure[]
  /** Sends the held receipts, in order, once all are answered. */
  sendReceipts(): Promise<VonageReceipt[]>
}

const ERROR_TEXT: Record<string, string> = {
  '1': 'Throttled',
  '2': 'Missing params',
  '3': 'Invalid params',
  '4': 'Bad Credentials',
  '5': 'Internal Error',
  '6': 'Invalid Message',
  '7': 'Number Barred',
}

const FailureInput = z.object({
  httpStatus: z.number().int().min(400).max(599).optional(),
  status: z
    .string()
    .regex(/^[1-9]\d*$/)
    .optional(),
  count: z.number().int().min(1).default(1),
})

type Deferrer = { waitUntil(promise: Promise<unknown>): void }

export function addVonage(app: Hono, options: VonageOptions): VonageStandIn {
  const held: VonageReceipt[] = []
  const route: VonageStandIn = {
    requests: [],
    receipts: [],
    failures: [],
    async sendReceipts() {
      const sent = held.splice(0)
      for (const receipt of sent) await deliver(receipt)
      return sent
    },
  }

  async function deliver(receipt: VonageReceipt) {
    try {
      const response = await (options.fetch ?? globalThis.fetch)(
        new Request(receipt.url, { method: 'GET', headers: { 'user-agent': 'Nexmo/DLR' } }),
      )
      await response.body?.cancel()
      receipt.answer = response.status
    } catch (error) {
      receipt.answer = String(error)
    }
  }

  app.post('/vonage/sms/json', async (c) => {
    const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase() ?? null
    const text = await c.req.text()
    let body: Record<string, unknown> = {}
    if (type === 'application/json') {
      try {
        body = JSON.parse(text) as Record<string, unknown>
      } catch {
        body = {}
      }
    } else if (type === 'application/x-www-form-urlencoded') {
      body = Object.fromEntries(new URLSearchParams(text))
    }
    const failure = route.failures[0]
    let httpStatus = 200
    let response: unknown
    if (failure) {
      if (--failure.remaining === 0) route.failures.shift()
      httpStatus = failure.httpStatus ?? 200
      response = failure.httpStatus
        ? { type: 'https://developer.nexmo.com/api-errors', title: 'Injected failure' }
        : refusal(String(body.to ?? ''), failure.status ?? '5')
    } else {
      response = accept(body)
    }
    const { api_secret: _secret, ...logged } = body
    route.requests.push({
      at: new Date().toISOString(),
      contentType: type,
      body: logged,
      httpStatus,
      response,
      injected: failure !== undefined,
    })
    const first = (response as { messages?: Record<string, string>[] }).messages?.[0]
    if (httpStatus === 200 && first?.status === '0' && typeof body.callback === 'string') {
      const receipt = receiptOf(body.callback, body, first['message-id']!)
      route.receipts.push(receipt)
      if (options.holdReceipts) held.push(receipt)
      else {
        const work = (async () => {
          await new Promise((resolve) => setTimeout(resolve, options.receiptDelayMs ?? 500))
          await deliver(receipt)
        })()
        const ctx = (c.env as { ctx?: Deferrer } | undefined)?.ctx
        if (ctx) ctx.waitUntil(work)
      }
    }
    return c.json(response as object, httpStatus as 200)
  })

  app.post('/_control/vonage/failures', async (c) => {
    const parsed = FailureInput.safeParse(await c.req.json().catch(() => null))
    if (!parsed.success) return c.json({ error: 'invalid_failure' }, 400)
    const { count, ...failure } = parsed.data
    route.failures.push({ ...failure, remaining: count })
    return c.json({ queued: route.failures }, 201)
  })
  app.get('/_control/vonage/received', (c) =>
    c.json({ requests: route.requests, receipts: route.receipts }),
  )

  function accept(body: Record<string, unknown>) {
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '')
    if (!field('api_key') || !field('api_secret')) return refusal(field('to'), '2')
    if (field('api_key') !== options.apiKey || field('api_secret') !== options.apiSecret) {
      return refusal(field('to'), '4')
    }
    if (!field('from') || !field('to') || !field('text')) return refusal(field('to'), '2')
    if (!/^[1-9]\d{6,14}$/.test(field('to'))) return refusal(field('to'), '3')
    const id = [...crypto.getRandomValues(new Uint8Array(8))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase()
    return {
      'message-count': '1',
      messages: [
        {
          to: field('to'),
          'message-id': id,
          status: '0',
          'remaining-balance': '10.00000000',
          'message-price': '0.03330000',
          network: '72207',
          ...(field('client-ref') ? { 'client-ref': field('client-ref') } : {}),
        },
      ],
    }
  }

  return route
}

function refusal(to: string, status: string) {
  return {
    'message-count': '1',
    messages: [{ ...(to ? { to } : {}), status, 'error-text': ERROR_TEXT[status] ?? 'Error' }],
  }
}

/** The DLR of an accepted message: the callback URL with Vonage's fields added to its query. */
function receiptOf(callback: string, body: Record<string, unknown>, messageId: string) {
  const url = new URL(callback)
  const fields: Record<string, string> = {
    msisdn: String(body.to),
    to: String(body.from),
    'network-code': '72207',
    messageId,
    price: '0.03330000',
    status: 'delivered',
    scts: '2601010000',
    'err-code': '0',
    'message-timestamp': new Date().toISOString().slice(0, 19).replace('T', ' '),
    ...(typeof body['client-ref'] === 'string' ? { 'client-ref': body['client-ref'] } : {}),
  }
  for (const [name, value] of Object.entries(fields)) url.searchParams.set(name, value)
  return { url: url.toString(), answer: null }
}
