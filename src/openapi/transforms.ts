// What the routes' declarations cannot say, added to the generated document: one named function
// each, applied in order by buildOpenApiDocument (./document.ts). Each takes and changes a
// document generated for this call alone.
import { PARAMETER_FIELDS, PART_FIELDS } from '../domain/dispatch-request.ts'
import { Problem } from './responses.ts'

type Schema = Record<string, unknown>
type Response = { description: string; content?: Schema }
type Operation = { operationId?: string; responses: Record<string, Response> }
export type Document = {
  paths?: Record<string, Record<string, unknown>>
  components?: { schemas?: Record<string, Schema> }
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

function operations(document: Document): [path: string, method: string, Operation][] {
  return Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method): [string, string, Operation] => [
      path,
      method,
      item[method] as Operation,
    ]),
  )
}

/**
 * operationId: a readable method name (`issueToken`, `sendService`, `listProviders`), stable
 * across versions (docs/versioning.md): generated clients and Swagger UI name their methods and
 * elements after it. An operation without one, or two operations with one, fail the build.
 */
export function operationIds(document: Document): void {
  const seen = new Set<string>()
  for (const [path, method, operation] of operations(document)) {
    const id = operation.operationId
    if (!id) throw new Error(`${method.toUpperCase()} ${path} declares no operationId.`)
    if (seen.has(id)) throw new Error(`operationId ${id} is declared twice.`)
    seen.add(id)
  }
}

/**
 * 431 on every operation: the headers' size is checked before routing (limitHeaders in
 * src/http/security.ts), so every path answers it, in the media type of the operation's other
 * errors (an OAuth endpoint's are application/json).
 */
export function headerLimitAnswer(document: Document): void {
  for (const [, , operation] of operations(document)) {
    operation.responses['431'] = problemAnswer(
      operation,
      'The request headers are larger than 16 KiB in all (`headers_too_large`).',
    )
  }
}

/**
 * 503 `server_misconfigured` on every operation: on a host other than localhost, a deployment
 * whose ISSUER, SIGNING_KEYS or SECRET_PEPPER is unfit refuses every request before routing
 * (refuseMisconfigured in src/http/misconfiguration.ts). An operation that declares its own 503
 * (GET /healthz) keeps it.
 */
export function misconfiguredAnswer(document: Document): void {
  for (const [, , operation] of operations(document)) {
    operation.responses['503'] ??= problemAnswer(
      operation,
      '`server_misconfigured`: this deployment is misconfigured and serves nothing until it is ' +
        'fixed; GET /healthz names the settings at fault.',
    )
  }
}

/** A problem answer in the media type of the operation's other errors (OAuth's: JSON). */
function problemAnswer(operation: Operation, description: string): Response {
  const errors = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400)
  const mediaType = Object.keys(errors[0]?.[1].content ?? {})[0] ?? 'application/problem+json'
  const schema = { $ref: `#/components/schemas/${Problem.meta()!.id}` }
  return { description, content: { [mediaType]: { schema } } }
}

/**
 * Document 001's spellings of the /Services field names (`titulo`, `Cannel`, `publicidad`…; see
 * src/domain/dispatch-request.ts), as properties beside the canonical ones. The schema itself
 * renames them before it checks anything, which JSON Schema cannot express.
 */
export function servicesFieldAliases(document: Document): void {
  const post = document.paths?.['/Services']?.post as
    { requestBody: { content: Record<string, { schema: Schema }> } } | undefined
  const body = post && resolve(document, post.requestBody.content['application/json']!.schema)
  const parameters = (body?.properties as Record<string, Schema> | undefined)?.parameters
  if (!parameters) throw new Error('/Services has no body with parameters to add aliases to.')
  const canonical = resolve(document, parameters)
  withAliases(canonical, PARAMETER_FIELDS)
  const parts = canonical.properties as Record<string, Schema>
  for (const part of ['notification', 'advertisement'])
    withAliases(resolve(document, parts[part]!), PART_FIELDS)
}

function resolve(document: Document, schema: Schema): Schema {
  const ref = schema.$ref
  if (typeof ref !== 'string') return schema
  return document.components!.schemas![ref.replace('#/components/schemas/', '')]!
}

/**
 * Adds each alias as a property documented like its canonical name, and requires the canonical
 * name or any alias of it. (Names are also matched case-insensitively, which JSON Schema cannot
 * say.)
 */
function withAliases(object: Schema, aliases: Record<string, string>): void {
  const properties = object.properties as Record<string, Schema>
  for (const [alias, canonical] of Object.entries(aliases)) {
    if (alias === canonical || !properties[canonical]) continue
    properties[alias] = {
      ...properties[canonical],
      description: `Document 001's spelling of \`${canonical}\`.`,
    }
  }
  const required = (object.required as string[] | undefined) ?? []
  delete object.required
  if (required.length === 0) return
  object.allOf = required.map((name) => ({
    anyOf: [name, ...Object.keys(aliases).filter((a) => aliases[a] === name && a !== name)].map(
      (n) => ({ required: [n] }),
    ),
  }))
}

/** In the order they are applied. */
export const TRANSFORMS = [
  operationIds,
  headerLimitAnswer,
  misconfiguredAnswer,
  servicesFieldAliases,
]
