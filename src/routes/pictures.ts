// GET /pictures/{id}.{ext}: the pictures of /Services parts, public at unguessable URLs
// (decisions.md D19).
import * as z from 'zod'
import { PICTURE_TYPES, type PictureExtension } from '../domain/pictures.ts'
import { notFound } from '../errors.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { problems, SECURITY } from '../openapi/operations.ts'
import { findPicture } from '../storage/pictures.ts'
import { epochSeconds } from '../utils/time.ts'

export const pictures = new OpenApiApp()

const FILE = /^([0-9a-f]{64})\.(png|jpg|gif|webp)$/
const NO_PICTURE = 'No such picture (it may have expired).'
const File = z
  .string()
  .regex(FILE, NO_PICTURE)
  .meta({ description: "The picture's file name: `{id}.{ext}`." })

const picture = createRoute({
  method: 'get',
  path: '/{file}',
  operationId: 'getPicture',
  tags: ['Dispatch'],
  summary: 'A picture sent with a message',
  description:
    'The picture or QR code of a /Services part, at the URL sent to FCM (`notification.image`) ' +
    'or Twilio (`MediaUrl`): `{id}.{ext}`, where the id is an HMAC of the content, so the URL ' +
    'cannot be guessed from a known image. Served with `Cache-Control: public, immutable` until ' +
    "it expires (30 days, or a QR code's `expires_at`).",
  security: SECURITY.none,
  request: { params: z.object({ file: File }) },
  responses: {
    200: {
      description: 'The image bytes (PNG, JPEG, GIF or WebP).',
      content: { 'image/*': { schema: z.string().meta({ format: 'binary' }) } },
    },
    ...problems(404),
  },
})

pictures.openapi(picture, async (c) => {
  const { file } = c.req.valid('param')
  // The route's File schema has matched it already.
  const [, id = '', extension] = FILE.exec(file) ?? []
  const ext = extension as PictureExtension
  const now = new Date()
  const stored = await findPicture(c.env.CACHE, id, now)
  // The extension is part of the URL: the same id with another one is not this picture.
  if (!stored || stored.meta.type !== PICTURE_TYPES[ext]) {
    await stored?.body.cancel()
    throw notFound(NO_PICTURE)
  }
  const maxAge = Math.max(0, stored.meta.expiresAt - epochSeconds(now))
  return c.body(stored.body, 200, {
    'content-type': stored.meta.type,
    'cache-control': `public, max-age=${maxAge}, immutable`,
    etag: `"${id}"`,
    // The bytes were checked to be an image of this type; nothing may treat them as anything else.
    'x-content-type-options': 'nosniff',
    'content-disposition': `inline; filename="${file}"`,
    'content-security-policy': "default-src 'none'; sandbox",
    'cross-origin-resource-policy': 'cross-origin',
  })
})
