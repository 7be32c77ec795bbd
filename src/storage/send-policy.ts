// Why a delivery accepted earlier must not be sent now (decisions.md D28): its provider was
// disabled, its service disabled or its subscription revoked since, or its number was suppressed.
// Read in the delivery's send shard (decisions.md D32), from its rows and the shard's copy of the
// send facts (decisions.md D48), which is brought up to date first when older than a check may
// see: one statement for a queue batch's deliveries of that shard, before the consumer claims.

/**
 * The reason each of these deliveries may not be sent, by delivery id; a delivery that may go is
 * absent. A row that is gone (a deleted provider) reads as disabled.
 */
export async function findWithheldReasons(
  shard: D1Database,
  deliveryIds: string[],
): Promise<Map<string, string>> {
  if (deliveryIds.length === 0) return new Map()
  const { results } = await shard
    .prepare(
      `WITH d AS (
         SELECT d.id, d.provider_id, m.service_id, d.channel, d.address
         FROM deliveries AS d JOIN messages AS m ON m.id = d.message_id
         WHERE d.id IN (SELECT value FROM json_each(?1)))
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
    .bind(JSON.stringify(deliveryIds))
    .all<{ id: string; reason: string | null }>()
  return new Map(results.flatMap((r) => (r.reason === null ? [] : [[r.id, r.reason]])))
}
