// One KV bulk read across the prefixes a hot path needs (a token's entries, a client's record,
// login locks): one round trip, whatever the number of keys (KV takes up to 100; a path here
// needs at most ten). Each prefix's module builds its keys and reads its values from the map.

export async function readEdgeState(kv: KVNamespace, keys: readonly string[]): Promise<Map<string, unknown>> {
  const unique = [...new Set(keys)]
  if (unique.length === 0) return new Map()
  return kv.get<unknown>(unique, 'json')
}
