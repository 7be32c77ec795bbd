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

/** A JPEG frame header (SOF0 by default, SOF2 is 0xc2) of `width` × `height`, one component. */
export function jpegFrameHeader(width: number, height: number, marker = 0xc0): number[] {
  const u16 = (n: number) => [n >> 8, n & 0xff]
  // Length 11, precision 8, the size, one component (id 1, sampling 1×1, quantisation table 0).
  return [0xff, marker, 0x00, 0x0b, 0x08, ...u16(height), ...u16(width), 0x01, 0x01, 0x11, 0x00]
}

/**
 * A JFIF-headed JPEG stream: SOI, APP0, a quantisation table, a baseline frame header (SOF0) of
 * `width` × `height` with one component, EOI. Portero checks a JPEG's start and end markers and
 * reads its frame header, not its scan data.
 */
export function jpeg(width = 1, height = 1): Uint8Array {
  const app0 = [
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x00,
  ]
  const dqt = [0xff, 0xdb, 0x00, 0x43, 0x00, ...Array.from({ length: 64 }, () => 1)]
  return Uint8Array.from([
    0xff,
    0xd8,
    ...app0,
    ...dqt,
    ...jpegFrameHeader(width, height),
    0xff,
    0xd9,
  ])
}

/**
 * A real 1×1 PNG whose IHDR is rewritten to declare `width` × `height` (its CRC no longer
 * matches).
 */
export function pngDeclaring(width: number, height: number): Uint8Array {
  const png = randomPng(1, 1)
  const view = new DataView(png.buffer, png.byteOffset)
  view.setUint32(16, width)
  view.setUint32(20, height)
  return png
}

/**
 * A GIF89a with a 2-colour table and one frame: a logical screen of `screen` and a frame at
 * `frame` (left, top, width, height). Its pixel data is a token; only the blocks are real.
 */
export function gif(screen: [number, number], frame: [number, number, number, number]): Uint8Array {
  const u16 = (n: number) => [n & 0xff, n >> 8]
  return Uint8Array.from([
    ...new TextEncoder().encode('GIF89a'),
    ...u16(screen[0]),
    ...u16(screen[1]),
    0x80,
    0x00,
    0x00,
    0,
    0,
    0,
    0xff,
    0xff,
    0xff,
    0x21,
    0xf9,
    0x04,
    0x01,
    0x00,
    0x00,
    0x00,
    0x00,
    0x2c,
    ...frame.flatMap(u16),
    0x00,
    0x02,
    0x02,
    0x44,
    0x01,
    0x00,
    0x3b,
  ])
}

/**
 * A WebP file of one chunk: `RIFF`, its size, `WEBP`, then `fourcc`, the data's size and `data`.
 */
export function webp(fourcc: string, data: number[]): Uint8Array {
  const padded = data.length % 2 ? [...data, 0] : data
  const bytes = new Uint8Array(20 + padded.length)
  const view = new DataView(bytes.buffer)
  bytes.set(new TextEncoder().encode(`RIFF....WEBP${fourcc}`))
  view.setUint32(4, bytes.length - 8, true)
  view.setUint32(16, data.length, true)
  bytes.set(padded, 20)
  return bytes
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
          ? (image.data[y * rowBytes + (x >> 3)]! >> (7 - (x & 7))) & 1
            ? 255
            : 0
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
