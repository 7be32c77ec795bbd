// Pictures of /Services parts (decisions.md D19): base64 checked by content (PNG, JPEG, GIF or WebP
// only), bounded in size, stored once per distinct content and published at an unguessable URL.
import { deriveFromPepper } from '../utils/pepper-keys.ts'
import { toHex } from '../encoding.ts'
import { AppError, fieldError } from '../errors.ts'
import {
  findPictureMeta,
  isWriteTooSoon,
  putPicture,
  type PictureMeta,
} from '../storage/pictures.ts'
import { epochSeconds } from '../utils/time.ts'

/** FCM's limit for a notification image (and far below KV's 25 MiB per value). */
export const MAX_PICTURE_BYTES = 1024 * 1024
/**
 * How long a stored picture stays served; storing it again refreshes it when it has < half left.
 */
export const PICTURE_TTL_SECONDS = 30 * 24 * 60 * 60

export const PICTURE_TYPES = {
  png: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
} as const

export type PictureExtension = keyof typeof PICTURE_TYPES
export type PictureType = (typeof PICTURE_TYPES)[PictureExtension]

/**
 * Pixel limits, read from the image's header. Phones decode what they are sent: the Firebase
 * Android SDK downloads a notification image of up to 1 MiB and decodes it whole into a bitmap
 * (4 bytes a pixel), and Android refuses to draw a bitmap over 100 MiB. A 1 MiB PNG may declare
 * 50,000 × 50,000 pixels (10 GB decoded), which crashes the app instead of showing a picture.
 * 16 megapixels is 64 MiB decoded, under that limit; 4096 px per side is the largest texture many
 * phone GPUs draw, and far more than a notification shows or an MMS carries (Twilio scales MMS
 * images down to the carriers' few hundred KB).
 */
export const MAX_PICTURE_SIDE = 4096
export const MAX_PICTURE_PIXELS = 16_000_000

/** A picture whose bytes were checked: one of the four formats, complete, at most 1 MiB. */
export type Picture = { bytes: Uint8Array; type: PictureType; ext: PictureExtension }

export type PictureSize = { width: number; height: number }

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/i
const DECLARED: Record<string, PictureExtension> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/jpg': 'jpg',
  'image/pjpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
}

const invalid = (path: string, message: string) => fieldError(path, message, `${path}: ${message}.`)

/**
 * Decodes a part's `picture`: base64, plain or as a `data:image/…;base64,` URL. Throws 400
 * `invalid_request` (not base64, truncated, not one of the four formats, a data URL whose type is
 * not its content's, or no readable size or one beyond MAX_PICTURE_SIDE / MAX_PICTURE_PIXELS) or
 * 413 `payload_too_large` (over `maxBytes` decoded).
 */
export function decodePicture(value: unknown, path: string, maxBytes = MAX_PICTURE_BYTES): Picture {
  if (typeof value !== 'string') throw invalid(path, 'must be a base64 string or a data: URL')
  let text = value
  let declared: PictureExtension | undefined
  const dataUrl = DATA_URL.exec(value)
  if (dataUrl) {
    const type = dataUrl[1]!.trim().toLowerCase()
    const params = dataUrl[2]!
      .toLowerCase()
      .split(';')
      .map((p) => p.trim())
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
    throw new AppError('payload_too_large', `${path} is larger than ${maxBytes} bytes decoded.`, {
      errors: [{ path, message: `larger than ${maxBytes} bytes` }],
    })
  }
  // RFC 4648 §4 with padding, validated as it decodes: 'strict' refuses a length that is not a
  // multiple of 4 (a truncated string) and non-zero bits after the last byte.
  let bytes: Uint8Array
  try {
    bytes = Uint8Array.fromBase64(text, { lastChunkHandling: 'strict' })
  } catch {
    throw invalid(path, 'is not valid base64 (or is truncated)')
  }
  const ext = sniffPicture(bytes)
  if (!ext) throw invalid(path, 'is not a complete PNG, JPEG, GIF or WebP image')
  if (declared && declared !== ext) {
    throw invalid(
      path,
      `is declared ${PICTURE_TYPES[declared]} but its content is ${PICTURE_TYPES[ext]}`,
    )
  }
  const dimensions = readPictureSize(bytes, ext)
  if (!dimensions) throw invalid(path, 'has no readable width and height in its header')
  const { width, height } = dimensions
  if (
    width > MAX_PICTURE_SIDE ||
    height > MAX_PICTURE_SIDE ||
    width * height > MAX_PICTURE_PIXELS
  ) {
    const limit =
      `at most ${MAX_PICTURE_SIDE} pixels a side and ` + `${MAX_PICTURE_PIXELS / 1e6} megapixels`
    throw invalid(path, `is ${width} × ${height} pixels: ${limit}`)
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
 * signature and IHDR and ends with IEND, a JPEG is SOI … EOI, a GIF ends with its trailer, a
 * WebP's RIFF size is its length. Anything else (HTML, SVG, a polyglot that does not start as an
 * image, a truncated file) is null.
 */
export function sniffPicture(bytes: Uint8Array): PictureExtension | null {
  if (
    startsWith(bytes, PNG_SIGNATURE) &&
    startsWith(bytes, ascii('IHDR'), 12) &&
    endsWith(bytes, PNG_IEND)
  ) {
    return 'png'
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff]) && endsWith(bytes, [0xff, 0xd9])) return 'jpg'
  if (
    (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) &&
    bytes.length > 13 &&
    endsWith(bytes, [0x3b])
  ) {
    return 'gif'
  }
  if (
    startsWith(bytes, ascii('RIFF')) &&
    startsWith(bytes, ascii('WEBPVP8'), 8) &&
    bytes.length >= 20
  ) {
    const riffSize = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true)
    // RIFF pads odd chunks: the size is the length less the 8-byte header.
    if (riffSize === bytes.length - 8) return 'webp'
  }
  return null
}

/**
 * The width and height an image declares, read from its header as a decoder would, or null when
 * the header does not say (a JPEG without a frame header, a WebP chunk that is none of VP8, VP8L,
 * VP8X) or says zero. For a GIF, the largest of its logical screen and the extent of every frame:
 * decoders grow the canvas to a frame that does not fit.
 */
export function readPictureSize(bytes: Uint8Array, ext: PictureExtension): PictureSize | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let size: PictureSize | null
  try {
    size = SIZE_READERS[ext](bytes, view)
  } catch (error) {
    // A header that runs past the end of the bytes.
    if (error instanceof RangeError) return null
    throw error
  }
  return size && size.width > 0 && size.height > 0 ? size : null
}

type SizeReader = (bytes: Uint8Array, view: DataView) => PictureSize | null

const SIZE_READERS: Record<PictureExtension, SizeReader> = {
  // PNG (RFC 2083 §4.1.1): IHDR is the first chunk, width and height its first two 32-bit fields.
  png: (_, view) => ({ width: view.getUint32(16), height: view.getUint32(20) }),
  jpg: readJpegSize,
  gif: readGifSize,
  webp: readWebpSize,
}

// JPEG (ITU-T T.81, table B.1): markers that stand alone, without a length.
const isStandaloneMarker = (marker: number) => marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)
// SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
const isFrameHeader = (marker: number) =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc

/** The first frame header's size, walking the marker segments from SOI up to the scan (SOS). */
function readJpegSize(bytes: Uint8Array, view: DataView): PictureSize | null {
  let at = 2
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) return null
    let marker = bytes[++at]!
    while (marker === 0xff) marker = bytes[++at]! // fill bytes before a marker (T.81 §B.1.1.2)
    at++
    if (isStandaloneMarker(marker)) {
      if (marker === 0xd9) return null // EOI before any frame
      continue
    }
    const length = view.getUint16(at)
    if (length < 2) return null
    // SOFn: length, sample precision, number of lines (height), samples per line (width).
    if (isFrameHeader(marker))
      return { width: view.getUint16(at + 5), height: view.getUint16(at + 3) }
    // The entropy-coded data follows SOS: a frame header after it would come too late to count.
    if (marker === 0xda) return null
    at += length
  }
  return null
}

/** GIF89a: the logical screen and every image descriptor, walking the blocks up to the trailer. */
function readGifSize(bytes: Uint8Array, view: DataView): PictureSize | null {
  let width = view.getUint16(6, true)
  let height = view.getUint16(8, true)
  const colorTable = (flags: number) => (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0)
  let at = 13 + colorTable(bytes[10]!)
  // Data sub-blocks: a length byte and that many bytes, until a zero length.
  const skipSubBlocks = () => {
    while (true) {
      const length = bytes[at++]
      if (length === undefined) throw new RangeError('GIF ends inside a block')
      if (length === 0) return
      at += length
    }
  }
  while (at < bytes.length) {
    const block = bytes[at++]
    if (block === 0x3b) return { width, height } // trailer
    if (block === 0x21) {
      at++ // extension label
      skipSubBlocks()
    } else if (block === 0x2c) {
      // Image descriptor: left, top, width, height (16-bit little-endian), flags.
      width = Math.max(width, view.getUint16(at, true) + view.getUint16(at + 4, true))
      height = Math.max(height, view.getUint16(at + 2, true) + view.getUint16(at + 6, true))
      at += 9 + colorTable(bytes[at + 8]!)
      at++ // LZW minimum code size
      skipSubBlocks()
    } else {
      return null
    }
  }
  return null
}

/**
 * WebP (RFC 9649): the first chunk after the RIFF header, the image's (VP8, VP8L) or canvas's
 * (VP8X).
 */
function readWebpSize(bytes: Uint8Array, view: DataView): PictureSize | null {
  const chunk = String.fromCharCode(...bytes.subarray(12, 16))
  const data = 20
  const uint24 = (at: number) => view.getUint16(at, true) | (view.getUint8(at + 2) << 16)
  switch (chunk) {
    // Extended format: canvas width − 1 and height − 1, 24 bits each, after 4 bytes of flags.
    case 'VP8X':
      return { width: uint24(data + 4) + 1, height: uint24(data + 7) + 1 }
    // Lossless: a 0x2F signature, then width − 1 and height − 1 in 14 bits each.
    case 'VP8L': {
      if (bytes[data] !== 0x2f) return null
      const bits = view.getUint32(data + 1, true)
      return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 }
    }
    // RFC 6386 §9.1: a key frame's 3-byte tag, start code 9D 01 2A, then 14-bit width and height.
    case 'VP8 ': {
      if (
        bytes[data]! & 1 ||
        bytes[data + 3] !== 0x9d ||
        bytes[data + 4] !== 0x01 ||
        bytes[data + 5] !== 0x2a
      ) {
        return null
      }
      return {
        width: view.getUint16(data + 6, true) & 0x3fff,
        height: view.getUint16(data + 8, true) & 0x3fff,
      }
    }
    default:
      return null
  }
}

export type PictureDeps = {
  cache: KVNamespace
  /** From derivePictureIdKey: makes the public id unguessable from the content. */
  idKey: CryptoKey
  /** The public origin (config ISSUER), which the picture URLs start with. */
  issuer: string
  now: Date
}

const PICTURE_ID_KEY_INFO = 'portero picture id key v1'

/**
 * The HMAC key of picture ids, derived from SECRET_PEPPER with HKDF-SHA-256 (RFC 5869) under a
 * label of its own. Picture ids are public: under the key that digests client secrets, anyone
 * could have the digest of a chosen input computed and published. Ids made before this key
 * existed stay served under their old URLs until they expire; the same content sent again is
 * stored once more under its new id.
 */
export function derivePictureIdKey(pepper: string): Promise<CryptoKey> {
  return deriveFromPepper(
    pepper,
    PICTURE_ID_KEY_INFO,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    ['sign'],
  )
}

/** The public id of content: HMAC of its SHA-256, so knowing an image does not find its URL. */
export async function pictureId(idKey: CryptoKey, contentSha256: string): Promise<string> {
  const data = new TextEncoder().encode(`portero picture v1\n${contentSha256}`)
  return toHex(await crypto.subtle.sign('HMAC', idKey, data))
}

export function pictureUrl(issuer: string, id: string, ext: PictureExtension): string {
  return `${issuer}/pictures/${id}.${ext}`
}

/**
 * A picture a request carries, and for a QR code the end of its ticket (seconds since the epoch).
 */
export type PictureToPublish = { picture: Picture; keepUntil?: number }

/**
 * A write publishPicture or storePictures makes: the content, for how long to keep it, and the
 * end of the QR code's ticket it must outlive, if it is one.
 */
export type PictureWrite = { id: string; picture: Picture; ttlSeconds: number; keepUntil?: number }

/**
 * Whether a stored copy serves as it is: at least half of the life asked for left, and not ending
 * before `keepUntil`. Otherwise writing the content again extends it.
 */
function storedLongEnough(
  stored: PictureMeta | null,
  nowSeconds: number,
  { ttlSeconds, keepUntil }: Pick<PictureWrite, 'ttlSeconds' | 'keepUntil'>,
): boolean {
  if (stored === null) return false
  const endsTooSoon = keepUntil !== undefined && stored.expiresAt < nowSeconds + ttlSeconds
  return stored.expiresAt - nowSeconds >= ttlSeconds / 2 && !endsTooSoon
}

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
  const nowSeconds = epochSeconds(deps.now)
  const wanted = await Promise.all(
    pictures.map(async ({ picture, keepUntil }) => {
      const id = await pictureId(
        deps.idKey,
        toHex(await crypto.subtle.digest('SHA-256', picture.bytes)),
      )
      const ttlSeconds = Math.min(PICTURE_TTL_SECONDS, (keepUntil ?? Infinity) - nowSeconds)
      return { id, picture, ttlSeconds, keepUntil }
    }),
  )
  // One read and at most one write per distinct content: the longest life asked for wins.
  const byId = new Map<string, (typeof wanted)[number]>()
  for (const w of wanted)
    if ((byId.get(w.id)?.ttlSeconds ?? -Infinity) < w.ttlSeconds) byId.set(w.id, w)
  const writes = await Promise.all(
    [...byId.values()].map(async ({ id, picture, ttlSeconds, keepUntil }) => {
      const stored = await findPictureMeta(deps.cache, id)
      const write = { id, picture, ttlSeconds, ...(keepUntil === undefined ? {} : { keepUntil }) }
      return storedLongEnough(stored, nowSeconds, write) ? [] : [write]
    }),
  )
  return {
    urls: wanted.map(({ id, picture }) => pictureUrl(deps.issuer, id, picture.ext)),
    writes: writes.flat(),
  }
}

/** KV takes one write a second to a key. */
const WRITE_INTERVAL_MS = 1000

/**
 * Makes the writes planPictures asked for, all at once: one KV round trip however many there are.
 * A write KV refuses because the key was just written (one write a second per key) succeeds when
 * the copy now stored serves: the key names the content, so requests carrying the same picture at
 * once all store the same bytes, and only the first write of the second lands.
 */
export async function storePictures(
  deps: Pick<PictureDeps, 'cache' | 'now'>,
  writes: PictureWrite[],
): Promise<void> {
  const nowSeconds = epochSeconds(deps.now)
  await Promise.all(
    writes.map(async (write) => {
      const { id, picture, ttlSeconds } = write
      const meta = { type: picture.type, expiresAt: nowSeconds + ttlSeconds }
      const put = () => putPicture(deps.cache, id, picture.bytes, meta, ttlSeconds)
      const storedAlready = async () => {
        const stored = await findPictureMeta(deps.cache, id)
        return stored?.type === picture.type && storedLongEnough(stored, nowSeconds, write)
      }
      try {
        await put()
      } catch (error) {
        if (!isWriteTooSoon(error)) throw error
        // KV shows a write at once in the location that made it, where this read runs. The write
        // that won may still be under way: a second later, when KV takes the next write to the
        // key, look again, then write.
        if (await storedAlready()) return
        await new Promise((resolve) => setTimeout(resolve, WRITE_INTERVAL_MS))
        if (!(await storedAlready())) await put()
      }
    }),
  )
}

/** Stores one picture as planPictures and storePictures do, and returns its public URL. */
export async function publishPicture(
  deps: PictureDeps,
  picture: Picture,
  keepUntil?: number,
): Promise<string> {
  const { urls, writes } = await planPictures(deps, [{ picture, keepUntil }])
  await storePictures(deps, writes)
  return urls[0]!
}

/** A picture's SHA-256: what the idempotency hash of a request holds instead of its bytes. */
export async function pictureDigest(picture: Picture): Promise<string> {
  return `${picture.type};sha256=${toHex(await crypto.subtle.digest('SHA-256', picture.bytes))}`
}
