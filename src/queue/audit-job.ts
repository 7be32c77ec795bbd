// The body of an audit queue message: one per-request event, with the time it happened.
import * as z from 'zod'
import type { OccurredAuditEvent } from '../storage/audit-events.ts'

export const AuditJob = z.object({
  action: z.string().min(1),
  outcome: z.enum(['success', 'failure']),
  actor: z.string().nullable(),
  target: z.string().nullable(),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).optional(),
  occurredAt: z.iso.datetime(),
}) satisfies z.ZodType<OccurredAuditEvent>
