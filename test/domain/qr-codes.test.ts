// renderQrCode (decisions.md D19): the PNG it draws reads back, with an independent decoder, as
// exactly the content it was given; and drawQrCodes puts it where the request's QR code goes.
import { decode } from 'fast-png'
import { describe, expect, it } from 'vitest'
import { MAX_QR_CONTENT_CHARS, renderQrCode } from '../../src/domain/qr-codes.ts'
import { drawQrCodes, parseServicesRequest } from '../../src/domain/dispatch-request.ts'
import { sniffPicture } from '../../src/domain/pictures.ts'
import { randomPng, readQrCode } from '../helpers/pictures.ts'

describe('renderQrCode', () => {
  const contents = [
    { name: 'a ticket number', content: 'TICKET-000042' },
    { name: 'digits only', content: '0012345678901234' },
    { name: 'a URL', content: 'https://clinica.example/turnos/8f3c2a?ref=sms&canal=1' },
    { name: 'accents, symbols and an emoji', content: 'Entrada Nº 42 — ¡válida! 🎟️ Fila ñ' },
    { name: 'spaces and line breaks', content: '  Cupón\n10 % de descuento\n  ' },
    {
      name: `${MAX_QR_CONTENT_CHARS} four-byte characters (the largest content)`,
      content: '🎫'.repeat(MAX_QR_CONTENT_CHARS),
    },
  ]
  for (const { name, content } of contents) {
    it(`encodes ${name} so that a reader decodes it exactly`, async () => {
      const picture = await renderQrCode(content)
      expect(picture.type).toBe('image/png')
      expect(sniffPicture(picture.bytes)).toBe('png')
      expect(readQrCode(picture.bytes)).toBe(content)
    })
  }

  it('draws a square image with a quiet zone, the same bytes for the same content', async () => {
    const first = await renderQrCode('CUPON-2026')
    const image = decode(first.bytes)
    expect(image.width).toBe(image.height)
    expect(image.width).toBeGreaterThanOrEqual(200)
    // The top-left corner lies in the quiet zone: white.
    expect(image.data[0]! & 0x80).toBe(0x80)
    expect((await renderQrCode('CUPON-2026')).bytes).toEqual(first.bytes)
    expect((await renderQrCode('CUPON-2027')).bytes).not.toEqual(first.bytes)
  })

  it('is checked by a reader that finds nothing in an image without a code', () => {
    expect(readQrCode(randomPng(64, 64))).toBeNull()
  })

  it('keeps the largest code well under the picture limit, compressed', async () => {
    const picture = await renderQrCode('🎫'.repeat(MAX_QR_CONTENT_CHARS))
    // Uncompressed, its rows alone would be about 50 KiB.
    expect(picture.bytes.length).toBeLessThan(16 * 1024)
  })

  it('becomes the picture of the part that carries the code, once drawn', async () => {
    const parsed = parseServicesRequest(
      {
        provider_id: 1,
        service_token: crypto.randomUUID(),
        service_id: 1,
        parameters: {
          destination: 'user-1',
          advertisement: { title: 'Cupón', message: '10 %', channel: 'FCM' },
          qr_code: { content: 'C-1' },
        },
      },
      new Date(),
    )
    expect(parsed.advertisement).toMatchObject({ qrCode: 'C-1' })
    expect(parsed.advertisement!.picture).toBeUndefined()
    const drawn = await drawQrCodes(parsed)
    expect(drawn.advertisement!.qrCode).toBeUndefined()
    expect(readQrCode(drawn.advertisement!.picture!.bytes)).toBe('C-1')
  })
})
