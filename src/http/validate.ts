// Request body gates and zod validation that fail as AppError, so every 4xx has the one error
// shape.
import { zValidator } from '@hono/zod-validator'
import type { MiddlewareHandler, ValidationTargets } from 'hono'
import type { AppEnv } from './app-env.ts'
import type * as z from 'zod'
import { AppError, invalidFields, notFound, toFieldErrors, type Issues } from '../errors.ts'

/** Parses `value` with `schema` or throws AppError 400 `invalid_request` with field errors. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value)
  if (!result.success) throw invalidFields(toFieldErrors(result.error))
  return result.data
}

/**
 * The one validation hook, of zValidator and of every OpenApiApp (src/http/openapi-app.ts): a
 * zod failure becomes AppError 400 `invalid_request` with field `errors`.
 */
export function throwInvalid(result: { success: true } | { success: false; error: Issues }): void {
  if (!result.success) throw invalidFields(toFieldErrors(result.error))
}

/**
 * The one hook of path parameters: a path whose parameter does not fit its declared schema names
 * no resource, so it answers the 404 of an unknown one, with the schema's message as detail.
 */
export function throwNotFound(result: { success: true } | { success: false; error: Issues }): void {
  if (!result.success) throw notFound(result.error.issues[0]?.message ?? 'No such resource.')
}

/** Checks the path's parameters with `schema` (throwNotFound), for `c.req.valid('param')`. */
export function validateParams<S extends z.ZodType>(schema: S) {
  return zValidator('param', schema, throwNotFound)
}

/** zValidator with the hook that turns a zod failure into the one error shape. */
export function validate<T extends keyof ValidationTargets, S extends z.ZodType>(
  target: T,
  schema: S,
) {
  return zValidator(target, schema, throwInvalid)
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase()
}

function unsupported(expected: string, got: string | undefined): AppError {
  return new AppError(
    'unsupported_media_type',
    `Send the body as ${expected}${got ? `, not ${mediaType(got)}` : ''}.`,
    { headers: { 'accept-post': expected } },
  )
}

/**
 * No request needs deeper JSON; deeper nesting only costs recursion in every later walk of the
 * value (zod, request hashing), so it is refused before JSON.parse sees it.
 */
export const MAX_JSON_DEPTH = 32

/** The deepest nesting of objects and arrays in JSON text, counted without parsing it. */
export function jsonDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (inString) {
      if (char === 0x5c)
        i++ // a backslash escapes the next character
      else if (char === 0x22) inString = false
    } else if (char === 0x22) {
      inString = true
    } else if (char === 0x7b || char === 0x5b) {
      deepest = Math.max(deepest, ++depth)
    } else if (char === 0x7d || char === 0x5d) {
      depth--
    }
  }
  return deepest
}

/**
 * RFC 8259 §8.1: JSON exchanged between systems is UTF-8; fatal, so no byte is replaced by U+FFFD.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/**
 * Requires a UTF-8 JSON body nested at most MAX_JSON_DEPTH deep and rejects bad JSON. A body that
 * is not UTF-8 is refused rather than decoded with replacement characters, which would turn it into
 * other values (an unknown client, a different name). Hono caches the bytes for later readers.
 */
export function requireJson(): MiddlewareHandler {
  return async function requireJson(c, next) {
    const type = c.req.header('content-type')
    const media = mediaType(type)
    if (media !== 'application/json' && !media.endsWith('+json')) {
      throw unsupported('application/json', type)
    }
    let bytes: ArrayBuffer
    try {
      bytes = await c.req.arrayBuffer()
    } catch (cause) {
      throw new AppError('invalid_json', 'The request body could not be read.', { cause })
    }
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch (cause) {
      throw new AppError('invalid_request', 'The request body is not valid UTF-8 JSON.', { cause })
    }
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      const detail = `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`
      throw new AppError('invalid_request', detail)
    }
    try {
      JSON.parse(text)
    } catch (cause) {
      throw new AppError('invalid_json', 'The request body is not valid JSON.', { cause })
    }
    await next()
  }
}

/**
 * Requires an application/x-www-form-urlencoded body and nothing more: for a handler that reads
 * the body itself (a signed callback, whose signature covers the raw fields).
 */
export function requireForm(): MiddlewareHandler {
  return async function requireForm(c, next) {
    const type = c.req.header('content-type')
    if (mediaType(type) !== 'application/x-www-form-urlencoded') {
      throw unsupported('application/x-www-form-urlencoded', type)
    }
    await next()
  }
}

/**
 * Requires an application/x-www-form-urlencoded body and validates its fields with `schema`, for
 * `c.req.valid('form')`. A field sent more than once arrives as an array of its values, as with
 * Hono's form validator, so schemas can refuse repeats (RFC 6749 §3.1). The body is parsed by
 * URLSearchParams, the WHATWG urlencoded parser Request.formData() also uses, into a plain object:
 * going through FormData, as Hono's validator does, was a third of a warm introspection's CPU.
 */
export function validateForm<S extends z.ZodType>(
  schema: S,
): MiddlewareHandler<
  AppEnv,
  string,
  { in: { form: Record<string, string | string[]> }; out: { form: z.output<S> } }
> {
  return async function validateForm(c, next) {
    const type = c.req.header('content-type')
    if (mediaType(type) !== 'application/x-www-form-urlencoded') {
      throw unsupported('application/x-www-form-urlencoded', type)
    }
    let body: ArrayBuffer
    try {
      body = await c.req.arrayBuffer()
    } catch (cause) {
      throw new AppError('invalid_request', 'The request body could not be read.', { cause })
    }
    const fields: Record<string, string | string[]> = Object.create(null)
    for (const [name, value] of new URLSearchParams(new TextDecoder().decode(body))) {
      const seen = fields[name]
      fields[name] = seen === undefined ? value : [seen, value].flat()
    }
    c.req.addValidatedData('form', parseWith(schema, fields) as object)
    await next()
  }
}
