// The Hono app every route module builds on: each operation is declared once with createRoute
// (@hono/zod-openapi) and served with app.openapi(route, handler), which keeps the declaration
// for the OpenAPI document. The document is built at build time (src/openapi/document.ts,
// scripts/docs-assets.ts), so the Worker carries no document generator (decisions.md D23).
import type { createRoute as declareRoute, OpenAPIHono, RouteConfig } from '@hono/zod-openapi'
import { Hono, type MiddlewareHandler } from 'hono'
import { mergePath } from 'hono/utils/url'
import type * as z from 'zod'
import type { AppEnv } from './app-env.ts'
import { requireForm, requireJson, validate, validateForm, validateParams } from './validate.ts'

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
 * @hono/zod-openapi's createRoute: the declaration as given, with the path Hono routes it under.
 * Imported from the package, it would bring the package into the bundle, and with it the part of
 * the document generator it loads to extend zod.
 */
export const createRoute: typeof declareRoute = (config) =>
  Object.defineProperty({ ...config }, 'getRoutingPath', {
    value: () => config.path.replaceAll(/\/{(.+?)}/g, '/:$1'),
    enumerable: false,
  }) as ReturnType<typeof declareRoute<(typeof config)['path'], typeof config>>

/** An operation as declared, for the document: its path in OpenAPI's form, `{id}`. */
export type DeclaredOperation = Omit<RouteConfig, 'middleware' | 'hide'>

/**
 * A Hono app with @hono/zod-openapi's `openapi(route, handler)`, whose routes check requests as
 * Portero always has: the query with the shared hook (throwInvalid: 400 `invalid_request` with
 * field `errors`), bodies with bodyChecks (requireJson's 415 and media types, validateForm's one
 * pass of URLSearchParams), path parameters with validateParams (a parameter that does not fit
 * its schema answers the 404 of an unknown resource). Headers are documented only. `operations` lists what each route declares, a
 * sub-app's under the path it is mounted at; OpenAPIHono itself, with its generators, is used only
 * where the document is built.
 */
export class OpenApiApp extends Hono<AppEnv> {
  readonly operations: DeclaredOperation[] = []

  openapi = ((route: RouteConfig, handler: never) => {
    const { middleware, hide, ...operation } = route
    if (!hide) this.operations.push(operation)
    const query = operation.request?.query
    const params = operation.request?.params
    this.on(
      [route.method],
      [route.path.replaceAll(/\/{(.+?)}/g, '/:$1')],
      ...[middleware ?? []].flat(),
      ...(query ? [validate('query', query)] : []),
      ...bodyChecks(operation.request?.body),
      // After the body's checks, as the handlers' own 404 came before: a request with both a
      // malformed body and a malformed id answers for its body.
      ...(params ? [validateParams(params)] : []),
      handler,
    )
    return this
  }) as unknown as OpenAPIHono<AppEnv>['openapi']

  constructor() {
    super()
    const mount = this.route.bind(this)
    this.route = ((path: string, app: Hono<AppEnv>) => {
      mount(path, app)
      if (app instanceof OpenApiApp) {
        const prefix = path.replaceAll(/:([^/]+)/g, '{$1}')
        for (const operation of app.operations)
          this.operations.push({ ...operation, path: mergePath(prefix, operation.path) })
      }
      return this
    }) as typeof mount
  }
}
