// /admin/clients/{id}/issuers: the platforms whose tokens authenticate a client (docs/tokens.md
// "Federated clients", decisions.md D38), listed and replaced as a whole. Each change republishes
// the client's edge record, which carries them to /oauth/token.
import { listTrustedIssuers, replaceClientTrustedIssuers } from '../../domain/trusted-issuers.ts'
import { auditAs } from '../../http/audit.ts'
import { clientDeps } from '../../http/deps.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { json, jsonBody, MANAGEMENT, pathParameters, problems } from '../../openapi/operations.ts'
import { ClientTrustedIssuers } from '../../openapi/responses.ts'
import {
  toTrustedIssuerInput,
  TrustedIssuers,
  trustedIssuerView,
} from '../../http/trusted-issuers.ts'

export const clientIssuers = new OpenApiApp()

const EXAMPLE = {
  issuers: [
    {
      issuer: 'https://token.actions.githubusercontent.com',
      subject_pattern: 'repo:example-org/deployer:ref:refs/heads/*',
      claims: { repository_owner: 'example-org' },
    },
  ],
}

const idParam = { params: pathParameters('id') }

const list = createRoute({
  ...MANAGEMENT,
  method: 'get',
  path: '/{id}/issuers',
  operationId: 'listClientIssuers',
  summary: "List a client's trusted issuers",
  request: idParam,
  responses: {
    200: json('The trusted issuers.', ClientTrustedIssuers),
    ...problems(401, 403, 404),
  },
})

clientIssuers.openapi(list, async (c) => {
  const id = c.req.param('id')
  const issuers = await listTrustedIssuers(await clientDeps(c), id)
  return c.json({ client_id: id, issuers: issuers.map(trustedIssuerView) })
})

const replace = createRoute({
  ...MANAGEMENT,
  method: 'put',
  path: '/{id}/issuers',
  operationId: 'replaceClientIssuers',
  summary: "Replace a client's trusted issuers",
  description:
    'The client may then authenticate at /oauth/token with a token one of these issuers gave ' +
    'its workload (a CI job, a Kubernetes service account): as `client_assertion`, or as the ' +
    'JWT bearer grant (docs/tokens.md "Federated clients"). The issuers it trusted until now ' +
    'stop at once; tokens it got with them keep their life.',
  request: { ...idParam, body: jsonBody(TrustedIssuers, EXAMPLE) },
  responses: {
    200: json('Every issuer the client trusts now.', ClientTrustedIssuers),
    ...problems(400, 401, 403, 404, 415),
  },
})

clientIssuers.openapi(replace, async (c) => {
  const { issuers } = c.req.valid('json')
  const id = c.req.param('id')
  auditAs(c, 'client.issuers.replace', id, { issuers: issuers.map((i) => i.issuer) })
  const trusted = await replaceClientTrustedIssuers(
    await clientDeps(c),
    id,
    issuers.map(toTrustedIssuerInput),
  )
  return c.json({ client_id: id, issuers: trusted.map(trustedIssuerView) })
})
