// 'zod' as the Worker's bundle resolves it (wrangler.toml [alias]): all of zod's named exports,
// except `z`, which here holds only what @hono/zod-openapi needs from it (extendZodWithOpenApi
// adds .openapi() to ZodType's prototype). zod's own `z` is a namespace object that holds every
// export, the 48 locales and the JSON Schema converters among them; @hono/zod-openapi passes it to
// a function, so the bundler must keep all of it, about 70 KiB of the gzipped bundle. Portero's
// modules import `* as z from 'zod'`, never `{ z }`: property reads on a namespace import let
// the bundler keep only the schemas used (decisions.md D23). English stays zod's locale: ZodType's
// constructor sets it when none is configured.
import { ZodType } from 'zod/v4'

export * from 'zod/v4'
export const z = { ZodType }
