// Why a delivery accepted earlier must not be sent now (decisions.md D28): its provider was
// disabled, its service disabled or its subscription revoked since, or its number was suppressed.
// Those live in D1; the deliveries in their send shards (decisions.md D32), so the consumer asks
// here for a whole queue batch in one statement before it claims.

/** What the rules need to know of a delivery (src/storage/messages.ts findDispatchFacts). */
export type DispatchFacts = {
  id: string
  providerId: string
  serviceId: number
  channel: string
  address: string
}

/**
 * The reason each of these deliveries may not be sent, by delivery id; a delivery that may go is
 * absent. A row that is gone (a deleted provider) reads as disabled.
 */
export async function findWithheldReasons(
  db: D1Database,
  deliveries: DispatchFacts[],
): Promise<Map<string, string>> {
  if (deliveries.length === 0) return new Map()
  const { results } = await db
    .prepare(
      `WITH d AS (
         SELECT value ->> '$.id' AS id, CAST(value ->> '$.providerId' AS INTEGER) AS provider_id,
           value ->> '$.serviceId' AS service_id, value ->> '$.channel' AS channel,
           value ->> '$.address' AS address
         FROM json_each(?1))
       SELECT d.id, CASE
           WHEN p.status IS NOT 'active' THEN 'not sent: the provider was disabled'
           WHEN s.enabled IS NOT 1 THEN 'not sent: the service was disabled'
           WHEN sub.status IS NOT 'active' THEN 'not sent: the subscription was revoked'
           WHEN d.channel = 'sms' AND (
             EXISTS (SELECT 1 FROM suppressions
               WHERE phone = d.address AND provider_id IN (d.provider_id, 0))
             OR EXISTS (SELECT 1 FROM recipients AS r
               WHERE r.provider_id = d.provider_id AND r.phone = d.address AND r.sms_opt_out = 1))
             THEN 'not sent: the number is on the suppression list'
           WHEN d.channel = 'whatsapp' AND NOT EXISTS (SELECT 1 FROM recipients AS r
               WHERE r.provider_id = d.provider_id AND r.phone = d.address AND r.whatsapp_opt_in = 1)
             THEN 'not sent: the recipient withdrew their WhatsApp opt-in'
         END AS reason
       FROM d
       LEFT JOIN providers AS p ON p.id = d.provider_id
       LEFT JOIN services AS s ON s.id = d.service_id
       LEFT JOIN subscriptions AS sub
         ON sub.provider_id = d.provider_id AND sub.service_id = d.service_id`,
    )
    .bind(JSON.stringify(deliveries))
    .all<{ id: string; reason: string | null }>()
  return new Map(results.flatMap((r) => (r.reason === null ? [] : [[r.id, r.reason]])))
}
