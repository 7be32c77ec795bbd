// /admin/login-locks: lifting the lock of an address that failed too many attempts (SECURITY.md
// "Lockouts"). A client's locks are lifted at /admin/clients/{id}/login-locks.
import { Hono } from 'hono'
import { z } from 'zod'
import type { AppEnv } from '../../http/app-env.ts'
import { unlockAddress } from '../../domain/throttle.ts'
import { auditAs } from '../../http/audit.ts'
import { validate } from '../../http/validate.ts'

export const loginLocks = new Hono<AppEnv>()

export const AddressQuery = z.object({
  ip: z.union([z.ipv4(), z.ipv6()], { error: 'ip must be an IPv4 or IPv6 address' }),
})

loginLocks.delete('/', validate('query', AddressQuery), async (c) => {
  const { ip } = c.req.valid('query')
  auditAs(c, 'address.unlock', ip)
  await unlockAddress(c.env.CACHE, ip)
  return c.body(null, 204)
})
