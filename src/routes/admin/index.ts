// /admin: the management API. Every route needs the admin scope; every change is audited with its
// operator, and refused calls are counted.
import { SCOPES } from '../../domain/scopes.ts'
import { auditAdminActions, auditRefusedAdminCalls } from '../../http/audit.ts'
import { requireScope } from '../../http/auth.ts'
import { refreshSendFacts } from '../../http/send-facts.ts'
import { OpenApiApp } from '../../http/openapi-app.ts'
import { audit } from './audit.ts'
import { clientIssuers } from './client-issuers.ts'
import { clientKeys } from './client-keys.ts'
import { clients } from './clients.ts'
import { loginLocks } from './login-locks.ts'
import { messages } from './messages.ts'
import { overview } from './overview.ts'
import { providerWebhooks } from './provider-webhooks.ts'
import { providers } from './providers.ts'
import { services } from './services.ts'

export const admin = new OpenApiApp()

// Authentication first: only a call that passed it is recorded as an operator's action.
// Writes to what /Services checks a message against reach the send shards' copies before the
// answer (decisions.md D48).
admin.use(
  '*',
  auditRefusedAdminCalls(),
  requireScope(SCOPES.admin),
  auditAdminActions(),
  refreshSendFacts(),
)
admin.route('/providers', providers)
admin.route('/providers', providerWebhooks)
admin.route('/clients', clients)
admin.route('/clients', clientKeys)
admin.route('/clients', clientIssuers)
admin.route('/services', services)
admin.route('/audit', audit)
admin.route('/messages', messages)
admin.route('/login-locks', loginLocks)
admin.route('/overview', overview)
