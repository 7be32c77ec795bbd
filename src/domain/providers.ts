// Service providers (document 001's provider_id): their ids.
import { z } from 'zod'

const MAX_INT64 = 2n ** 63n - 1n
/** Provider ids are int64 (document 001), carried as decimal strings so none is ever rounded. */
export const ProviderIdText = z
  .union([z.string(), z.number()])
  // SPEC 11: JSON.parse has already rounded a number past 2^53 − 1; refuse it, never store
  // another id.
  .refine(
    (v) => typeof v === 'string' || Number.isSafeInteger(v),
    'a JSON number id must be at most 2^53 − 1; send larger ids as strings',
  )
  .transform((v) => String(v))
  .refine((v) => /^[1-9]\d{0,18}$/.test(v) && BigInt(v) <= MAX_INT64, 'must be a positive int64')
