// One KV bulk read across the prefixes a hot path needs (a token's entries, a client's record,
// login locks): one round trip, whatever the number of keys (KV takes up to 100; a path here
// needs at most ten). Each prefix's module builds its keys and reads its values from the map.
//
// In front of it, optionally, the isolate's own memory of recent reads (EDGE_MEMORY_MS, at most
// one second): a read whose every key was read within that window answers without KV. It is
// bounded in entries and bytes, and forgotten at once when this isolate changes any edge state
// (a revocation, an admin change, a login lock); a read that started before such a change is not
// remembered. Other isolates of the location see a change up to that window later (SECURITY.md).

/** The longest an entry is remembered, whatever the configuration says. */
export const MEMORY_MAX_MS = 1000
export const MEMORY_MAX_ENTRIES = 2048
export const MEMORY_MAX_BYTES = 4 * 1024 * 1024

type Remembered = { value: unknown; until: number; bytes: number }

const memory = new Map<string, Remembered>()
let memoryBytes = 0
/** Bumped by every local change: a read that started before it is not remembered. */
let generation = 0

export async function readEdgeState(
  kv: KVNamespace,
  keys: readonly string[],
  memoryMs = 0,
): Promise<Map<string, unknown>> {
  const unique = [...new Set(keys)]
  if (unique.length === 0) return new Map()
  const window = Math.min(Math.max(memoryMs, 0), MEMORY_MAX_MS)
  if (window > 0) {
    const hit = recall(unique, Date.now())
    if (hit) return hit
  }
  const started = generation
  const values = await kv.get<unknown>(unique, 'json')
  if (window > 0 && started === generation) remember(values, Date.now() + window)
  return values
}

/** Every key's remembered value while all are fresh, else null (then KV is read for all). */
function recall(keys: string[], now: number): Map<string, unknown> | null {
  const values = new Map<string, unknown>()
  for (const key of keys) {
    const entry = memory.get(key)
    if (!entry || entry.until <= now) return null
    values.set(key, entry.value)
  }
  return values
}

function remember(values: Map<string, unknown>, until: number): void {
  for (const [key, value] of values) {
    const bytes = key.length + (value === null ? 4 : JSON.stringify(value).length)
    // Bounded the simplest way: when full, start over (every entry lives a second at most anyway).
    if (memory.size >= MEMORY_MAX_ENTRIES || memoryBytes + bytes > MEMORY_MAX_BYTES)
      forgetEdgeState()
    memoryBytes += bytes - (memory.get(key)?.bytes ?? 0)
    memory.set(key, { value, until, bytes })
  }
}

/**
 * This isolate changed edge state: forget every remembered read, and do not remember reads that
 * started before now. Called by every storage module that writes a change to KV.
 */
export function forgetEdgeState(): void {
  memory.clear()
  memoryBytes = 0
  generation += 1
}

/**
 * This isolate filled `key` with a value read from D1 (not a change): a remembered read of it,
 * which saw no entry, now sees the fill, so the next request does not read D1 again.
 */
export function rememberFill(key: string, value: unknown): void {
  const entry = memory.get(key)
  if (entry) entry.value = value
}

/** How many reads are remembered now (for tests of the bounds). */
export function rememberedEntries(): number {
  return memory.size
}
