// Document 001's example end to end: accepted, queued, consumed, and received by the stand-in.
import { describe, expect, it } from 'vitest'
import {
  dispatch,
  example001,
  freshPhone,
  freshSender,
  pushesTo,
  settle,
  smsTo,
  type MessageView,
} from '../helpers/dispatch.ts'
import { useStandIn } from '../helpers/stand-in.ts'

describe('POST /Services end to end (queue, consumer, stand-in)', () => {
  it(
    'delivers document 001’s example by SMS and FCM and reports it sent',
    { timeout: 20_000 },
    async () => {
      const standIn = useStandIn()
      const phone = freshPhone()
      const device = `device-${crypto.randomUUID()}`
      const sender = await freshSender({ phone, fcmTokens: [device] })
      const response = await dispatch(sender, example001(sender))
      expect(response.status).toBe(201)
      const accepted = (await response.json()) as MessageView
      expect(response.headers.get('location')).toBe(`/Services/messages/${accepted.id}`)
      expect(accepted.status).toBe('queued')
      expect(accepted.deliveries.map((d) => d.channel).sort()).toEqual(['fcm', 'sms'])

      const done = await settle(sender, accepted.id)
      expect(done.status).toBe('sent')

      // The phone and the device are this test's own: exactly one SMS and one push reached them.
      const sms = smsTo(standIn, phone)
      expect(sms).toEqual(['Clínica Dr. Nano. Turno\nOftalmologo Lunes 29-10 a las 9:15Hs.'])
      type Push = { message: { token: string; notification: { title: string; body: string } } }
      const pushes = pushesTo(standIn, device) as Push[]
      expect(pushes.map((p) => p.message.token)).toEqual([device])
      expect(pushes.map((p) => p.message.notification)).toEqual([
        { title: 'Autos usados CHECHO', body: 'Lleve su auto usado con Financiameiento ...' },
      ])
    },
  )
})
