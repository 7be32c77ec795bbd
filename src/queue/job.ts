// The body of a dispatch queue message: the delivery's id and the send shard that holds it, with
// its content (decisions.md D10, D32).
import * as z from 'zod'
import { SEND_SHARD_NAME } from '../storage/shard-database.ts'

export const DispatchJob = z.object({
  deliveryId: z.uuid(),
  shard: z.string().regex(SEND_SHARD_NAME),
})
export type DispatchJob = z.infer<typeof DispatchJob>
