// The Hono app every route module builds on: each operation is declared once with createRoute
// (@hono/zod-openapi) and served with app.openapi(route, handler); GET /openapi.json is generated
// from those declarations (src/openapi/document.ts).
import { OpenAPIHono, type RouteConfig } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type * as z from 'zod'
import type { AppEnv } from './app-env.ts'
import { requireForm, requireJson, throwInvalid, validate, validateForm } from './validate.ts'

/** Body schemas that only document the body: their handler reads and checks it itself. */
const readByHandler = new WeakSet<z.ZodType>()

/**
 * Documents `schema` as a route's body without checking it before the handler, which reads the
 * body itself: the login's field names pick its dialect first (src/http/dialect.ts), and
 * /Services checks more than its schema says (src/domain/dispatch-request.ts), and a signed
 * callback checks its signature before its fields (src/http/sms-callback.ts). The content type is
 * still checked.
 */
export function documentedOnly<S extends z.ZodType>(schema: S): S {
  readByHandler.add(schema)
  return schema
}

/**
 * The middleware that checks a declared body, as every route did before the document was
 * generated: requireJson's 415 and 400 `invalid_json` and validate's field errors for JSON, and
 * validateForm's single pass of URLSearchParams for forms (the token endpoint's hot path).
 */
function bodyChecks(body: NonNullable<RouteConfig['request']>['body']): MiddlewareHandler[] {
  if (!body) return []
  const media = Object.entries(body.content)
  const [type, content] = media[0] ?? []
  const schema = content && 'schema' in content ? content.schema : undefined
  if (media.length !== 1 || !isZod(schema)) {
    throw new Error('A route body is one media type with a zod schema.')
  }
  if (type === 'application/json') {
    return readByHandler.has(schema) ? [requireJson()] : [requireJson(), validate('json', schema)]
  }
  if (type === 'application/x-www-form-urlencoded') {
    return readByHandler.has(schema) ? [requireForm()] : [validateForm(schema)]
  }
  throw new Error(`No body check for ${type}.`)
}

function isZod(schema: unknown): schema is z.ZodType {
  return typeof schema === 'object' && schema !== null && 'safeParse' in schema
}

/**
 * OpenAPIHono whose routes check requests as Portero always has. @hono/zod-openapi validates the
 * query string with the shared hook (throwInvalid: 400 `invalid_request` with field `errors`);
 * bodies go through bodyChecks instead of its own gate, whose 415 has another body and refuses
 * media types requireJson accepts (`application/vnd.a.v2+json`), and whose form parser goes
 * through FormData. Path parameters and headers are documented only: a handler refuses a
 * malformed id with the 404 of an unknown one.
 */
export class OpenApiApp extends OpenAPIHono<AppEnv> {
  constructor() {
    super({ defaultHook: throwInvalid })
    const register = this.openapi
    this.openapi = ((route: RouteConfig, handler: never, hook: never) => {
      const { middleware, hide, request, ...operation } = route
      if (!hide)
        this.openAPIRegistry.registerPath({ ...operation, ...(request ? { request } : {}) })
      return register(
        {
          ...operation,
          ...(request?.query ? { request: { query: request.query } } : {}),
          middleware: [...[middleware ?? []].flat(), ...bodyChecks(request?.body)],
          hide: true,
        },
        handler,
        hook,
      )
    }) as typeof register
  }
}
