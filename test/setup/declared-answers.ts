// Every answer a route gave during a test file must be one its operation declares in
// /openapi.json (decisions.md D2): the statuses a handler can reach are the ones the tests drive
// it into, so a status added to a route, or to the domain function it calls, without its line in
// the route's `responses` fails the file that reaches it.
import { afterAll, expect } from 'vitest'
import { app } from '../../src/app.ts'
import { buildOpenApiDocument } from '../../src/openapi/document.ts'
import { ANSWERS, type Answer } from '../helpers/http.ts'

type Operation = { responses: Record<string, unknown> }
type Document = { paths: Record<string, Record<string, Operation>> }

let operations: Promise<{ pattern: RegExp; params: number; method: string; op: Operation }[]>

/** The operations of /openapi.json, each with a pattern of its path (`{id}`: one segment). */
function loadOperations() {
  // Built from the app's routes, as scripts/docs-assets.ts builds the file the route serves.
  operations ??= Promise.resolve(buildOpenApiDocument(app) as unknown as Document).then(
    (document) =>
      Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({
          pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
          params: path.split('{').length - 1,
          method: method.toUpperCase(),
          op,
        })),
      ),
  )
  return operations
}

/** The answers no operation declares. A request no operation takes (a 404 or 405) is left out. */
export async function undeclaredAnswers(answers: readonly Answer[]): Promise<string[]> {
  const all = await loadOperations()
  const undeclared = new Set<string>()
  for (const { method, path, status, code } of answers) {
    // The most literal match wins: /admin/clients/login-locks before /admin/clients/{id}.
    const operation = all
      .filter((o) => o.method === method && o.pattern.test(path))
      .sort((a, b) => a.params - b.params)[0]
    if (!operation) continue
    const declared = Object.keys(operation.op.responses)
    const range = `${String(status)[0]}XX`
    if (declared.includes(String(status)) || declared.includes(range)) continue
    if (declared.includes('default')) continue
    undeclared.add(`${method} ${operation.pattern.source} answered ${status} ${code ?? ''}`.trim())
  }
  return [...undeclared].sort()
}

afterAll(async () => {
  const answers = ANSWERS.splice(0)
  expect(await undeclaredAnswers(answers), 'answers missing from /openapi.json').toEqual([])
})
