// The Worker's entry point: HTTP requests and the hourly clean-up.
import { app } from './app.ts'
import { log } from './http/log.ts'
import { deleteExpiredRevocations } from './storage/revoked-tokens.ts'

export default {
  fetch: app.fetch,

  // wrangler.toml [triggers]: revocation rows are useless once their token has expired.
  async scheduled(controller, env) {
    const purged = await deleteExpiredRevocations(env.DB, new Date(controller.scheduledTime))
    log('info', 'purged expired revocations', { purged })
  },
} satisfies ExportedHandler<Env>
