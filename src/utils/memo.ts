// Per-isolate memory of what is derived from configuration (parsed vars, imported keys): worked
// out once per distinct input, so a changed var or secret is picked up at once.

/**
 * Wraps `compute` so that it runs once per key (`keyOf(arg)`), keeping the values of the `size`
 * keys most recently computed. A call that throws keeps nothing, nor does a promise once it
 * rejects: a fixed secret takes effect without a redeploy.
 */
export function memoize<A, T>(
  keyOf: (arg: A) => string,
  compute: (arg: A) => T,
  size = 1,
): (arg: A) => T {
  const values = new Map<string, T>()
  return function memoized(arg) {
    const key = keyOf(arg)
    if (values.has(key)) return values.get(key) as T
    const value = compute(arg)
    if (values.size >= size) values.delete(values.keys().next().value!)
    values.set(key, value)
    if (value instanceof Promise) {
      value.catch(() => {
        if (values.get(key) === value) values.delete(key)
      })
    }
    return value
  }
}
