// Pictures checked by content: the four formats, data URLs, truncation, size, and storage once.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  decodePicture,
  derivePictureIdKey,
  MAX_PICTURE_BYTES,
  pictureId,
  planPictures,
  publishPicture,
  readPictureSize,
  sniffPicture,
  storePictures,
} from '../../src/domain/pictures.ts'
import { digestClientSecret, importPepper } from '../../src/domain/secrets.ts'
import { AppError } from '../../src/errors.ts'
import {
  jpegFrameHeader,
  gif,
  GIF,
  jpeg,
  pngDeclaring,
  randomPng,
  toBase64,
  webp,
  WEBP,
} from '../helpers/pictures.ts'
import { countRoundTrips } from '../helpers/round-trips.ts'

const PATH = 'parameters.advertisement.picture'

function refusal(value: unknown): AppError {
  try {
    decodePicture(value, PATH)
  } catch (error) {
    expect(error).toBeInstanceOf(AppError)
    return error as AppError
  }
  throw new Error('the picture was accepted')
}

/** A PNG of exactly `size` bytes: a real PNG with a private ancillary chunk before IEND. */
function pngOfSize(size: number): Uint8Array {
  const png = randomPng(1, 1)
  const padding = size - png.length - 12
  const chunk = new Uint8Array(12 + padding)
  new DataView(chunk.buffer).setUint32(0, padding)
  chunk.set([0x70, 0x72, 0x56, 0x74], 4) // "prVt": ancillary, private, ignored by decoders
  const out = new Uint8Array(size)
  out.set(png.subarray(0, png.length - 12))
  out.set(chunk, png.length - 12)
  out.set(png.subarray(png.length - 12), png.length - 12 + chunk.length)
  return out
}

describe('decodePicture', () => {
  const formats = [
    { name: 'PNG', bytes: randomPng(), type: 'image/png', ext: 'png' },
    { name: 'JPEG', bytes: jpeg(), type: 'image/jpeg', ext: 'jpg' },
    { name: 'GIF', bytes: GIF, type: 'image/gif', ext: 'gif' },
    { name: 'WebP', bytes: WEBP, type: 'image/webp', ext: 'webp' },
  ] as const

  for (const { name, bytes, type, ext } of formats) {
    it(`accepts a ${name} as plain base64 and as a data URL of its type`, () => {
      for (const text of [toBase64(bytes), `data:${type};base64,${toBase64(bytes)}`]) {
        const picture = decodePicture(text, PATH)
        expect(picture).toMatchObject({ type, ext })
        expect(picture.bytes).toEqual(bytes)
      }
    })
  }

  it('accepts base64 wrapped over lines', () => {
    const text = toBase64(randomPng(16, 16)).replace(/(.{76})/g, '$1\r\n')
    expect(decodePicture(text, PATH).type).toBe('image/png')
  })

  it('refuses a PNG declared as JPEG', () => {
    const error = refusal(`data:image/jpeg;base64,${toBase64(randomPng())}`)
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' })
    expect(error.options.errors).toEqual([
      { path: PATH, message: expect.stringMatching(/declared image\/jpeg/) },
    ])
  })

  it('refuses truncated base64 and a truncated image', () => {
    const text = toBase64(randomPng())
    expect(refusal(text.slice(0, -1))).toMatchObject({ status: 400, code: 'invalid_request' })
    expect(refusal(text.slice(0, -2))).toMatchObject({ status: 400 })
    // Cut at a multiple of 4: valid base64, but the PNG has lost its IEND.
    expect(refusal(text.slice(0, (text.length >> 2) * 4 - 8))).toMatchObject({ status: 400 })
    expect(refusal('not base64!')).toMatchObject({ status: 400 })
    // Bits after the last byte: not what an encoder writes (RFC 4648 §3.5).
    expect(refusal('YR==').options.errors).toEqual([
      { path: PATH, message: 'is not valid base64 (or is truncated)' },
    ])
  })

  it('accepts 1 MiB and refuses 1 MiB + 1 byte with 413 payload_too_large', () => {
    expect(decodePicture(toBase64(pngOfSize(MAX_PICTURE_BYTES)), PATH).bytes.length).toBe(
      MAX_PICTURE_BYTES,
    )
    const error = refusal(toBase64(pngOfSize(MAX_PICTURE_BYTES + 1)))
    expect(error).toMatchObject({ status: 413, code: 'payload_too_large' })
  })

  it('refuses HTML, SVG and polyglots that do not start as an image', () => {
    const html = new TextEncoder().encode('<html><script>alert(1)</script></html>')
    const svg = new TextEncoder().encode(
      '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    )
    // A GIF after HTML: browsers sniffing for HTML would run it; Portero sees no GIF at the start.
    const polyglot = Uint8Array.from([...new TextEncoder().encode('<html><!--'), ...GIF])
    for (const bytes of [html, svg, polyglot]) {
      expect(refusal(toBase64(bytes))).toMatchObject({ status: 400, code: 'invalid_request' })
    }
    expect(refusal(`data:image/svg+xml;base64,${toBase64(svg)}`)).toMatchObject({ status: 400 })
    expect(refusal(`data:text/html;base64,${toBase64(html)}`)).toMatchObject({ status: 400 })
    expect(refusal(`data:image/png,${toBase64(randomPng())}`)).toMatchObject({ status: 400 })
    expect(refusal(42)).toMatchObject({ status: 400 })
  })

  it('sniffs only complete files', () => {
    const png = randomPng()
    expect(sniffPicture(png)).toBe('png')
    expect(sniffPicture(png.subarray(0, png.length - 1))).toBeNull()
    expect(sniffPicture(jpeg().subarray(0, 40))).toBeNull()
    expect(sniffPicture(GIF.subarray(0, GIF.length - 1))).toBeNull()
    expect(sniffPicture(WEBP.subarray(0, WEBP.length - 2))).toBeNull()
  })
})

describe('readPictureSize', () => {
  const SOI = [0xff, 0xd8]
  const EOI = [0xff, 0xd9]
  const sof = jpegFrameHeader
  const bytes = (...parts: number[][]) => Uint8Array.from(parts.flat())

  it('reads a PNG’s IHDR', () => {
    expect(readPictureSize(randomPng(3, 5), 'png')).toEqual({ width: 3, height: 5 })
    expect(readPictureSize(pngDeclaring(50_000, 50_000), 'png')).toEqual({
      width: 50_000,
      height: 50_000,
    })
    expect(readPictureSize(pngDeclaring(0, 5), 'png')).toBeNull()
  })

  it('reads a JPEG’s frame header, walking the segments before it', () => {
    expect(readPictureSize(jpeg(640, 480), 'jpg')).toEqual({ width: 640, height: 480 })
    // Progressive (SOF2) is a frame header too.
    expect(readPictureSize(bytes(SOI, sof(800, 600, 0xc2), EOI), 'jpg')).toEqual({
      width: 800,
      height: 600,
    })
    // A Huffman table (C4, in the SOFn range) is skipped by its length, not read as a frame.
    const dht = [0xff, 0xc4, 0x00, 0x03, 0x00]
    expect(readPictureSize(bytes(SOI, dht, sof(10, 20), EOI), 'jpg')).toEqual({
      width: 10,
      height: 20,
    })
    // Fill bytes (FF) before a marker.
    expect(readPictureSize(bytes(SOI, [0xff, 0xff], sof(7, 9), EOI), 'jpg')).toEqual({
      width: 7,
      height: 9,
    })
  })

  it('finds no size in a JPEG without a frame header before its scan', () => {
    const app0 = [0xff, 0xe0, 0x00, 0x04, 0x00, 0x00]
    const sos = [0xff, 0xda, 0x00, 0x02]
    expect(readPictureSize(bytes(SOI, app0, EOI), 'jpg')).toBeNull()
    expect(readPictureSize(bytes(SOI, sos, sof(10, 20), EOI), 'jpg')).toBeNull()
    // A segment length that runs past the end.
    expect(readPictureSize(bytes(SOI, [0xff, 0xe0, 0x40, 0x00], EOI), 'jpg')).toBeNull()
  })

  it('reads a GIF’s logical screen, grown to any frame that does not fit in it', () => {
    expect(readPictureSize(GIF, 'gif')).toEqual({ width: 1, height: 1 })
    expect(readPictureSize(gif([10, 20], [0, 0, 10, 20]), 'gif')).toEqual({ width: 10, height: 20 })
    expect(readPictureSize(gif([1, 1], [0, 0, 5000, 2]), 'gif')).toEqual({ width: 5000, height: 2 })
    expect(readPictureSize(gif([1, 1], [65_535, 0, 1, 1]), 'gif')).toEqual({
      width: 65_536,
      height: 1,
    })
  })

  it('reads a WebP’s VP8L, VP8X and VP8 headers', () => {
    expect(readPictureSize(WEBP, 'webp')).toEqual({ width: 1, height: 1 })
    // VP8L: width − 1 and height − 1 in 14 bits each after the 0x2F signature.
    expect(readPictureSize(webp('VP8L', [0x2f, 0x02, 0x00, 0x01, 0x00, 0x00]), 'webp')).toEqual({
      width: 3,
      height: 5,
    })
    expect(readPictureSize(webp('VP8L', [0x2f, 0xff, 0xff, 0xff, 0x0f, 0x00]), 'webp')).toEqual({
      width: 16_384,
      height: 16_384,
    })
    expect(readPictureSize(webp('VP8L', [0x00, 0x02, 0x00, 0x01, 0x00, 0x00]), 'webp')).toBeNull()
    // VP8X: the canvas, 24 bits each (minus one), after 4 bytes of flags.
    const vp8x = [0x00, 0x00, 0x00, 0x00, 0x87, 0x13, 0x00, 0xb7, 0x0b, 0x00]
    expect(readPictureSize(webp('VP8X', vp8x), 'webp')).toEqual({ width: 5000, height: 3000 })
    // VP8 key frame: a 3-byte tag, 9D 01 2A, then 14-bit width and height.
    const keyFrame = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x10, 0x01, 0x00]
    expect(readPictureSize(webp('VP8 ', keyFrame), 'webp')).toEqual({ width: 4097, height: 1 })
    const interFrame = [0x11, ...keyFrame.slice(1)]
    expect(readPictureSize(webp('VP8 ', interFrame), 'webp')).toBeNull()
    expect(readPictureSize(webp('VP8Q', keyFrame), 'webp')).toBeNull()
  })
})

describe('decodePicture: pixel limits', () => {
  it('accepts up to 4096 pixels a side and 16 megapixels', () => {
    // 15,998,976 pixels
    expect(decodePicture(toBase64(pngDeclaring(4096, 3906)), PATH).type).toBe('image/png')
    expect(decodePicture(toBase64(pngDeclaring(1, 4096)), PATH).type).toBe('image/png')
  })

  it.each([
    ['a PNG of 50,000 × 50,000', () => pngDeclaring(50_000, 50_000), '50000 × 50000'],
    ['a PNG 4097 pixels wide', () => pngDeclaring(4097, 1), '4097 × 1'],
    ['a PNG of 4096 × 3907 (over 16 megapixels)', () => pngDeclaring(4096, 3907), '4096 × 3907'],
    ['a JPEG 5000 pixels wide', () => jpeg(5000, 10), '5000 × 10'],
    ['a GIF whose frame outgrows its 1 × 1 screen', () => gif([1, 1], [0, 0, 5000, 1]), '5000 × 1'],
    [
      'a WebP canvas of 5000 × 3000',
      () => webp('VP8X', [0, 0, 0, 0, 0x87, 0x13, 0, 0xb7, 0x0b, 0]),
      '5000 × 3000',
    ],
  ])('refuses %s with 400 naming the field', (_, image, size) => {
    const error = refusal(toBase64(image()))
    expect(error).toMatchObject({ status: 400, code: 'invalid_request' })
    expect(error.options.errors).toEqual([
      { path: PATH, message: `is ${size} pixels: at most 4096 pixels a side and 16 megapixels` },
    ])
  })

  it('refuses an image whose header gives no size', () => {
    const noFrame = Uint8Array.from([...jpeg().subarray(0, -15), 0xff, 0xd9])
    const error = refusal(toBase64(noFrame))
    expect(error.options.errors).toEqual([
      { path: PATH, message: 'has no readable width and height in its header' },
    ])
  })
})

/** A KV namespace that counts writes. */
function countingKv() {
  const values = new Map<string, { value: Uint8Array; metadata: unknown }>()
  let puts = 0
  const kv = {
    async put(key: string, value: Uint8Array, options: { metadata: unknown }) {
      puts++
      values.set(key, { value, metadata: options.metadata })
    },
    async getWithMetadata(key: string) {
      const entry = values.get(key)
      return entry
        ? { value: new Blob([entry.value]).stream(), metadata: entry.metadata }
        : { value: null, metadata: null }
    },
  }
  return { kv: kv as unknown as KVNamespace, values, puts: () => puts }
}

describe('publishPicture', () => {
  it('stores the same content once, under an HMAC id, and gives one URL', async () => {
    const idKey = await derivePictureIdKey(env.SECRET_PEPPER)
    const { kv, values, puts } = countingKv()
    const deps = { cache: kv, idKey, issuer: 'https://portero.test', now: new Date() }
    const png = randomPng()
    const picture = decodePicture(toBase64(png), PATH)
    const first = await publishPicture(deps, picture)
    const second = await publishPicture(deps, decodePicture(toBase64(png), PATH))
    expect(second).toBe(first)
    expect(puts()).toBe(1)

    const sha256 = [...new Uint8Array(await crypto.subtle.digest('SHA-256', png))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
    const id = await pictureId(idKey, sha256)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(id).not.toBe(sha256)
    expect(first).toBe(`https://portero.test/pictures/${id}.png`)
    expect([...values.keys()]).toEqual([`picture:${id}`])
  })

  it('writes again content that has less than half its life left', async () => {
    const idKey = await derivePictureIdKey(env.SECRET_PEPPER)
    const { kv, puts } = countingKv()
    const picture = decodePicture(toBase64(randomPng()), PATH)
    const start = new Date('2026-01-01T00:00:00Z')
    await publishPicture({ cache: kv, idKey, issuer: 'https://p.test', now: start }, picture)
    const later = new Date(start.getTime() + 16 * 24 * 3600 * 1000)
    await publishPicture({ cache: kv, idKey, issuer: 'https://p.test', now: later }, picture)
    expect(puts()).toBe(2)
  })

  it('plans one write for the same content in two parts, and writes nothing until asked', async () => {
    const idKey = await derivePictureIdKey(env.SECRET_PEPPER)
    const { kv, puts } = countingKv()
    const deps = { cache: kv, idKey, issuer: 'https://p.test', now: new Date() }
    const png = toBase64(randomPng())
    const parts = [{ picture: decodePicture(png, PATH) }, { picture: decodePicture(png, PATH) }]
    const { urls, writes } = await planPictures(deps, parts)
    expect(urls[1]).toBe(urls[0])
    expect(writes).toHaveLength(1)
    expect(puts()).toBe(0)
    await storePictures(deps, writes)
    expect(puts()).toBe(1)
    expect((await planPictures(deps, parts)).writes).toEqual([])
  })

  it('fails when KV refuses the writes as too soon and no stored copy serves', async () => {
    const idKey = await derivePictureIdKey(env.SECRET_PEPPER)
    // The real binding, every picture write refused as KV refuses a second write within a second.
    const counter = countRoundTrips(env, {
      before(call) {
        if (call.name === 'kv.put') throw new Error('KV PUT failed: 429 Too Many Requests')
      },
    })
    const deps = { cache: counter.env.CACHE, idKey, issuer: 'https://p.test', now: new Date() }
    const { writes } = await planPictures(deps, [
      { picture: decodePicture(toBase64(randomPng()), PATH) },
    ])
    await expect(storePictures(deps, writes)).rejects.toThrow(/429/)
    // Refused, looked up, looked up again a second later, written once more.
    expect(counter.calls().filter((c) => c.startsWith('kv.'))).toEqual([
      'kv.getWithMetadata',
      'kv.put',
      'kv.getWithMetadata',
      'kv.getWithMetadata',
      'kv.put',
    ])
  })
})

describe('derivePictureIdKey', () => {
  it('keys picture ids apart from client-secret digests, by HKDF from the pepper', async () => {
    const sha256 = 'ab'.repeat(32)
    const id = await pictureId(await derivePictureIdKey(env.SECRET_PEPPER), sha256)
    // The very bytes the id is an HMAC of, digested as a client secret would be.
    const asSecret = await digestClientSecret(
      await importPepper(env.SECRET_PEPPER),
      `portero picture v1\n${sha256}`,
    )
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(id).not.toBe(asSecret)
    // Still a function of the pepper: another deployment's ids differ.
    const other = await derivePictureIdKey('A'.repeat(43))
    expect(await pictureId(other, sha256)).not.toBe(id)
    expect(await pictureId(await derivePictureIdKey(env.SECRET_PEPPER), sha256)).toBe(id)
  })
})
