// The services table: what each document-001 service_id requires and which channels it may use.
import type { Channel } from '../channel.ts'
import type { QuietHoursRule } from './recipients.ts'
import { firstRow, readOne, type BatchRead } from './batch.ts'

export type ServiceParameter = 'destination' | 'notification' | 'advertisement' | 'qr_code'

/** Push, then SMS: when the push fails, or is not acknowledged within afterSeconds. */
export type ServiceFallback = { channel: 'sms'; afterSeconds: number | null }

export type Service = {
  id: number
  name: string
  kind: string
  requiredParameters: ServiceParameter[]
  allowedChannels: Channel[]
  enabled: boolean
  /** Whether an E.164 number outside the recipients directory may be a destination. */
  directNumbers: boolean
  /** The country calling codes such a number may have ("54", "598"); null: any. */
  directNumberCountryCodes: string[] | null
  /** The quiet hours of its messages when neither the request nor the recipient has its own. */
  quietHours: QuietHoursRule | null
  /** Its messages' pushes fall back to SMS unless the request says otherwise (decisions.md D46). */
  fallback: ServiceFallback | null
  createdAt: string
  updatedAt: string
}

type ServiceRow = {
  id: number
  name: string
  kind: string
  required_parameters: string
  allowed_channels: string
  enabled: number
  direct_numbers: number
  direct_number_country_codes: string | null
  quiet_hours: string | null
  fallback: string | null
  created_at: string
  updated_at: string
}

function toService(row: ServiceRow): Service {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    requiredParameters: JSON.parse(row.required_parameters) as ServiceParameter[],
    allowedChannels: JSON.parse(row.allowed_channels) as Channel[],
    enabled: row.enabled === 1,
    directNumbers: row.direct_numbers === 1,
    directNumberCountryCodes:
      row.direct_number_country_codes === null
        ? null
        : (JSON.parse(row.direct_number_country_codes) as string[]),
    quietHours: row.quiet_hours === null ? null : (JSON.parse(row.quiet_hours) as QuietHoursRule),
    fallback: row.fallback === null ? null : (JSON.parse(row.fallback) as ServiceFallback),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

const SELECT_SERVICE = `SELECT id, name, kind, required_parameters, allowed_channels, enabled,
  direct_numbers, direct_number_country_codes, quiet_hours, fallback, created_at, updated_at
  FROM services`

export function findServiceById(db: D1Database, id: number): Promise<Service | null> {
  return readOne(db, selectServiceById(db, id))
}

/** findServiceById as a read for readBatch. */
export function selectServiceById(db: D1Database, id: number): BatchRead<Service | null> {
  return {
    statements: [db.prepare(`${SELECT_SERVICE} WHERE id = ?1`).bind(id)],
    read: ([result]) => firstRow(result, toService),
  }
}

export async function listServices(
  db: D1Database,
  { after, limit }: { after?: number; limit: number },
) {
  const { results } = await db
    .prepare(`${SELECT_SERVICE} WHERE id > ?1 ORDER BY id LIMIT ?2`)
    .bind(after ?? 0, limit)
    .all<ServiceRow>()
  return results.map(toService)
}

export type NewService = Omit<
  Service,
  | 'id'
  | 'enabled'
  | 'directNumbers'
  | 'directNumberCountryCodes'
  | 'quietHours'
  | 'fallback'
  | 'createdAt'
  | 'updatedAt'
> &
  Partial<
    Pick<
      Service,
      'id' | 'enabled' | 'directNumbers' | 'directNumberCountryCodes' | 'quietHours' | 'fallback'
    >
  >

const codesJson = (codes: string[] | null | undefined) => (codes ? JSON.stringify(codes) : null)
const ruleJson = (rule: QuietHoursRule | ServiceFallback | null | undefined) =>
  rule ? JSON.stringify(rule) : null

/** Inserts a service and returns its id; null when its id or name is taken. */
export async function insertService(db: D1Database, service: NewService): Promise<number | null> {
  const row = await db
    .prepare(
      `INSERT INTO services (id, name, kind, required_parameters, allowed_channels, enabled,
         direct_numbers, direct_number_country_codes, quiet_hours, fallback)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING RETURNING id`,
    )
    .bind(
      service.id ?? null,
      service.name,
      service.kind,
      JSON.stringify(service.requiredParameters),
      JSON.stringify(service.allowedChannels),
      service.enabled === false ? 0 : 1,
      service.directNumbers ? 1 : 0,
      codesJson(service.directNumberCountryCodes),
      ruleJson(service.quietHours),
      ruleJson(service.fallback),
    )
    .first<{ id: number }>()
  return row?.id ?? null
}

export type ServiceChanges = Partial<Omit<Service, 'id' | 'createdAt' | 'updatedAt'>>

/**
 * Applies the given changes: 'updated', 'not_found', or 'conflict' when another service has the
 * new name (nothing is changed then).
 */
export async function updateService(
  db: D1Database,
  id: number,
  changes: ServiceChanges,
): Promise<'updated' | 'not_found' | 'conflict'> {
  // The NOT EXISTS asks what the UNIQUE constraint on services.name would refuse.
  const result = await db
    .prepare(
      `UPDATE services SET name = COALESCE(?2, name), kind = COALESCE(?3, kind),
         required_parameters = COALESCE(?4, required_parameters),
         allowed_channels = COALESCE(?5, allowed_channels), enabled = COALESCE(?6, enabled),
         direct_numbers = COALESCE(?7, direct_numbers),
         direct_number_country_codes = CASE WHEN ?8 THEN ?9 ELSE direct_number_country_codes END,
         quiet_hours = CASE WHEN ?10 THEN ?11 ELSE quiet_hours END,
         fallback = CASE WHEN ?12 THEN ?13 ELSE fallback END,
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
       WHERE id = ?1
         AND NOT EXISTS (SELECT 1 FROM services AS other WHERE other.name = ?2 AND other.id <> ?1)`,
    )
    .bind(
      id,
      changes.name ?? null,
      changes.kind ?? null,
      changes.requiredParameters ? JSON.stringify(changes.requiredParameters) : null,
      changes.allowedChannels ? JSON.stringify(changes.allowedChannels) : null,
      changes.enabled === undefined ? null : +changes.enabled,
      changes.directNumbers === undefined ? null : +changes.directNumbers,
      // null is a value here (any country code), so whether it changes is a flag of its own.
      changes.directNumberCountryCodes === undefined ? 0 : 1,
      codesJson(changes.directNumberCountryCodes),
      changes.quietHours === undefined ? 0 : 1,
      ruleJson(changes.quietHours),
      changes.fallback === undefined ? 0 : 1,
      ruleJson(changes.fallback),
    )
    .run()
  if (result.meta.changes > 0) return 'updated'
  return (await findServiceById(db, id)) ? 'conflict' : 'not_found'
}

/** Deletes a service no provider subscribes to: 'deleted', 'not_found' or 'in_use'. */
export async function deleteService(
  db: D1Database,
  id: number,
): Promise<'deleted' | 'not_found' | 'in_use'> {
  const result = await db
    .prepare(
      'DELETE FROM services WHERE id = ?1 ' +
        'AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE service_id = ?1)',
    )
    .bind(id)
    .run()
  if (result.meta.changes > 0) return 'deleted'
  return (await findServiceById(db, id)) ? 'in_use' : 'not_found'
}
