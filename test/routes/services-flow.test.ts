import { describe, expect, it } from 'vitest'
import { createSender, example001 } from '../helpers/dispatch.ts'
import { call, postJson } from '../helpers/http.ts'
import { useStandIn } from '../helpers/stand-in.ts'
import { eventually } from '../helpers/tokens.ts'

type MessageView = { id: string; status: string; deliveries: { channel: string; status: string; to: string }[] }

describe('POST /Services end to end (queue, consumer, stand-in)', () => {
  it('delivers document 001’s example by SMS and FCM and reports it sent', { timeout: 20_000 }, async () => {
    const standIn = useStandIn()
    const sender = await createSender()
    const response = await postJson('/Services', example001(sender), { authorization: `Bearer ${sender.token}` })
    expect(response.status).toBe(201)
    const accepted = (await response.json()) as MessageView
    expect(response.headers.get('location')).toBe(`/Services/messages/${accepted.id}`)
    expect(accepted.status).toBe('queued')
    expect(accepted.deliveries.map((d) => d.channel).sort()).toEqual(['fcm', 'sms'])

    const read = async () =>
      (await (await call(`/Services/messages/${accepted.id}`, { headers: { authorization: `Bearer ${sender.token}` } })).json()) as MessageView
    const done = await eventually(read, (m) => m.status === 'sent')
    expect(done.status).toBe('sent')

    const sms = standIn.state.sms.filter((r) => (r.body as { To?: string }).To === '+5491155550000' && r.status === 201)
    expect(sms.length).toBeGreaterThanOrEqual(1)
    expect(JSON.stringify(sms.at(-1)!.body)).toContain('Oftalmologo Lunes 29-10')
    const pushes = standIn.state.fcm.filter((r) => JSON.stringify(r.body).includes(accepted.deliveries.find((d) => d.channel === 'fcm')!.to.slice(0, 6)))
    expect(pushes.length).toBe(1)
  })
})
