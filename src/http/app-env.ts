// AppEnv: the Hono generics every route and middleware is typed with. The Worker's bindings, and
// what middleware puts on the context for the rest of the request.
import type { Dialect, ErrorCode } from '../errors.ts'

export type AppEnv = {
  Bindings: Env
  Variables: {
    requestId: string
    dialect: Dialect
    auth: AuthContext
    adminAction: AdminAction
    defer: Defer
    /** The problem `code` of an error answer (errors.ts problemResponse), for the access log. */
    problemCode: ErrorCode
  }
}

/** The caller requireScope (auth.ts) authenticated. */
export type AuthContext = {
  clientId: string
  /** Decimal int64 string; null for operator-level clients. */
  providerId: string | null
  scopes: string[]
  /** How many send shards its provider has, as its client's edge record says (decisions.md D48). */
  sendShards: number
}

/** The action an admin handler names for the audit log (audit.ts auditAs). */
export type AdminAction = { action: string; target?: string; detail?: Record<string, unknown> }

/** Schedules `task` to run after the response; a failure is logged, never shown to the caller. */
export type Defer = (task: () => Promise<unknown>) => void
