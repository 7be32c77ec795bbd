// PNG files (ISO/IEC 15948, RFC 2083) of greyscale images, compressed with the platform's own
// CompressionStream: its "deflate" format is the zlib stream (RFC 1950) a PNG's image data is.

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** A greyscale image: `depth` bits a pixel, each row starting on a byte. */
export type GreyscaleImage = { width: number; height: number; depth: 1 | 8; data: Uint8Array }

/** The image as a PNG file: IHDR, one IDAT, IEND. */
export async function encodeGreyscalePng(image: GreyscaleImage): Promise<Uint8Array> {
  const { width, height, depth, data } = image
  const rowBytes = Math.ceil((width * depth) / 8)
  if (data.length !== rowBytes * height) throw new Error('image data does not match its size')
  // Each row is preceded by its filter type: 0, none.
  const rows = new Uint8Array((rowBytes + 1) * height)
  for (let y = 0; y < height; y++) {
    rows.set(data.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1)
  }
  const header = new Uint8Array(13)
  const view = new DataView(header.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  // Bit depth, colour type 0 (greyscale), compression 0, filter 0, interlace 0.
  header.set([depth, 0, 0, 0, 0], 8)
  const compressed = await new Response(
    new Blob([rows]).stream().pipeThrough(new CompressionStream('deflate')),
  ).arrayBuffer()
  const chunks = [
    chunk('IHDR', header),
    chunk('IDAT', new Uint8Array(compressed)),
    chunk('IEND', new Uint8Array()),
  ]
  const file = new Uint8Array(8 + chunks.reduce((sum, c) => sum + c.length, 0))
  file.set(SIGNATURE)
  let at = 8
  for (const c of chunks) {
    file.set(c, at)
    at += c.length
  }
  return file
}

/** Length, type, data and the CRC-32 of type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(12 + data.length)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, data.length)
  for (let i = 0; i < 4; i++) bytes[4 + i] = type.charCodeAt(i)
  bytes.set(data, 8)
  view.setUint32(8 + data.length, crc32(bytes.subarray(4, 8 + data.length)))
  return bytes
}

let table: Uint32Array | undefined

/** CRC-32 (ISO 3309), as PNG's chunks carry it. */
function crc32(bytes: Uint8Array): number {
  table ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  let crc = 0xffffffff
  for (const byte of bytes) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
