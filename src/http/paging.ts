// One paging shape for every list (document 001's "Entity Pager"): keyset pagination with an
// opaque cursor, a bounded page size, a stable order, and a link to the next page.
import { base64url } from 'jose'
import * as z from 'zod'
import { fieldError, type AppError } from '../errors.ts'

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 100

const FOREIGN_CURSOR = 'cursor is not one this API returned'

const Limit = z.coerce
  .number({ error: 'limit must be a number' })
  .int()
  .min(1)
  .max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`)
  .default(DEFAULT_PAGE_SIZE)

/**
 * A page's query: `limit`, and `cursor`, the base64url of the key the page starts after. With
 * `key`, the schema of the list's keys, a cursor whose key does not fit it is refused here, in the
 * route's declaration and the one query hook (400 `invalid_request`), before the handler runs.
 */
export function pageQuery<K extends z.ZodType<unknown, string>>(key: K) {
  return z.object({
    limit: Limit,
    cursor: z
      .string()
      .optional()
      .meta({ description: '`next_cursor` of the previous page, as it came.' })
      .transform((cursor, ctx): z.output<K> | undefined => {
        if (cursor === undefined || cursor === '') return undefined
        let decoded: string
        try {
          decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
            base64url.decode(cursor),
          )
        } catch {
          ctx.addIssue({ code: 'custom', message: FOREIGN_CURSOR })
          return z.NEVER
        }
        const parsed = key.safeParse(decoded)
        if (parsed.success) return parsed.data
        ctx.addIssue({ code: 'custom', message: FOREIGN_CURSOR })
        return z.NEVER
      }),
  })
}

/** A page's query whose cursor's key the handler checks itself (badCursor). */
export const PageQuery = pageQuery(z.string())

export type Page<T> = {
  items: T[]
  page_size: number
  next_cursor: string | null
  links: { next: string | null }
}

/**
 * Builds a page from `limit + 1` rows read after the cursor: the extra row only says whether a
 * next page exists. `keyOf` gives the sort key the next page starts after.
 */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  keyOf: (row: Row) => string,
  view: (row: Row) => Item,
  url: URL,
): Page<Item> {
  const items = rows.slice(0, limit)
  const last = items.at(-1)
  const nextCursor = rows.length > limit && last ? base64url.encode(keyOf(last)) : null
  let next: string | null = null
  if (nextCursor) {
    const nextUrl = new URL(url)
    nextUrl.searchParams.set('cursor', nextCursor)
    nextUrl.searchParams.set('limit', String(limit))
    next = nextUrl.pathname + nextUrl.search
  }
  return { items: items.map(view), page_size: limit, next_cursor: nextCursor, links: { next } }
}

/** 400 `invalid_request` for a cursor that parsed but cannot be one of this list's keys. */
export function badCursor(): AppError {
  return fieldError('cursor', FOREIGN_CURSOR, `${FOREIGN_CURSOR}.`)
}

// An instant in UTC (Z) or with its offset (+02:00): both name one moment, compared in UTC.
const instant = (name: string, example: string) =>
  z.iso.datetime({ offset: true, error: `${name} must be an ISO 8601 instant such as ${example}` })

/** A list's time filter: `since` and `until`, inclusive. */
export const TimeRange = z.object({
  since: instant('since', '2026-11-22T00:00:00Z').optional(),
  until: instant('until', '2026-11-22T23:59:59Z').optional(),
})

/**
 * An instant of TimeRange as stored times are written (milliseconds and Z), so that the two
 * compare as text.
 */
export const storedInstant = (t?: string) => (t ? new Date(t).toISOString() : undefined)
