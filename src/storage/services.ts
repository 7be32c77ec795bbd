// The services table: what each document-001 service_id requires and which channels it may use.
import type { Channel } from '../providers/notifier.ts'

export type ServiceParameter = 'destination' | 'notification' | 'advertisement'

export type Service = {
  id: number
  name: string
  kind: string
  requiredParameters: ServiceParameter[]
  allowedChannels: Channel[]
  enabled: boolean
}

type ServiceRow = {
  id: number
  name: string
  kind: string
  required_parameters: string
  allowed_channels: string
  enabled: number
}

function toService(row: ServiceRow): Service {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    requiredParameters: JSON.parse(row.required_parameters) as ServiceParameter[],
    allowedChannels: JSON.parse(row.allowed_channels) as Channel[],
    enabled: row.enabled === 1,
  }
}

export async function findServiceById(db: D1Database, id: number): Promise<Service | null> {
  const row = await db
    .prepare(
      'SELECT id, name, kind, required_parameters, allowed_channels, enabled FROM services WHERE id = ?1',
    )
    .bind(id)
    .first<ServiceRow>()
  return row ? toService(row) : null
}

export type NewService = Omit<Service, 'id' | 'enabled'> & { id?: number; enabled?: boolean }

/** Inserts a service and returns its id. */
export async function insertService(db: D1Database, service: NewService): Promise<number> {
  const row = await db
    .prepare(
      `INSERT INTO services (id, name, kind, required_parameters, allowed_channels, enabled)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id`,
    )
    .bind(
      service.id ?? null,
      service.name,
      service.kind,
      JSON.stringify(service.requiredParameters),
      JSON.stringify(service.allowedChannels),
      service.enabled === false ? 0 : 1,
    )
    .first<{ id: number }>()
  return row!.id
}
