// Pictures of /Services parts (issue 9): base64 checked by content (PNG, JPEG, GIF or WebP only),
// bounded in size, stored once per distinct content and published at an unguessable URL.
import { toHex } from '../encoding.ts'
import { AppError } from '../errors.ts'
import { findPictureMeta, putPicture } from '../storage/pictures.ts'

/** FCM's limit for a notification image (and far below KV's 25 MiB per value). */
export const MAX_PICTURE_BYTES = 1024 * 1024
/** How long a stored picture stays served; storing it again refreshes it when it has < half left. */
export const PICTURE_TTL_SECONDS = 30 * 24 * 60 * 60

export const PICTURE_TYPES = {
  png: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
} as const

export type PictureExtension = keyof typeof PICTURE_TYPES
export type PictureType = (typeof PICTURE_TYPES)[PictureExtension]

/** A picture whose bytes were checked: one of the four formats, complete, at most 1 MiB. */
export type Picture = { bytes: Uint8Array; type: PictureType; ext: PictureExtension }

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/i
// RFC 4648 §4 with padding: a length that is not a multiple of 4 is a truncated string.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const DECLARED: Record<string, PictureExtension> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/jpg': 'jpg',
  'image/pjpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
}

function invalid(path: string, message: string): AppError {
  return new AppError(400, 'invalid_request', `${path}: ${message}.`, { errors: [{ path, message }] })
}

/**
 * Decodes a part's `picture`: base64, plain or as a `data:image/…;base64,` URL. Throws 400
 * `invalid_request` (not base64, truncated, not one of the four formats, or a data URL whose type
 * is not its content's) or 413 `payload_too_large` (over `maxBytes` decoded).
 */
export function decodePicture(value: unknown, path: string, maxBytes = MAX_PICTURE_BYTES): Picture {
  if (typeof value !== 'string') throw invalid(path, 'must be a base64 string or a data: URL')
  let text = value
  let declared: PictureExtension | undefined
  const dataUrl = DATA_URL.exec(value)
  if (dataUrl) {
    const type = dataUrl[1]!.trim().toLowerCase()
    const params = dataUrl[2]!.toLowerCase().split(';').map((p) => p.trim())
    if (!params.includes('base64')) throw invalid(path, 'a data: URL must be base64 (;base64,)')
    declared = DECLARED[type]
    if (!declared) throw invalid(path, `type ${JSON.stringify(type)} is not PNG, JPEG, GIF or WebP`)
    text = value.slice(dataUrl[0].length)
  }
  // Line breaks are common in base64 (MIME wraps at 76): they carry nothing.
  text = text.replace(/[\r\n\t ]+/g, '')
  if (text === '') throw invalid(path, 'must not be empty')
  // Size from the length first, so an oversized picture is never decoded.
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const size = Math.floor(text.length / 4) * 3 - padding
  if (size > maxBytes) {
    throw new AppError(413, 'payload_too_large', `${path} is larger than ${maxBytes} bytes decoded.`, {
      errors: [{ path, message: `larger than ${maxBytes} bytes` }],
    })
  }
  if (!BASE64.test(text)) throw invalid(path, 'is not valid base64 (or is truncated)')
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
  const ext = sniffPicture(bytes)
  if (!ext) throw invalid(path, 'is not a complete PNG, JPEG, GIF or WebP image')
  if (declared && declared !== ext) {
    throw invalid(path, `is declared ${PICTURE_TYPES[declared]} but its content is ${PICTURE_TYPES[ext]}`)
  }
  return { bytes, type: PICTURE_TYPES[ext], ext }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
// The IEND chunk: length 0, type, CRC. Every complete PNG ends with these 12 bytes.
const PNG_IEND = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0))

function startsWith(bytes: Uint8Array, prefix: number[], at = 0): boolean {
  return bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b)
}

function endsWith(bytes: Uint8Array, suffix: number[]): boolean {
  return startsWith(bytes, suffix, bytes.length - suffix.length)
}

/**
 * The format of a complete image, from its leading bytes and its end: a PNG starts with its
 * signature and IHDR and ends with IEND, a JPEG is SOI … EOI, a GIF ends with its trailer, a WebP's
 * RIFF size is its length. Anything else (HTML, SVG, a polyglot that does not start as an image, a
 * truncated file) is null.
 */
export function sniffPicture(bytes: Uint8Array): PictureExtension | null {
  if (startsWith(bytes, PNG_SIGNATURE) && startsWith(bytes, ascii('IHDR'), 12) && endsWith(bytes, PNG_IEND)) {
    return 'png'
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff]) && endsWith(bytes, [0xff, 0xd9])) return 'jpg'
  if ((startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) && bytes.length > 13 && endsWith(bytes, [0x3b])) {
    return 'gif'
  }
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBPVP8'), 8) && bytes.length >= 20) {
    const riffSize = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true)
    // RIFF pads odd chunks: the size is the length less the 8-byte header.
    if (riffSize === bytes.length - 8) return 'webp'
  }
  return null
}

export type PictureDeps = {
  cache: KVNamespace
  /** The deployment's HMAC pepper: makes the public id unguessable from the content. */
  pepper: CryptoKey
  /** The public origin (config ISSUER), which the picture URLs start with. */
  issuer: string
  now: Date
}

/** The public id of content: HMAC of its SHA-256, so knowing an image does not find its URL. */
export async function pictureId(pepper: CryptoKey, contentSha256: string): Promise<string> {
  const data = new TextEncoder().encode(`portero picture v1\n${contentSha256}`)
  return toHex(await crypto.subtle.sign('HMAC', pepper, data))
}

export function pictureUrl(issuer: string, id: string, ext: PictureExtension): string {
  return `${issuer}/pictures/${id}.${ext}`
}

/** A picture a request carries, and for a QR code the end of its ticket (seconds since the epoch). */
export type PictureToPublish = { picture: Picture; keepUntil?: number }

/** A write publishPicture or storePictures makes: the content, and for how long to keep it. */
export type PictureWrite = { id: string; picture: Picture; ttlSeconds: number }

/**
 * Where each picture will be published (`urls`, in the order given) and what must be written for
 * that (`writes`), reading KV once per distinct content and writing nothing: a caller stores the
 * writes with storePictures once it knows the request is accepted. A picture is kept for
 * PICTURE_TTL_SECONDS; one with `keepUntil` (a QR code) until then, if that is sooner. Content
 * already stored with at least half that life left, and not ending before `keepUntil`, needs no
 * write; otherwise writing it again extends it.
 */
export async function planPictures(
  deps: PictureDeps,
  pictures: PictureToPublish[],
): Promise<{ urls: string[]; writes: PictureWrite[] }> {
  const nowSeconds = Math.floor(deps.now.getTime() / 1000)
  const wanted = await Promise.all(
    pictures.map(async ({ picture, keepUntil }) => {
      const id = await pictureId(deps.pepper, toHex(await crypto.subtle.digest('SHA-256', picture.bytes)))
      const ttlSeconds = Math.min(PICTURE_TTL_SECONDS, (keepUntil ?? Infinity) - nowSeconds)
      return { id, picture, ttlSeconds, keepUntil }
    }),
  )
  // One read and at most one write per distinct content: the longest life asked for wins.
  const byId = new Map<string, (typeof wanted)[number]>()
  for (const w of wanted) if ((byId.get(w.id)?.ttlSeconds ?? -Infinity) < w.ttlSeconds) byId.set(w.id, w)
  const writes = await Promise.all(
    [...byId.values()].map(async ({ id, picture, ttlSeconds, keepUntil }) => {
      const stored = await findPictureMeta(deps.cache, id)
      const endsTooSoon = stored !== null && keepUntil !== undefined && stored.expiresAt < nowSeconds + ttlSeconds
      const fresh = stored !== null && stored.expiresAt - nowSeconds >= ttlSeconds / 2 && !endsTooSoon
      return fresh ? [] : [{ id, picture, ttlSeconds }]
    }),
  )
  return {
    urls: wanted.map(({ id, picture }) => pictureUrl(deps.issuer, id, picture.ext)),
    writes: writes.flat(),
  }
}

/** Makes the writes planPictures asked for, all at once: one KV round trip however many there are. */
export async function storePictures(deps: Pick<PictureDeps, 'cache' | 'now'>, writes: PictureWrite[]): Promise<void> {
  const nowSeconds = Math.floor(deps.now.getTime() / 1000)
  await Promise.all(
    writes.map(({ id, picture, ttlSeconds }) =>
      putPicture(deps.cache, id, picture.bytes, { type: picture.type, expiresAt: nowSeconds + ttlSeconds }, ttlSeconds),
    ),
  )
}

/** Stores one picture as planPictures and storePictures do, and returns its public URL. */
export async function publishPicture(deps: PictureDeps, picture: Picture, keepUntil?: number): Promise<string> {
  const { urls, writes } = await planPictures(deps, [{ picture, keepUntil }])
  await storePictures(deps, writes)
  return urls[0]!
}

/** A picture's SHA-256: what the idempotency hash of a request holds instead of its bytes. */
export async function pictureDigest(picture: Picture): Promise<string> {
  return `${picture.type};sha256=${toHex(await crypto.subtle.digest('SHA-256', picture.bytes))}`
}
