// Bearer authentication for the provider-facing API: a valid Portero token with the needed scope,
// and for a bound token the proof of its key (docs/tokens.md "DPoP", "Certificate-bound tokens").
import type { MiddlewareHandler } from 'hono'
import { loadConfig } from '../config.ts'
import type { AppEnv } from './app-env.ts'
import { AppError } from '../errors.ts'
import { checkAccessToken } from '../domain/token-state.ts'
import { assertAudience } from '../domain/tokens.ts'
import { readPresentedToken, type PresentedToken } from './bearer.ts'
import { tokenStateDeps } from './deps.ts'
import { assertPossession, challengeFor } from './possession.ts'

/**
 * Requires a valid token issued for Portero's own API (`aud` names its resource) and carrying
 * `scope`; puts the caller in `c.var.auth`. 401 or 403 otherwise. Every route of the API uses it.
 */
export function requireScope(scope: string): MiddlewareHandler<AppEnv> {
  return async function requireScope(c, next) {
    let presented: PresentedToken | null = null
    try {
      presented = readPresentedToken(c)
      const active = await checkAccessToken(await tokenStateDeps(c), presented.token)
      const { claims } = active
      // Checked from the claims on every request, cached or not: the token state is audience-free.
      assertAudience(claims, (await loadConfig(c.env)).resource)
      await assertPossession(c, presented, active)
      const scopes = claims.scope.split(' ')
      if (!scopes.includes(scope)) {
        throw new AppError('insufficient_scope', `This operation needs the ${scope} scope.`)
      }
      c.set('auth', {
        clientId: claims.client_id,
        providerId: claims.provider_id,
        scopes,
        sendShards: active.sendShards,
      })
    } catch (err) {
      throw challengeFor(presented, err)
    }
    await next()
  }
}
