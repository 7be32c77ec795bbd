// Pictures checked by content: the four formats, data URLs, truncation, size, and storage once.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  decodePicture,
  MAX_PICTURE_BYTES,
  pictureId,
  planPictures,
  publishPicture,
  sniffPicture,
  storePictures,
} from '../../src/domain/pictures.ts'
import { importPepper } from '../../src/domain/secrets.ts'
import { AppError } from '../../src/errors.ts'
import { GIF, jpeg, randomPng, toBase64, WEBP } from '../helpers/pictures.ts'

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
    expect(error.extra.errors).toEqual([{ path: PATH, message: expect.stringMatching(/declared image\/jpeg/) }])
  })

  it('refuses truncated base64 and a truncated image', () => {
    const text = toBase64(randomPng())
    expect(refusal(text.slice(0, -1))).toMatchObject({ status: 400, code: 'invalid_request' })
    expect(refusal(text.slice(0, -2))).toMatchObject({ status: 400 })
    // Cut at a multiple of 4: valid base64, but the PNG has lost its IEND.
    expect(refusal(text.slice(0, (text.length >> 2) * 4 - 8))).toMatchObject({ status: 400 })
    expect(refusal('not base64!')).toMatchObject({ status: 400 })
  })

  it('accepts 1 MiB and refuses 1 MiB + 1 byte with 413 payload_too_large', () => {
    expect(decodePicture(toBase64(pngOfSize(MAX_PICTURE_BYTES)), PATH).bytes.length).toBe(MAX_PICTURE_BYTES)
    const error = refusal(toBase64(pngOfSize(MAX_PICTURE_BYTES + 1)))
    expect(error).toMatchObject({ status: 413, code: 'payload_too_large' })
  })

  it('refuses HTML, SVG and polyglots that do not start as an image', () => {
    const html = new TextEncoder().encode('<html><script>alert(1)</script></html>')
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
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
    const pepper = await importPepper(env.SECRET_PEPPER)
    const { kv, values, puts } = countingKv()
    const deps = { cache: kv, pepper, issuer: 'https://portero.test', now: new Date() }
    const png = randomPng()
    const picture = decodePicture(toBase64(png), PATH)
    const first = await publishPicture(deps, picture)
    const second = await publishPicture(deps, decodePicture(toBase64(png), PATH))
    expect(second).toBe(first)
    expect(puts()).toBe(1)

    const sha256 = [...new Uint8Array(await crypto.subtle.digest('SHA-256', png))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
    const id = await pictureId(pepper, sha256)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(id).not.toBe(sha256)
    expect(first).toBe(`https://portero.test/pictures/${id}.png`)
    expect([...values.keys()]).toEqual([`picture:${id}`])
  })

  it('writes again content that has less than half its life left', async () => {
    const pepper = await importPepper(env.SECRET_PEPPER)
    const { kv, puts } = countingKv()
    const picture = decodePicture(toBase64(randomPng()), PATH)
    const start = new Date('2026-01-01T00:00:00Z')
    await publishPicture({ cache: kv, pepper, issuer: 'https://p.test', now: start }, picture)
    const later = new Date(start.getTime() + 16 * 24 * 3600 * 1000)
    await publishPicture({ cache: kv, pepper, issuer: 'https://p.test', now: later }, picture)
    expect(puts()).toBe(2)
  })

  it('plans one write for the same content in two parts, and writes nothing until asked', async () => {
    const pepper = await importPepper(env.SECRET_PEPPER)
    const { kv, puts } = countingKv()
    const deps = { cache: kv, pepper, issuer: 'https://p.test', now: new Date() }
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
})
