// The body of a dispatch queue message: only the delivery id. D1 holds the content
// (decisions.md D10).
import * as z from 'zod'

export const DispatchJob = z.object({ deliveryId: z.uuid() })
export type DispatchJob = z.infer<typeof DispatchJob>
