// Small images of each accepted format, as bytes and base64, for the picture tests.
import { encode } from 'fast-png'

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
