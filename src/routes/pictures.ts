// GET /pictures/{id}.{ext}: the pictures of /Services parts, public at unguessable URLs (issue 9).
import { Hono } from 'hono'
import type { AppEnv } from '../http/app-env.ts'
import { PICTURE_TYPES, type PictureExtension } from '../domain/pictures.ts'
import { AppError } from '../errors.ts'
import { findPicture } from '../storage/pictures.ts'

export const pictures = new Hono<AppEnv>()

const FILE = /^([0-9a-f]{64})\.(png|jpg|gif|webp)$/

pictures.get('/:file', async (c) => {
  const file = c.req.param('file')
  const match = FILE.exec(file)
  const now = new Date()
  const stored = match ? await findPicture(c.env.CACHE, match[1]!, now) : null
  const ext = match?.[2] as PictureExtension | undefined
  // The extension is part of the URL: the same id with another one is not this picture.
  if (!stored || !ext || stored.meta.type !== PICTURE_TYPES[ext]) {
    await stored?.body.cancel()
    throw new AppError(404, 'not_found', 'No such picture (it may have expired).')
  }
  const maxAge = Math.max(0, stored.meta.expiresAt - Math.floor(now.getTime() / 1000))
  return c.body(stored.body, 200, {
    'content-type': stored.meta.type,
    'cache-control': `public, max-age=${maxAge}, immutable`,
    etag: `"${match![1]}"`,
    // The bytes were checked to be an image of this type; nothing may treat them as anything else.
    'x-content-type-options': 'nosniff',
    'content-disposition': `inline; filename="${file}"`,
    'content-security-policy': "default-src 'none'; sandbox",
    'cross-origin-resource-policy': 'cross-origin',
  })
})
