// QR codes for tickets and coupons (document 001's "QRcodes: tickets et coupons",
// decisions.md D19): the content is drawn as a PNG in the Worker, then published and delivered like
// any picture.
import qrcode from 'qrcode-generator'
import { encodeGreyscalePng } from '../utils/png.ts'
import type { Picture } from './pictures.ts'

/** At most 4 UTF-8 bytes each: 2,048 bytes, within a version 40 code at error correction M. */
export const MAX_QR_CONTENT_CHARS = 512
export const MAX_QR_LABEL_CHARS = 64

/** Modules of white around the code: ISO/IEC 18004 asks for 4. */
const QUIET_ZONE = 4
/** The image's side aims at this many pixels: a module gets 3 to 10 of them. */
const TARGET_PIXELS = 640

/**
 * A PNG (1 bit per pixel, black on white) of `content` as a QR code at error correction M. The
 * text is encoded as its UTF-8 bytes in byte mode, which readers decode as UTF-8, so the code reads
 * back exactly as sent.
 */
export async function renderQrCode(content: string): Promise<Picture> {
  const qr = qrcode(0, 'M')
  // In byte mode the library takes one byte per character: hand it the UTF-8 bytes that way.
  let bytes = ''
  for (const byte of new TextEncoder().encode(content)) bytes += String.fromCharCode(byte)
  qr.addData(bytes, 'Byte')
  qr.make()

  const modules = qr.getModuleCount()
  const side = modules + 2 * QUIET_ZONE
  const scale = Math.min(10, Math.max(3, Math.floor(TARGET_PIXELS / side)))
  const size = side * scale
  const rowBytes = Math.ceil(size / 8)
  // Greyscale at 1 bit: a set bit is white. Rows start on a byte; their padding bits stay white.
  const data = new Uint8Array(rowBytes * size).fill(0xff)
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (!qr.isDark(row, col)) continue
      const left = (col + QUIET_ZONE) * scale
      const top = (row + QUIET_ZONE) * scale
      for (let y = top; y < top + scale; y++) {
        for (let x = left; x < left + scale; x++)
          data[y * rowBytes + (x >> 3)]! &= ~(0x80 >> (x & 7))
      }
    }
  }
  const png = await encodeGreyscalePng({ width: size, height: size, depth: 1, data })
  return { bytes: png, type: 'image/png', ext: 'png' }
}
