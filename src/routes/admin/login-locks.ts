// /admin/login-locks: lifting the lock of an address that failed too many attempts (SECURITY.md
// "Lockouts"). A client's locks are lifted at /admin/clients/{id}/login-locks.
import * as z from 'zod'
import { unlockAddress } from '../../domain/throttle.ts'
import { auditAs } from '../../http/audit.ts'
import { createRoute, OpenApiApp } from '../../http/openapi-app.ts'
import { MANAGEMENT, NO_CONTENT, problems } from '../../openapi/operations.ts'

export const loginLocks = new OpenApiApp()

// The formats are named for the document: the generator would call both "ip".
export const AddressQuery = z.object({
  ip: z.union([z.ipv4().meta({ format: 'ipv4' }), z.ipv6().meta({ format: 'ipv6' })], {
    error: 'ip must be an IPv4 or IPv6 address',
  }),
})

const unlock = createRoute({
  ...MANAGEMENT,
  method: 'delete',
  path: '/',
  operationId: 'unlockAddressLogins',
  summary: "Lift an address's login lock",
  description:
    'Lifts the 60 s lock of an address (IPv6: of its /64) that failed too many attempts across ' +
    'clients; its locks for single clients run out on their own or are lifted per client.',
  request: { query: AddressQuery },
  responses: { 204: NO_CONTENT, ...problems(400, 401, 403) },
})

loginLocks.openapi(unlock, async (c) => {
  const { ip } = c.req.valid('query')
  auditAs(c, 'address.unlock', ip)
  await unlockAddress(c.env.CACHE, ip)
  return c.body(null, 204)
})
