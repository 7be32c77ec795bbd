// Small images of each accepted format, as bytes and base64, for the picture tests.
import { env } from 'cloudflare:workers'
import { decode, encode } from 'fast-png'
import jsQR from 'jsqr'

export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

/** A real PNG of random pixels: every call is a distinct content. */
export function randomPng(width = 4, height = 4): Uint8Array {
  const data = crypto.getRandomValues(new Uint8Array(width * height * 4))
  return encode({ width, height, data, channels: 4, depth: 8 })
}

/** A 1×1 GIF89a (the classic transparent pixel). */
export const GIF = fromBase64('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7')

/** A 1×1 lossless WebP. */
export const WEBP = fromBase64('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==')

/**
 * A JFIF-headed JPEG stream: SOI, APP0, a quantisation table, EOI. Portero checks a JPEG's start
 * and end markers, not its scan data.
 */
export function jpeg(): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]
  const dqt = [0xff, 0xdb, 0x00, 0x43, 0x00, ...Array.from({ length: 64 }, () => 1)]
  return Uint8Array.from([0xff, 0xd8, ...app0, ...dqt, 0xff, 0xd9])
}

/**
 * What a QR reader sees in a PNG: the image decoded by fast-png, turned into RGBA pixels and read
 * by jsQR (a QR decoder written independently of the generator). Null when no code is found.
 */
export function readQrCode(png: Uint8Array): string | null {
  const image = decode(png)
  const { width, height, channels, depth } = image
  const rgba = new Uint8ClampedArray(width * height * 4)
  const rowBytes = Math.ceil((width * channels * depth) / 8)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const grey =
        depth === 1
          ? (image.data[y * rowBytes + (x >> 3)]! >> (7 - (x & 7))) & 1 ? 255 : 0
          : (image.data[(y * width + x) * channels]! * 255) / (2 ** depth - 1)
      rgba.set([grey, grey, grey, 255], (y * width + x) * 4)
    }
  }
  const code = jsQR(rgba, width, height)
  return code ? new TextDecoder().decode(Uint8Array.from(code.binaryData)) : null
}

/** Every published picture's KV key. */
export async function pictureKeys(): Promise<string[]> {
  const keys: string[] = []
  let cursor: string | undefined
  do {
    const page = await env.CACHE.list({ prefix: 'picture:', cursor })
    keys.push(...page.keys.map((k) => k.name))
    cursor = page.list_complete ? undefined : page.cursor
  } while (cursor)
  return keys
}
