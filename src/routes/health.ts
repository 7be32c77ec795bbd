// GET /healthz: the process answers and its configuration is sound. Touches no binding (it is the
// benchmark ceiling): the checks are of settings, memoized per isolate.
import { channelProblems } from '../config.ts'
import { misconfiguredServer } from '../http/misconfiguration.ts'
import { createRoute, OpenApiApp } from '../http/openapi-app.ts'
import { json, problem, SECURITY } from '../openapi/operations.ts'
import { Health } from '../openapi/responses.ts'

export const health = new OpenApiApp()

const liveness = createRoute({
  method: 'get',
  path: '/',
  operationId: 'getHealth',
  tags: ['Service'],
  summary: 'Liveness and configuration',
  description:
    'A load balancer or monitor takes 503 to mean: take this deployment out of service and ' +
    'alert its operator. The `errors` of the problem name each setting at fault (decisions.md ' +
    'D24).',
  security: SECURITY.none,
  responses: {
    200: json('Alive, and configured soundly.', Health),
    503: problem(
      '`server_misconfigured`: a channel is half configured (some of its settings, not all), ' +
        'or, on a host other than localhost, ISSUER is not an https:// origin or names ' +
        'localhost, SIGNING_KEYS holds no key or SECRET_PEPPER is shorter than 32 bytes (then ' +
        'every route answers this 503). `errors` lists each setting and what is wrong.',
    ),
  },
})

// The deployment's own problems were refused before routing (refuseMisconfigured); a
// half-configured channel stops nothing else, so only this route reports it.
health.openapi(liveness, (c) => {
  const problems = channelProblems(c.env)
  if (problems.length > 0) throw misconfiguredServer(problems)
  return c.json({ status: 'ok' }, 200)
})
